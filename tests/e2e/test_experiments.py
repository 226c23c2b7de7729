"""`dvc exp run -S key=value` on a reproduced smoke copy: only the stages that read the key rerun,
and `dvc exp show` lists the experiment's params and metrics (the README's ablation walk-through)."""

import json
import shutil
import subprocess

import pytest

from e2e.repo_copy import run, run_env

pytestmark = pytest.mark.e2e


def _commit_everything(repo):
    # DVC experiments are built on a git commit; the copy has none of its own yet.
    for command in (["git", "add", "-A"], ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
                                          "commit", "-q", "-m", "smoke baseline"]):
        subprocess.run(command, cwd=repo, env=run_env(), check=True, capture_output=True)


def test_an_experiment_on_one_key_reruns_its_stages_and_is_listed_with_metrics(smoke_repo, tmp_path):
    repo = shutil.copytree(smoke_repo, tmp_path / "repo", symlinks=True)
    _commit_everything(repo)
    # A key only the last stages read keeps the test short (the guidance sweep's intervals use it too);
    # any key works the same way.
    result = run(["dvc", "exp", "run", "-n", "fewer-resamples", "-S", "evaluate.n_bootstrap=60"], repo, timeout=1200)
    reran = {line.split("'")[1] for line in result.stdout.splitlines() if line.startswith("Running stage")}
    assert reran == {"guidance", "evaluate", "report"}, reran

    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    experiments = [exp for commit in shown for exp in (commit.get("experiments") or [])]
    ours = [run_["data"] for exp in experiments for run_ in exp.get("revs", []) if exp.get("name") == "fewer-resamples"]
    assert ours, f"the experiment is not listed: {[exp.get('name') for exp in experiments]}"
    params = ours[0]["params"]["params.yaml"]["data"]
    assert params["evaluate"]["n_bootstrap"] == 60
    metrics = ours[0]["metrics"]
    assert "reports/metrics/evaluate.json" in metrics and metrics["reports/metrics/evaluate.json"]["data"]["systems"]
    # The committed run is the baseline row beside it, with its own metrics (they live in git).
    baseline = next(commit for commit in shown if commit.get("rev") != "workspace" and commit.get("experiments"))
    baseline_metrics = baseline["data"]["metrics"]
    assert baseline_metrics["reports/metrics/evaluate.json"]["data"]["systems"], "the baseline row lacks the committed metrics"
