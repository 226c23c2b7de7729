"""`make base-dit` and `dit.pretrained`: the base DiT pipeline writes a DiT the pretraining stage
starts from, every variant takes the tensors it shares with it, and a wrong file is a clear error."""

import json
import shutil

import pytest
import torch

from s2accompanist.checkpoints import CheckpointError, file_sha256, load_checkpoint
from s2accompanist.models.dit import load_dit
from s2accompanist.training.base_dit import main
from s2accompanist.training.dit import DiTTrainingWrapper
from s2accompanist.training.dit_stage import load_base_dit

TINY = dict(latent_dim=4, width=32, depth=2, heads=4, text_dim=8, max_frames=64, rhythm=True, key=True)


def base_file(tmp_path, structure: bool = True, **changes) -> tuple[torch.nn.Module, object]:
    torch.manual_seed(1)
    wrapper = DiTTrainingWrapper({**TINY, "structure": structure, **changes}, warmup_steps=1, total_steps=2)
    path = wrapper.export(tmp_path / "dit-base.safetensors")
    return wrapper, path


def test_a_short_base_run_writes_a_loadable_dit_and_its_report(repo_root, tmp_path, monkeypatch):
    shutil.copy(repo_root / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "data" / "base").mkdir(parents=True)
    shutil.copy(repo_root / "data" / "base" / "vae-base.safetensors", tmp_path / "data" / "base")  # vae.pretrained
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "base" / "dit-base.safetensors"
    assert main(["--songs", "4", "--steps", "2", "--threads", "1", "--workdir", str(tmp_path / "work"),
                 "--corpus-dir", str(tmp_path / "corpus"), "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["sha256"] == file_sha256(out, length=64)
    assert report["training"]["steps"] == 2 and report["corpus"]["songs"] == 4 and report["architecture"]["structure"]
    assert load_dit(out).config.structure  # through the loader sampling uses
    assert load_checkpoint(out)[1]["latent_std"] > 0


def test_every_variant_takes_the_tensors_it_shares_with_the_base(tmp_path):
    base, path = base_file(tmp_path)
    for structure in (True, False):
        torch.manual_seed(2)
        wrapper = DiTTrainingWrapper({**TINY, "structure": structure}, warmup_steps=1, total_steps=2)
        loaded = load_base_dit(wrapper, path, wrapper.config.to_dict())
        own = wrapper.model.state_dict()
        assert loaded["tensors_from_base"] == loaded["tensors"] == len(own)
        assert (len(own) == len(base.model.state_dict())) == structure  # no_structure leaves the structure modules behind
        for key, value in own.items():
            assert torch.equal(value, base.ema.shadow.state_dict()[key])
            assert torch.equal(wrapper.ema.shadow.state_dict()[key], value)


def test_a_base_of_another_architecture_or_a_missing_one_is_a_clear_error(tmp_path):
    _, path = base_file(tmp_path, width=64)
    wrapper = DiTTrainingWrapper({**TINY, "structure": True}, warmup_steps=1, total_steps=2)
    with pytest.raises(CheckpointError, match=r"dit.pretrained.*width: 64 there, 32 here.*make base-dit"):
        load_base_dit(wrapper, path, wrapper.config.to_dict())
    with pytest.raises(CheckpointError, match=r"dit.pretrained.*does not exist.*make base-dit"):
        load_base_dit(wrapper, tmp_path / "missing.safetensors", wrapper.config.to_dict())
