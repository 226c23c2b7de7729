"""The base autoencoder feeds the fine-tunes: `train_vae` from an Oobleck-format base (0 steps:
exported as it is), then from our export of it, as the `vae` stage's plain / semantic / control
variants chain them; and `make base-vae`'s pipeline writes a base the stage can load."""

import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from s2accompanist.models.oobleck_import import to_oobleck_state_dict
from s2accompanist.models.vae import VAE, VAEConfig, load_vae
from s2accompanist.training.vae import VAETrainingWrapper
from s2accompanist.training.vae_stage import train_vae, vae_config_from_params

VAE_PARAMS = {"channels": 4, "c_mults": [1, 2], "strides": [2, 4], "latent_dim": 4, "segment_s": 0.15, "batch_size": 2,
              "lr": 1e-3, "kl_weight": 1e-4, "waveform_weight": 1.0, "adversarial": False, "ema_decay": 0.0,
              "distill": {"melody": 0.1, "chord": 0.1, "beat": 0.05}}
TRAINER = {"accelerator": "cpu", "devices": 1, "num_nodes": 1, "strategy": "auto", "precision": "32-true",
           "accumulate_grad_batches": 1, "gradient_clip_val": 1.0, "num_threads": 1}
RATE = 16000


def tracks(n=2, seconds=0.5):
    rng = np.random.default_rng(0)
    hop = math.prod(VAE_PARAMS["strides"])
    frames = int(seconds * RATE) // hop
    return [(f"t{i}", (0.1 * rng.standard_normal((1, frames * hop))).astype(np.float32), {}) for i in range(n)]


@pytest.fixture
def base_file(tmp_path):
    torch.manual_seed(7)
    base = VAE(VAEConfig.from_dict(vae_config_from_params(VAE_PARAMS, RATE, 1)))
    path = tmp_path / "base.safetensors"
    save_file(to_oobleck_state_dict(base), str(path))
    return path, base


def test_zero_base_steps_export_the_pretrained_base_as_it_is(tmp_path, base_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, base = base_file
    out = tmp_path / "vae-plain.safetensors"
    model, curve, heads = train_vae(VAE_PARAMS, TRAINER, False, tracks(), tracks(1), RATE, 1, 0, out, tmp_path / "curve.csv",
                             steps=0, pretrained=str(path))
    assert curve == [] and heads is None
    for key, value in base.state_dict().items():
        assert torch.equal(load_vae(out).state_dict()[key], value), key


def test_fine_tunes_start_from_the_base_and_move_away_from_it(tmp_path, base_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, base = base_file
    plain = tmp_path / "vae-plain.safetensors"
    train_vae(VAE_PARAMS, TRAINER, False, tracks(), tracks(1), RATE, 1, 0, plain, tmp_path / "plain.csv", steps=0, pretrained=str(path))
    config = vae_config_from_params(VAE_PARAMS, RATE, 1)
    start = VAETrainingWrapper(config, init_checkpoint=str(plain)).vae.state_dict()
    assert all(torch.equal(start[k], v) for k, v in base.state_dict().items())
    tuned, curve, _ = train_vae(VAE_PARAMS, TRAINER, False, tracks(), tracks(1), RATE, 1, 0, tmp_path / "vae-control.safetensors",
                             tmp_path / "control.csv", steps=3, init_checkpoint=str(plain))
    assert curve and not all(torch.equal(tuned.state_dict()[k], v) for k, v in base.state_dict().items())
    assert load_vae(tmp_path / "vae-control.safetensors").config == VAEConfig.from_dict(config)


def test_a_base_of_another_shape_or_no_base_at_all_is_refused(tmp_path, base_file):
    path, _ = base_file
    with pytest.raises(ValueError, match="random VAE"):
        train_vae(VAE_PARAMS, TRAINER, False, tracks(), tracks(1), RATE, 1, 0, tmp_path / "x.safetensors", tmp_path / "c.csv", steps=0)
    wider = {**VAE_PARAMS, "channels": 8}
    with pytest.raises(ValueError, match="shape"):
        train_vae(wider, TRAINER, False, tracks(), tracks(1), RATE, 1, 0, tmp_path / "x.safetensors", tmp_path / "c.csv",
                  steps=0, pretrained=str(path))
    with pytest.raises(FileNotFoundError, match="vae.pretrained"):
        train_vae(VAE_PARAMS, TRAINER, False, tracks(), tracks(1), RATE, 1, 0, tmp_path / "x.safetensors", tmp_path / "c.csv",
                  steps=0, pretrained=str(tmp_path / "missing.safetensors"))


def test_adversarial_fine_tuning_runs_with_the_trainers_gradient_clipping(tmp_path, base_file, monkeypatch):
    # Lightning refuses gradient_clip_val under manual optimisation; the wrapper clips instead.
    monkeypatch.chdir(tmp_path)
    path, base = base_file
    adversarial = {**VAE_PARAMS, "adversarial": True}
    tuned, curve, _ = train_vae(adversarial, {**TRAINER, "gradient_clip_val": 1.0}, False, tracks(), tracks(1), RATE, 1, 0,
                                tmp_path / "vae.safetensors", tmp_path / "c.csv", steps=2, pretrained=str(path))
    assert not all(torch.equal(tuned.state_dict()[k], v) for k, v in base.state_dict().items())
