"""Interrupted writes leave the previous file (or no file), never a half-written one under the final name.

Every output writer goes through `s2accompanist.io.atomic_path`. Two kinds of interruption are
tried on each writer (`atomic_path` itself, `write_json`, `write_parquet`, `write_audio`,
`save_checkpoint`): an exception raised midway, after which no temporary file may remain; and a
SIGKILL of a child process stopped partway through its write, after which a hidden temporary may
remain (nothing runs after SIGKILL) but the final name still holds the previous, complete
content. A reader polling the final name while a child rewrites a large file sees only whole files.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from atomic_children import READY, SUFFIX, read_version, write
from s2accompanist.audio import load_audio
from s2accompanist.checkpoints import save_checkpoint
from s2accompanist.io import atomic_path, write_json, write_parquet

CHILD = Path(__file__).with_name("atomic_children.py")
KINDS = list(SUFFIX)


def _others(folder: Path, target: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != target)


# --- an exception midway ----------------------------------------------------------------------------


class Interrupted(Exception):
    pass


def _half_then_raise(real):
    """Wrap a library writer: it writes its whole file, the file is cut to half, then it raises."""

    def writer(*args, **kwargs):
        target = Path(next(a for a in [*args, *kwargs.values()] if isinstance(a, (str, os.PathLike))))
        real(*args, **kwargs)
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
        raise Interrupted("interrupted midway")

    return writer


def _break_library_writer(kind, monkeypatch):
    import s2accompanist.audio as audio_module
    import s2accompanist.checkpoints as checkpoints_module

    if kind == "json":
        monkeypatch.setattr(Path, "write_text", _half_then_raise(Path.write_text))
    elif kind == "parquet":
        real = pd.DataFrame.to_parquet
        monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda self, p, **kw: _half_then_raise(real)(self, p, **kw))
    elif kind == "audio":
        monkeypatch.setattr(audio_module.sf, "write", _half_then_raise(sf.write))
    elif kind == "checkpoint":
        real = checkpoints_module.save_file
        monkeypatch.setattr(checkpoints_module, "save_file",
                            lambda t, p, metadata=None: _half_then_raise(real)(t, p, metadata=metadata))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("existed", [True, False], ids=["over_previous", "new_file"])
def test_an_exception_midway_keeps_the_previous_file_and_no_temporary(kind, existed, tmp_path, monkeypatch):
    target = tmp_path / f"out{SUFFIX[kind]}"
    if existed:
        write(kind, target, 1, 4096)
    with monkeypatch.context() as patch:
        _break_library_writer(kind, patch)
        with pytest.raises(Interrupted):
            if kind == "atomic_path":
                with atomic_path(target) as tmp:
                    tmp.write_bytes(b"\x09" * 100)
                    raise Interrupted("interrupted midway")
            write(kind, target, 9, 4096)
    if existed:
        assert read_version(kind, target) == 1
    else:
        assert not target.exists()
    assert _others(tmp_path, target) == []


def test_the_writers_own_failures_and_ctrl_c_leave_no_temporary(tmp_path):
    """Failures the writers raise themselves (not injected), and a KeyboardInterrupt."""
    checkpoint = tmp_path / "model.safetensors"
    save_checkpoint(checkpoint, {"w": torch.ones(3)}, {"version": 1})
    with pytest.raises(TypeError):
        save_checkpoint(checkpoint, {"w": torch.zeros(3)}, {"version": object()})  # config is not JSON
    table = tmp_path / "table.parquet"
    write_parquet(table, pd.DataFrame({"version": [1, 1]}))
    with pytest.raises(Exception):
        write_parquet(table, pd.DataFrame({"version": [2, "two", object()]}))  # no single Arrow type
    metrics = tmp_path / "metrics.json"
    write_json(metrics, {"version": 1, "size": 0, "payload": ""})
    with pytest.raises(TypeError):
        write_json(metrics, {"version": 2, "payload": [object()]})
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "raw.bin") as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert read_version("checkpoint", checkpoint) == 1
    assert pd.read_parquet(table)["version"].tolist() == [1, 1]
    assert read_version("json", metrics) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.safetensors", "table.parquet"]


# --- SIGKILL of a writing process -------------------------------------------------------------------


def _kill_when_blocked(kind: str, target: Path, size: int, mode: str) -> None:
    """Start a child that writes version 1, then stops partway through version 2; SIGKILL it there."""
    child = subprocess.Popen([sys.executable, str(CHILD), "block", kind, str(target), str(size), mode],
                             cwd=target.parent, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().strip()
        assert line == READY, f"the child did not stop partway ({line!r}, exit code {child.poll()})"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()


@pytest.mark.parametrize("mode", ["mid_write", "before_rename"])
@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_partway_keeps_the_previous_complete_file(kind, mode, tmp_path):
    target = tmp_path / f"out{SUFFIX[kind]}"
    _kill_when_blocked(kind, target, 1 << 20, mode)
    assert read_version(kind, target) == 1
    # The temporary stays behind, hidden, under a name no reader (or DVC out) takes for the output.
    leftovers = _others(tmp_path, target)
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{target.name}.") and ".tmp" in leftovers[0], leftovers


@pytest.mark.parametrize("kind", ["checkpoint", "parquet"])
def test_a_reader_only_ever_sees_whole_files(kind, tmp_path):
    """While a child rewrites an 8 MiB file again and again, every read of the final name is whole
    and self-consistent; the child is then killed wherever it is and the file is still whole."""
    target = tmp_path / f"out{SUFFIX[kind]}"
    versions = 12
    child = subprocess.Popen([sys.executable, str(CHILD), "rewrite", kind, str(target), str(8 << 20), str(versions)],
                             cwd=tmp_path)
    seen = set()
    try:
        while child.poll() is None and len(seen) < versions // 2:
            if target.exists():
                seen.add(read_version(kind, target))
            time.sleep(0.002)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert len(seen) >= 2, f"the reader saw too few versions to mean anything: {seen}"
    assert 1 <= read_version(kind, target) <= versions
    # Leftovers of the killed writer are hidden: ours (".out.<...>.tmp") and, for checkpoints,
    # safetensors' own ".tmpXXXX", which it writes before renaming onto our temporary name.
    leftovers = _others(tmp_path, target)
    assert all(name.startswith(f".{target.name}.") or name.startswith(".tmp") for name in leftovers), leftovers


def test_load_audio_after_a_killed_rewrite_decodes_the_previous_take(tmp_path):
    """The consumer's view: after a killed rewrite, `load_audio` decodes the earlier file in full."""
    target = tmp_path / "out.wav"
    _kill_when_blocked("audio", target, 1 << 20, "mid_write")
    audio = load_audio(target, 16000, 2)
    assert audio.shape == (2, (1 << 20) // 4) and np.allclose(audio, 0.01, atol=1e-4)
