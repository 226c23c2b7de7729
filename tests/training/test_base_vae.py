"""`make base-vae`: the base autoencoder pipeline writes an Oobleck-format file the vae stage loads, and its report."""

import json
import shutil

from s2accompanist.checkpoints import file_sha256
from s2accompanist.models.oobleck_import import load_oobleck_weights
from s2accompanist.models.vae import VAE, VAEConfig
from s2accompanist.params import load_params
from s2accompanist.training.base_vae import main
from s2accompanist.training.vae_stage import vae_config_from_params


def test_a_short_base_run_writes_a_loadable_base_and_its_report(repo_root, tmp_path, monkeypatch):
    shutil.copy(repo_root / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "base" / "vae-base.safetensors"
    assert main(["--songs", "4", "--steps", "2", "--threads", "1", "--workdir", str(tmp_path / "work"), "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["sha256"] == file_sha256(out, length=64)
    assert report["training"]["steps"] == 2 and report["corpus"]["seed"] != load_params().seed
    assert set(report["held_out_reconstruction"]) == {"mrstft", "mel_l1", "si_sdr_db"}
    params = load_params()
    config = VAEConfig.from_dict(vae_config_from_params(params.vae.model_dump(), params.audio.sample_rate, params.audio.channels))
    load_oobleck_weights(VAE(config), out)  # through the loader vae.pretrained uses
