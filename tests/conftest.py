"""Shared test setup: run from the repository root, offline, on few threads."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# numba keeps librosa's JIT cache beside librosa's own files; two test processes (`make test` runs
# two) compiling the same function at once leave a cache file that segfaults beat tracking when
# loaded. One cache folder per test process (and the DAG runs it starts), set before numba loads.
# The folder is made here, and removed when this test process ends, only when this process chose it.
if "NUMBA_CACHE_DIR" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="s2accompanist-numba-")
    atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)


@pytest.fixture
def repo_root(monkeypatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    # Tiny models on a 2-core machine: one thread is several times faster than two contending ones.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_dvc_project(tmp_path):
    """A two-stage DVC project in git, run once: `make` (cached out.txt) then `copy` (copy.txt, kept in git)."""
    dvc = str(Path(sys.executable).with_name("dvc"))
    root = tmp_path / "project"
    root.mkdir()
    (root / "params.yaml").write_text("n: 3\n")
    (root / "code.py").write_text("print('v1')\n")
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"make": {
        "cmd": f"{sys.executable} code.py > out.txt", "deps": ["code.py"], "params": ["n"], "outs": ["out.txt"]},
        "copy": {"cmd": "cp out.txt copy.txt", "deps": ["out.txt"], "outs": [{"copy.txt": {"cache": False}}]}}}))
    for command in (["git", "init", "-q"], [dvc, "init", "-q"], [dvc, "repro", "-q"]):
        subprocess.run(command, cwd=root, check=True, capture_output=True)
    return root
