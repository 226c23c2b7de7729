"""A whole smoke DAG run with a hosted-captioner API key in its environment writes the key nowhere.

`second_smoke_repo` ran `dvc repro` with GEMINI_API_KEY set to a fake key (conftest). Every file
of that copy is scanned (rendered notebooks .ipynb and .html, dvc.lock, data/, the DVC cache,
timings, metrics, tables, figures), and so is the run's log, which lies beside the copy.
"""

import pytest

from e2e.repo_copy import FAKE_SECRET
from reliability.secret_scan import scan_for_secret

pytestmark = [pytest.mark.e2e, pytest.mark.second_clean_run]


def test_fake_api_key_appears_in_no_file_the_run_wrote(second_smoke_repo):
    files = [p for p in second_smoke_repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(second_smoke_repo).parts]
    names = {str(p.relative_to(second_smoke_repo)) for p in files}
    # The places a key would most likely leak to must be among the scanned files.
    assert "dvc.lock" in names
    assert any(n.startswith("reports/notebooks/") and n.endswith(".ipynb") for n in names)
    assert any(n.startswith("reports/notebooks/") and n.endswith(".html") for n in names)
    assert any(n.startswith("data/") for n in names)
    log = second_smoke_repo.parent / "repro.log"
    assert log.stat().st_size > 0
    assert scan_for_secret([*files, log], FAKE_SECRET) == []
