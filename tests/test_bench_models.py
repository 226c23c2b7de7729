"""The VAE and DiT benchmarks of `make bench`: models built from the profiles, peak-memory method, well-formed rows at toy sizes.

Timings are never asserted: they are measurements of whatever machine runs the tests.
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def load_bench(name: str):
    """Import bench/<name>.py the way bench/run.py does (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_vae = load_bench("bench_vae")
bench_dit = load_bench("bench_dit")
support = sys.modules["model_support"]


def check_rows(rows: list[dict]) -> None:
    names = [row["name"] for row in rows]
    assert len(names) == len(set(names)), f"duplicate measurement names: {names}"
    for row in rows:
        assert set(row) == {"name", "value", "unit", "note"}, row
        assert row["unit"] and row["note"], row
        assert float(row["value"]) > 0, row


def test_profile_params_leave_the_working_params_yaml_alone():
    before = (REPO / "params.yaml").read_bytes()
    paper = support.profile_params("paper")
    assert paper.profile == "paper" and paper.dit.width > support.profile_params("default").dit.width
    assert (REPO / "params.yaml").read_bytes() == before


def test_paper_profile_builds_the_paper_models():
    from s2accompanist.models.dit import PAPER_DIT_CONFIG, DiT, DiTConfig
    from s2accompanist.models.vae import PAPER_VAE_CONFIG

    params = support.profile_params("paper")
    assert support.vae_config(params) == PAPER_VAE_CONFIG.to_dict()
    dit, frame_rate, _ = support.dit_config(params)
    assert frame_rate == pytest.approx(PAPER_VAE_CONFIG.frame_rate)
    with torch.device("meta"):  # parameter counts without allocating 1.6 GB
        built, reference = DiT(DiTConfig.from_dict(dit)), DiT(PAPER_DIT_CONFIG)
    assert support.parameters_m(built) == support.parameters_m(reference) == "401.1M"


def test_peak_memory_sees_an_allocation_made_after_the_reset():
    support.reset_peak()
    before = support.resident_mib("VmHWM")
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, written so the pages are resident
    assert support.resident_mib("VmHWM") - before >= 60
    del block


def test_vae_bench_rows_are_well_formed():
    settings = bench_vae.QUICK
    rows = bench_vae.run(settings, threads=1)
    check_rows(rows)
    lengths = settings[0].chunked_lengths_s
    assert len(rows) == 4 + len(lengths) + 1
    assert [r["unit"] for r in rows[:4]] == ["x real time", "MiB", "x real time", "MiB"]
    assert all(r["unit"] == "MiB" for r in rows[4:])


def test_dit_bench_rows_are_well_formed():
    rows = bench_dit.run(bench_dit.QUICK, threads=1, matmul=bench_dit.MATMUL_QUICK)
    check_rows(rows)
    units = [r["unit"] for r in rows]
    assert units == ["GFLOP/s", "latent frames/s", "%", "MiB", "wall s per audio s", "s", "%", "MiB"]
    # Both guidance scales are on in every profile: three DiT passes per velocity, per step.
    steps = bench_dit.QUICK[0].sample_steps
    assert re.search(rf"{steps} euler steps, {3 * steps} DiT forward passes \(3 per velocity", rows[4]["note"]), rows[4]["note"]


@pytest.mark.parametrize("value, shown", [(0.04, "0.0400"), (0.96, "0.960"), (12.345, "12.3"), (250.0, "250"), (4321.0, "4321"), (0.0, "0")])
def test_measurements_keep_three_significant_digits_without_an_exponent(value, shown):
    # A toy run's 0.04 s wall time printed as "0.0" once made a well-formed row look like no measurement.
    assert support.significant(value) == shown
