"""Per-item cache: a rerun reuses every step, a changed backend recomputes only its own step,
an interrupted run resumes where it stopped, and the tables never depend on the cache."""

import copy
import dataclasses
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from tiny_curation import CURATE, SR, curate_params, write_corpus, write_refclap

from s2accompanist.curation.cache import ARRAY, JSON, ItemCache, item_key
from s2accompanist.curation.pipeline import build_backends, curate_corpus

STEPS = ["facts", "captioning", "quality", "alignment"]


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    raw_dir = root / "raw"
    raw_dir.mkdir()
    refclap = str(write_refclap(root / "refclap.safetensors"))
    return raw_dir, write_corpus(raw_dir), refclap, build_backends(CURATE, refclap)


def counting(backends, calls: Counter):
    """The same backends, counting the calls of each step."""
    def count(name, method):
        def counted(*args, **kwargs):
            calls[name] += 1
            return method(*args, **kwargs)
        return counted

    captioner, quality, aligner = (copy.copy(b) for b in (backends.captioner, backends.quality, backends.aligner))
    captioner.caption = count("captioning", backends.captioner.caption)
    quality.grade = count("quality", backends.quality.grade)
    aligner.audio_embedding = count("alignment", backends.aligner.audio_embedding)
    return dataclasses.replace(backends, segment=count("segmentation", backends.segment), captioner=captioner,
                               quality=quality, aligner=aligner)


def curate(stage, out_dir, cache_dir, curate_config=CURATE, backends=None):
    raw_dir, tracks, refclap, default_backends = stage
    return curate_corpus(tracks, raw_dir, out_dir, curate_config, backends or default_backends, SR, 1,
                         cache_dir=cache_dir, refclap_checkpoint=refclap)


def counts(tables) -> dict[str, tuple[int, int]]:
    return {row.step: (row.hits, row.misses) for row in tables["cache"].itertuples()}


def test_a_rerun_hits_every_item_and_writes_the_same_tables(stage, tmp_path):
    first = curate(stage, tmp_path / "first", tmp_path / "cache")
    n_segments = len(first["segments"])
    assert counts(first) == {"segmentation": (0, 3), **{step: (0, n_segments) for step in STEPS}}
    calls = Counter()
    second = curate(stage, tmp_path / "second", tmp_path / "cache", backends=counting(stage[3], calls))
    assert counts(second) == {"segmentation": (3, 0), **{step: (n_segments, 0) for step in STEPS}}
    assert not calls, "a hit calls no backend"
    uncached = curate(stage, tmp_path / "uncached", None)
    for name in ("segments.parquet", "rejects.parquet"):
        reference = pd.read_parquet(tmp_path / "first" / name)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "second" / name), reference, check_exact=True)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "uncached" / name), reference, check_exact=True)


def test_a_changed_captioning_config_recomputes_captions_only(stage, tmp_path):
    first = curate(stage, tmp_path / "first", tmp_path / "cache")
    calls = Counter()
    changed = curate_params(captioning={"checkpoint": "another-captioner"})
    second = curate(stage, tmp_path / "second", tmp_path / "cache", changed, counting(stage[3], calls))
    n_segments = len(first["segments"])
    assert calls == Counter({"captioning": n_segments})
    assert counts(second)["captioning"] == (0, n_segments)
    assert all(counts(second)[step] == (n_segments, 0) for step in ["facts", "quality", "alignment"])


def test_an_interrupted_run_resumes_with_the_remaining_tracks(stage, tmp_path):
    raw_dir, tracks, refclap, backends = stage
    segment = backends.segment

    def interrupted_at_t2(track_id, mono, sample_rate):
        if track_id == "t2":
            raise KeyboardInterrupt  # what a killed run looks like to the code
        return segment(track_id, mono, sample_rate)

    with pytest.raises(KeyboardInterrupt):
        curate(stage, tmp_path / "killed", tmp_path / "cache", backends=dataclasses.replace(backends, segment=interrupted_at_t2))
    calls = Counter()
    resumed = curate(stage, tmp_path / "resumed", tmp_path / "cache", backends=counting(backends, calls))
    t2_segments = int((resumed["segments"]["track_id"] == "t2").sum())
    assert t2_segments > 0
    assert calls == Counter({"segmentation": 1, "captioning": t2_segments, "quality": t2_segments, "alignment": t2_segments})
    reference = curate(stage, tmp_path / "uncached", None)
    pd.testing.assert_frame_equal(resumed["segments"], reference["segments"], check_exact=True)


def test_a_hit_returns_exactly_what_the_miss_returned(tmp_path):
    cache = ItemCache(tmp_path)
    values = {"level": np.float32(0.1), "tags": np.array(["rock"]), "nan": float("nan")}
    missed = cache.get_or_compute("quality", item_key(clip="a"), JSON, lambda: values)
    hit = cache.get_or_compute("quality", item_key(clip="a"), JSON, lambda: pytest.fail("a hit must not recompute"))
    assert repr(hit) == repr(missed) and type(hit["level"]) is float
    embedding = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    assert cache.get_or_compute("alignment", "k" * 64, ARRAY, lambda: embedding).tobytes() == embedding.tobytes()
    assert cache.get_or_compute("alignment", "k" * 64, ARRAY, lambda: None).dtype == np.float32
    assert cache.counts == Counter({("quality", "miss"): 1, ("quality", "hit"): 1, ("alignment", "miss"): 1, ("alignment", "hit"): 1})


def test_an_undecodable_entry_is_recomputed_and_replaced(tmp_path):
    cache = ItemCache(tmp_path)
    key = item_key(clip="b")
    cache.path("facts", key, JSON).parent.mkdir(parents=True)
    cache.path("facts", key, JSON).write_text('{"tempo_bpm": 12')
    assert cache.get_or_compute("facts", key, JSON, lambda: {"tempo_bpm": 120.0}) == {"tempo_bpm": 120.0}
    assert ItemCache(tmp_path).get_or_compute("facts", key, JSON, lambda: pytest.fail("replaced")) == {"tempo_bpm": 120.0}
