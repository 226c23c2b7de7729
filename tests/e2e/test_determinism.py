"""Two clean smoke runs in separate copies give the same metrics and bit-identical data outputs.

The second run has a fake hosted-captioner key in its environment (see conftest), so this also
shows that the key changes no result. Timings (reports/timings/) and executed notebooks
(reports/notebooks/) are separate outputs, never part of a metrics file; they are the only
outputs allowed to differ (run_outputs.VOLATILE says why). The comparison is written for the
reliability report when S2ACC_RELIABILITY_OUT is set.
"""

import pytest

from e2e.run_outputs import VOLATILE, compare_outputs, metrics, unexpected_differences, write_finding

pytestmark = pytest.mark.e2e

# Words that would mean a metrics file carries a run's timing, which would differ on every run.
TIMING_WORDS = ("wall", "elapsed", "seconds_taken", "duration_run", "timestamp", "started", "finished", "peak_rss")


def keys_of(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield f"{prefix}{key}"
            yield from keys_of(value, f"{prefix}{key}.")


# `make test` leaves this out (a whole extra DAG run); the kill test there still compares every output of a
# killed-and-resumed run with the clean run, bit for bit. `make reliability` runs it.
@pytest.mark.second_clean_run
def test_two_clean_runs_give_identical_metrics_and_data(smoke_repo, second_smoke_repo):
    first, second = metrics(smoke_repo), metrics(second_smoke_repo)
    rows = compare_outputs(smoke_repo, second_smoke_repo)
    differing_metrics = sorted(name for name in set(first) | set(second) if first.get(name) != second.get(name))
    write_finding("determinism", {"outputs": rows, "metrics_files": sorted(first), "differing_metrics": differing_metrics,
                                  "volatile": VOLATILE})
    assert first, "the smoke run wrote no metrics"
    assert not differing_metrics, {name: (first.get(name), second.get(name)) for name in differing_metrics}
    assert not unexpected_differences(rows), unexpected_differences(rows)
    data_outputs = [r for r in rows if str(r["output"]).startswith("data/")]
    assert data_outputs and all(r["identical"] for r in data_outputs)


def test_metrics_files_hold_no_timings(smoke_repo):
    timing_keys = [f"{name}: {key}" for name, tree in metrics(smoke_repo).items() for key in keys_of(tree)
                   if any(word in key.lower() for word in TIMING_WORDS)]
    assert not timing_keys, f"timing fields inside metrics files (move them to reports/timings/): {timing_keys}"
