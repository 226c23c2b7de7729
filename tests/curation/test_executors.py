"""The local pool and Ray run the same per-track function and give the same tables as a serial run."""

import operator

import pandas as pd
import pytest
from tiny_curation import CURATE, SR, write_corpus, write_refclap

from s2accompanist.curation.executors import run_items
from s2accompanist.curation.pipeline import build_backends, curate_corpus


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    root = tmp_path_factory.mktemp("executors")
    raw_dir = root / "raw"
    raw_dir.mkdir()
    refclap = str(write_refclap(root / "refclap.safetensors"))
    return raw_dir, write_corpus(raw_dir), refclap, build_backends(CURATE, refclap)


def curate_with(stage, out_dir, **executor):
    raw_dir, tracks, refclap, backends = stage
    curate_corpus(tracks, raw_dir, out_dir, CURATE, backends, SR, 1, refclap_checkpoint=refclap, **executor)
    return pd.read_parquet(out_dir / "segments.parquet"), pd.read_parquet(out_dir / "rejects.parquet")


@pytest.fixture(scope="module")
def serial(stage, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("serial")
    segments, rejects = curate_with(stage, out_dir)
    assert segments["track_id"].unique().tolist() == ["t0", "t1", "t2"]
    assert rejects.set_index("id").loc["quiet", "stage"] == "decode"
    return out_dir, segments, rejects


@pytest.mark.parametrize("executor", [{"executor": "local", "workers": 2}, {"executor": "ray", "workers": 2}],
                         ids=["local_pool", "ray"])
def test_a_worker_pool_and_ray_write_the_serial_run_tables(stage, serial, executor, tmp_path):
    serial_dir, serial_segments, serial_rejects = serial
    segments, rejects = curate_with(stage, tmp_path, **executor)
    pd.testing.assert_frame_equal(segments, serial_segments, check_exact=True)
    pd.testing.assert_frame_equal(rejects, serial_rejects, check_exact=True)
    for track_id in serial_segments["track_id"].unique():
        assert (tmp_path / "audio" / f"{track_id}.wav").read_bytes() == (serial_dir / "audio" / f"{track_id}.wav").read_bytes()


def test_pool_returns_results_in_input_order():
    items = list(range(-6, 0))
    assert run_items(operator.neg, items, "local", workers=2) == [6, 5, 4, 3, 2, 1]


def test_workers_need_the_reference_clap_path_to_build_their_backends(stage, tmp_path):
    raw_dir, tracks, _, backends = stage
    with pytest.raises(ValueError, match="needs refclap_checkpoint"):
        curate_corpus(tracks, raw_dir, tmp_path, CURATE, backends, SR, 1, executor="local", workers=2)


def test_unknown_executor_and_worker_count_are_refused():
    with pytest.raises(ValueError, match="executor 'dask' is not one of"):
        run_items(abs, [1], "dask")
    with pytest.raises(ValueError, match="workers must be at least 1"):
        run_items(abs, [1], "local", workers=0)
