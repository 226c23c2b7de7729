"""VAETrainingWrapper: a few Lightning steps on CPU, with and without the GAN; export and reload."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from s2accompanist.checkpoints import load_checkpoint
from s2accompanist.models.vae import VAEConfig, load_vae
from s2accompanist.training.vae import EXPORT_KIND, VAETrainingWrapper

CONFIG = VAEConfig(in_channels=1, channels=4, c_mults=(1, 2), strides=(2, 4), latent_dim=4, sample_rate=16000)
SAMPLES = 2048 + 5  # not a multiple of the ratio: the wrapper crops to whole frames
FRAMES = SAMPLES // CONFIG.downsampling_ratio


class TinyLeadsheetAudio(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        return {
            "audio": 0.3 * torch.randn(1, SAMPLES, generator=generator),
            "melody": torch.randint(0, 61, (FRAMES,), generator=generator),
            "chord": torch.randint(0, 85, (FRAMES,), generator=generator),
            "beat": (torch.rand(FRAMES, generator=generator) > 0.8).float(),
            "downbeat": (torch.rand(FRAMES, generator=generator) > 0.95).float(),
        }


def wrapper(**overrides):
    settings = dict(
        vae_config=CONFIG.to_dict(),
        distill_weights={"melody": 1.0, "chord": 1.0, "beat": 0.5},
        head_channels=8,
        stft_fft_sizes=(256, 64),
        discriminator_fft_sizes=(256, 64),
        mel_fft=256,
    )
    return VAETrainingWrapper(**{**settings, **overrides})


def fit(model, max_steps, tmp_path):
    torch.manual_seed(0)
    trainer = L.Trainer(
        max_steps=max_steps, limit_val_batches=1, val_check_interval=2, accelerator="cpu", devices=1,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    loader = DataLoader(TinyLeadsheetAudio(), batch_size=2)
    trainer.fit(model, loader, DataLoader(TinyLeadsheetAudio(), batch_size=2))
    return trainer


@pytest.mark.parametrize("adversarial", [False, True])
def test_fit_a_few_steps_logs_losses_and_moves_weights(tmp_path, adversarial):
    torch.set_num_threads(1)
    model = wrapper(adversarial=adversarial, ema_decay=0.9)
    before = {k: v.clone() for k, v in model.vae.state_dict().items()}
    ema_before = {k: v.clone() for k, v in model.ema.shadow.state_dict().items()}
    # Adversarial: Lightning counts the critic's and the generator's step, so 6 steps = 3 batches.
    trainer = fit(model, 6 if adversarial else 3, tmp_path)
    metrics = trainer.callback_metrics
    expected = {"train/loss", "train/stft", "train/mel", "train/kl", "train/distill_melody", "train/distill_chord", "train/distill_beat", "val/loss"}
    if adversarial:
        expected |= {"train/adversarial", "train/feature_matching", "train/discriminator"}
    assert expected <= set(metrics), sorted(metrics)
    assert all(torch.isfinite(metrics[k]) for k in expected)
    assert trainer.fit_loop.epoch_loop.batch_progress.total.completed == 3
    assert any(not torch.equal(before[k], v) for k, v in model.vae.state_dict().items())
    assert any(not torch.equal(ema_before[k], v) for k, v in model.ema.shadow.state_dict().items())


def test_zero_distill_weights_build_no_heads_and_ema_zero_disables(tmp_path):
    model = wrapper(distill_weights={"melody": 0.0, "chord": 0.0, "beat": 0.0}, ema_decay=0.0)
    assert model.heads is None and model.ema is None
    trainer = fit(model, 2, tmp_path)
    assert not any(k.startswith("train/distill") for k in trainer.callback_metrics)
    with pytest.raises(ValueError, match="unknown distill_weights"):
        wrapper(distill_weights={"tempo": 1.0})


def test_export_round_trip_carries_config_and_ema_weights(tmp_path):
    model = wrapper(ema_decay=0.5)
    fit(model, 2, tmp_path)
    path = model.export(tmp_path / "vae.safetensors")
    state_dict, config = load_checkpoint(path)
    assert config["kind"] == EXPORT_KIND and config["ema"] is True and config["vae"] == CONFIG.to_dict()
    assert not any(k.startswith(("heads", "discriminator")) for k in state_dict)
    loaded = load_vae(path)
    latent = torch.randn(1, CONFIG.latent_dim, 6)
    with torch.no_grad():
        torch.testing.assert_close(loaded.decode(latent), model.ema.shadow.decode(latent), rtol=0, atol=0)
        assert not torch.equal(loaded.decode(latent), model.vae.decode(latent))  # the EMA copy, not the raw weights


def test_lightning_checkpoint_carries_hyperparameters(tmp_path):
    model = wrapper(adversarial=True)
    trainer = fit(model, 2, tmp_path)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    restored = VAETrainingWrapper.load_from_checkpoint(tmp_path / "last.ckpt", weights_only=True)
    assert restored.config == CONFIG and restored.hparams.adversarial is True
    for key, value in model.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[key], value, rtol=0, atol=0)


def test_waveform_weight_adds_a_time_domain_l1_term():
    batch = TinyLeadsheetAudio()[0]
    batch = {k: v[None] for k, v in batch.items()}
    totals = {}
    for weight in (0.0, 3.0):
        model = wrapper(waveform_weight=weight, distill_weights={})
        torch.manual_seed(0)
        model.vae.load_state_dict(wrapper(distill_weights={}).vae.state_dict())
        losses, audio, reconstruction = model._losses(model.vae, batch, sample_posterior=False)
        totals[weight] = losses["loss"]
        expected = (reconstruction - audio).abs().mean()
        assert torch.allclose(losses["waveform"], expected)
    assert torch.allclose(totals[3.0] - totals[0.0], 3.0 * losses["waveform"], atol=1e-5)
