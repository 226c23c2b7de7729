"""Versioned results travel: a run committed and pushed comes back whole in a fresh clone elsewhere.

The smoke run is committed (code, dvc.lock and the `cache: false` results) and its cached outputs
pushed to a DVC remote in a temporary folder (standing in for the committed default remote, which
the test must not touch). A `git clone` in another folder then `dvc pull`s: DVC finds nothing
stale or missing, `dvc repro` runs no stage, the pulled tables point at audio that exists there,
and the comparison with the committed run finds every metric identical.
"""

import json
import shutil
import subprocess

import pandas as pd
import pytest

from e2e.repo_copy import run, run_env
from s2accompanist.reporting.compare import report
from s2accompanist.results import stage_outputs

pytestmark = pytest.mark.e2e

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]


def _use_remote(repo, remote):
    # --local: in .dvc/config.local, which git ignores; the committed default stays as it is.
    run(["dvc", "remote", "modify", "--local", "local", "url", str(remote)], repo)


def test_push_then_pull_in_a_fresh_clone_restores_the_run(smoke_repo, tmp_path):
    repo = shutil.copytree(smoke_repo, tmp_path / "first" / "repo", symlinks=True)
    remote = tmp_path / "remote"
    for command in (["git", "add", "-A"], [*GIT, "commit", "-q", "-m", "smoke run"]):
        subprocess.run(command, cwd=repo, env=run_env(), check=True, capture_output=True)
    assert not subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout.strip(), \
        "every result of the run is either committed or ignored (a DVC-cached output)"
    _use_remote(repo, remote)
    run(["dvc", "push"], repo, timeout=600)

    clone = tmp_path / "elsewhere" / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True, capture_output=True)
    cached = sorted({o.path for o in stage_outputs(clone / "dvc.yaml") if o.cached})
    assert not any((clone / path).exists() for path in cached), "a clone holds no cached output before the pull"
    assert (clone / "reports" / "metrics" / "evaluate.json").is_file(), "the committed results come with the clone"
    _use_remote(clone, remote)
    run(["dvc", "pull"], clone, timeout=600)
    assert all((clone / path).exists() for path in cached), [p for p in cached if not (clone / p).exists()]

    status = run(["dvc", "status", "--json"], clone)
    assert json.loads(status.stdout or "{}") == {}, status.stdout
    repro = run(["dvc", "repro"], clone, timeout=600)
    assert "Running stage" not in repro.stdout, repro.stdout[-3000:]

    # The pulled tables work here: every audio path resolves inside this clone.
    for table, folder in (("data/raw/tracks.parquet", "data/raw"), ("data/curated/segments.parquet", "data/curated")):
        paths = pd.read_parquet(clone / table)["audio_path"]
        assert len(paths) and all((clone / folder / p).resolve().is_file() for p in paths), table
        assert all(str((clone / folder / p).resolve()).startswith(str(clone.resolve())) for p in paths), table

    # The training curves render from the committed CSVs (every plot names a column they have).
    plots = run(["dvc", "plots", "show", "--out", str(tmp_path / "plots")], clone)
    assert "could not find provided field" not in plots.stdout + plots.stderr, plots.stderr
    assert "train/loss" in (tmp_path / "plots" / "index.html").read_text()

    # The comparison command works here, and finds the committed run in its own files.
    text, table = report("HEAD", clone)
    assert len(table) and set(table["verdict"]) == {"identical"}, table[table["verdict"] != "identical"]
