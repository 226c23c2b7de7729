"""The smoke-profile repository copies shared by the end-to-end tests.

`smoke_repo` is one clean `dvc repro` of the smoke profile. `second_smoke_repo` is another, in its
own copy, with a fake hosted-captioner API key in its environment: the determinism test compares
the two and the secrets test scans the second. When a session needs both, both DAGs run at the
same time (most of a smoke run is single-threaded start-up work, so two share 2 cores well).
"""

import os
import signal
from pathlib import Path

import pytest

from e2e.repo_copy import FAKE_SECRET, SECRET_ENV, smoke_copy, start_repro, wait_repro


def _needs(request, fixture: str) -> bool:
    return any(fixture in getattr(item, "fixturenames", ()) for item in request.session.items)


@pytest.fixture(scope="session")
def smoke_runs(request, tmp_path_factory) -> dict[str, Path]:
    copies = {"first": {}}
    if _needs(request, "second_smoke_repo"):
        copies["second"] = {SECRET_ENV: FAKE_SECRET}
    started = {name: start_repro(smoke_copy(tmp_path_factory.mktemp(f"smoke-{name}") / "repo"), env)
               for name, env in copies.items()}
    try:
        return {name: wait_repro(run) for name, run in started.items()}
    finally:
        for run in started.values():  # when one run failed, stop the other
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def smoke_repo(smoke_runs) -> Path:
    return smoke_runs["first"]


@pytest.fixture(scope="session")
def second_smoke_repo(smoke_runs) -> Path:
    return smoke_runs["second"]
