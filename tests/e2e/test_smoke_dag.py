"""The whole DAG on the smoke profile, in a temporary copy of the repository."""

import json

import pytest
import yaml

from e2e.repo_copy import run

pytestmark = pytest.mark.e2e


def test_every_stage_renders_its_notebook_and_metrics(smoke_repo):
    stages = yaml.safe_load((smoke_repo / "dvc.lock").read_text())["stages"]
    assert len(stages) >= 20, sorted(stages)
    rendered = sorted(p.name for p in (smoke_repo / "reports/notebooks").glob("*.html"))
    assert len(rendered) == len(stages)
    for metrics in (smoke_repo / "reports/metrics").glob("*.json"):
        assert json.loads(metrics.read_text()), f"{metrics.name} is empty"


def test_reports_come_back(smoke_repo):
    for table in ("attm", "ablations"):
        for suffix in ("md", "csv", "tex"):
            assert (smoke_repo / f"reports/tables/{table}.{suffix}").stat().st_size > 0
    assert (smoke_repo / "reports/index.html").is_file()
    assert list((smoke_repo / "reports/figures").glob("*.png"))


def test_second_repro_does_nothing(smoke_repo):
    status = run(["dvc", "status"], smoke_repo).stdout
    assert "up to date" in status, status
    again = run(["dvc", "repro"], smoke_repo).stdout
    assert "Running stage" not in again, again
