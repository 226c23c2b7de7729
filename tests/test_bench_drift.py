"""bench/drift.py: the largest move of each metric over the settings becomes `make compare`'s tolerance."""

import json
import shutil

import pytest

from test_bench_models import REPO, load_bench


def _run(root, si_sdr, melody):
    (root / "reports" / "metrics").mkdir(parents=True)
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    (root / "reports" / "metrics" / "vae-semantic.json").write_text(json.dumps({"si_sdr_db": si_sdr, "probe": {"melody": melody}}))
    return root


def test_the_largest_difference_over_the_settings_is_kept(tmp_path):
    drift = load_bench("drift")
    runs = {"reference": _run(tmp_path / "a", -6.0, 0.40), "1 thread": _run(tmp_path / "b", -5.5, 0.40),
            "AVX2 kernels": _run(tmp_path / "c", -6.25, 0.41)}
    record = drift.summarize(runs, "smoke", ["1 thread", "AVX2 kernels"])
    assert record["max_abs_difference"] == pytest.approx({"vae-semantic:si_sdr_db": 0.5, "vae-semantic:probe.melody": 0.01})
    assert record["abs_difference_by_setting"]["1 thread"]["vae-semantic:probe.melody"] == 0.0
    text = drift.markdown(record)
    assert "| vae-semantic:si_sdr_db | -6 | 0.5 | 0.25 |" in text and "2 of 2 metrics moved" in text
