import pytest
import torch

from s2accompanist.checkpoints import CheckpointError, file_sha256, load_checkpoint, save_checkpoint


def test_round_trip_carries_the_config(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", {"w": torch.arange(6.0).reshape(2, 3)}, {"width": 3, "name": "m"})
    state, config = load_checkpoint(path)
    assert torch.equal(state["w"], torch.arange(6.0).reshape(2, 3)) and config == {"width": 3, "name": "m"}
    assert len(file_sha256(path)) == 16


def test_missing_truncated_and_foreign_files_name_the_param_and_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"generate.dit: checkpoint file .*absent.*does not exist; it comes from an s2accompanist training stage"):
        load_checkpoint(tmp_path / "absent.safetensors", "generate.dit")
    path = save_checkpoint(tmp_path / "m.safetensors", {"w": torch.ones(1000)}, {"a": 1})
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="cut.safetensors is not a readable safetensors"):
        load_checkpoint(truncated)
    pickled = tmp_path / "pickle.safetensors"
    torch.save({"w": torch.ones(2)}, pickled)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(pickled)


def test_a_safetensors_file_without_our_config_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="no 's2accompanist_config' metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")
