"""Copies of the repository for end-to-end runs, and running `dvc repro` in them.

A copy holds what git would give a fresh clone (tracked and untracked-but-not-ignored files),
less the results of a run (`dvc.lock`, the `cache: false` outputs, the .gitignore files DVC writes):
the repository commits its last default run, and a working tree may hold a newer one, but a test
run must start from code and params alone. So a run never touches the working tree and never sees
its data/ or reports/.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from s2accompanist.results import is_run_result, stage_outputs

REPO = Path(__file__).resolve().parents[2]
# The hosted captioner's key variable, and a fake key a secrets scan can look for. Drawn per
# session, so that no source file copied into a repository copy contains it.
SECRET_ENV = "GEMINI_API_KEY"
FAKE_SECRET = f"AIzaFAKE-e2e-{secrets.token_hex(12)}"


def clone_worktree(destination: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout.split("\0")
    outputs = stage_outputs(REPO / "dvc.yaml")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file() and not is_run_result(name, outputs):
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    return destination


def run_env(repo: Path | None = None) -> dict:
    """The environment of a run in `repo`: the venv's tools, offline, and the copy's own package.

    The venv holds an editable install of the working tree, so without PYTHONPATH a stage would
    import the working tree's code (which may be mid-edit) instead of the copy's."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    if repo is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(repo).resolve() / "src"), env.get("PYTHONPATH")]))
    env.update(DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def run(command: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=run_env(cwd), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def smoke_copy(destination: Path) -> Path:
    """A fresh copy switched to the smoke profile."""
    repo = clone_worktree(destination)
    run([sys.executable, "-m", "s2accompanist.profiles", "smoke"], repo)
    return repo


@dataclass
class ReproRun:
    repo: Path
    log: Path
    process: subprocess.Popen


def start_repro(repo: Path, extra_env: dict[str, str] | None = None) -> ReproRun:
    """`dvc repro` in the background, its output in `<copy>/../repro.log` (outside the copy)."""
    log = repo.parent / "repro.log"
    with log.open("w") as handle:
        process = subprocess.Popen(["dvc", "repro"], cwd=repo, env={**run_env(repo), **(extra_env or {})},
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    return ReproRun(repo, log, process)


def wait_repro(started: ReproRun, timeout: int = 1800) -> Path:
    try:
        code = started.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(started.process.pid, signal.SIGKILL)
        raise
    if code != 0:
        raise AssertionError(f"dvc repro in {started.repo} failed ({code}):\n{started.log.read_text()[-6000:]}")
    return started.repo

