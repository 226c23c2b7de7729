"""The stage runner refuses to start on broken params, and names the problem."""

import subprocess
import sys

import yaml

from e2e.repo_copy import clone_worktree, run_env


def test_broken_params_stop_a_stage_before_any_work(tmp_path):
    repo = clone_worktree(tmp_path / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["corpus"]["n_songs"] = -5
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, "-m", "s2accompanist.stage", "corpus"], cwd=repo, env=run_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "'corpus.n_songs' = -5" in result.stderr and "greater than or equal to 3" in result.stderr
    # data/ holds only what git carries (the versioned base components and judge), no stage output.
    assert {p.name for p in (repo / "data").iterdir()} <= {"base", "judge"} and not (repo / "reports" / "notebooks").exists()
    assert not (repo / "reports" / "metrics").exists() and not (repo / "reports" / "timings").exists()


def test_unknown_stage_and_variant_are_named(tmp_path):
    repo = clone_worktree(tmp_path / "repo")
    for args, expected in ((["nosuch"], "nosuch"), (["vae", "--variant", "huge"], "has variants plain, semantic, control")):
        result = subprocess.run([sys.executable, "-m", "s2accompanist.stage", *args], cwd=repo, env=run_env(),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
