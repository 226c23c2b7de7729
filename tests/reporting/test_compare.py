"""`make compare`: a run's metrics against the committed run's, with the measured drift as tolerance."""

import json
import shutil
import subprocess

import pytest

from s2accompanist.reporting.compare import classify, comparison, flatten, report

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]


def test_flatten_keeps_numbers_only():
    tree = {"a": 1, "b": {"c": 0.5, "d": "text", "e": True}, "f": [2, {"g": 3.0}], "h": None}
    assert flatten(tree) == {"a": 1.0, "b.c": 0.5, "f.0": 2.0, "f.1.g": 3.0}


@pytest.mark.parametrize("ours, theirs, drift, verdict", [
    (0.4321, 0.4321, None, "identical"),
    (0.4321, 0.43210000004, None, "identical"),  # printing noise below 6 significant digits
    (0.4321, 0.44, 0.01, "within drift"),
    (0.4321, 0.45, 0.01, "differs"),
    (0.4321, 0.44, None, "differs"),  # no drift measured: any real difference counts
    (None, 0.44, 0.01, "only in this run"),
    (0.4321, None, 0.01, "only in the committed run"),
    (float("nan"), float("nan"), None, "identical"),
])
def test_classify(ours, theirs, drift, verdict):
    assert classify(ours, theirs, drift) == verdict


def test_comparison_lists_every_metric_of_either_run():
    table = comparison({"m:a": 1.0, "m:b": 2.0}, {"m:a": 1.0, "m:c": 3.0}, {"m:a": 0.1})
    assert list(table["metric"]) == ["m:a", "m:b", "m:c"]
    assert list(table["verdict"]) == ["identical", "only in the committed run", "only in this run"]


def test_report_reads_the_committed_run_from_git_and_this_run_from_the_tree(repo_root, tmp_path):
    root = tmp_path / "clone"
    (root / "reports" / "metrics").mkdir(parents=True)
    (root / "reports" / "timings").mkdir(parents=True)
    shutil.copy(repo_root / "dvc.yaml", root / "dvc.yaml")
    metrics = root / "reports" / "metrics" / "vae-semantic.json"
    timings = root / "reports" / "timings" / "13_report.json"
    metrics.write_text(json.dumps({"si_sdr_db": -6.1, "probe": {"melody": 0.408, "chord": 0.05}}))
    timings.write_text(json.dumps({"commit": "abc", "profile": "default", "machine": {"cpu": "AMD EPYC", "isa": ["avx2", "avx512f"]}}))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "run"], cwd=root, check=True)
    # A reviewer's run on another machine: one metric moved within the drift, one beyond it.
    metrics.write_text(json.dumps({"si_sdr_db": -1.8, "probe": {"melody": 0.41, "chord": 0.05}}))
    timings.write_text(json.dumps({"commit": "abc", "profile": "default", "machine": {"cpu": "Intel Xeon", "isa": ["avx2"]}}))
    (root / "reports" / "drift.json").write_text(json.dumps({"profile": "smoke", "max_abs_difference": {"vae-semantic:probe.melody": 0.01,
                                                                                     "vae-semantic:si_sdr_db": 1.0}}))
    text, table = report("HEAD", root)
    verdicts = dict(zip(table["metric"], table["verdict"]))
    assert verdicts == {"vae-semantic:probe.chord": "identical", "vae-semantic:probe.melody": "within drift",
                        "vae-semantic:si_sdr_db": "differs"}
    assert "Reproduced: 2 of 3 metrics" in text
    assert "AMD EPYC" in text and "Intel Xeon" in text and "avx2, avx512f" in text
    assert "on the smoke profile; this run is default, so that tolerance is only indicative" in text


def test_a_revision_without_results_or_a_checkout_without_a_run_is_refused(repo_root, tmp_path):
    root = tmp_path / "clone"
    (root / "reports" / "metrics").mkdir(parents=True)
    shutil.copy(repo_root / "dvc.yaml", root / "dvc.yaml")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "code only"], cwd=root, check=True)
    with pytest.raises(FileNotFoundError, match="HEAD holds no committed run"):
        report("HEAD", root)
    (root / "reports" / "metrics" / "corpus.json").write_text(json.dumps({"tracks": 3}))
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "a run"], cwd=root, check=True)
    (root / "reports" / "metrics" / "corpus.json").unlink()
    with pytest.raises(FileNotFoundError, match="run `make repro` first"):
        report("HEAD", root)
