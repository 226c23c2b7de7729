import numpy as np
import pytest

from s2accompanist.evaluation.structure import boundary_hit_rate, segment_alignment


def intervals(*edges):
    return np.column_stack([edges[:-1], edges[1:]]).astype(float)


def test_hits_pool_over_requested_boundaries():
    requested = [intervals(0, 4, 8, 10), intervals(0, 5, 10), intervals(0, 10)]
    estimated = [intervals(0, 4.3, 9.0, 10), intervals(0, 10), intervals(0, 3, 10)]
    result = boundary_hit_rate(requested, estimated, tolerance=0.5)
    # item 0: 4 hit (0.3 s), 8 missed (1.0 s); item 1: no estimated boundary; item 2: nothing requested
    assert (result["n_hits"], result["n_boundaries"]) == (1, 3)
    assert result["value"] == pytest.approx(1 / 3)
    assert result["n_items"] == 2 and result["n_excluded"] == 1
    np.testing.assert_allclose(result["per_item"][:2], [0.5, 0.0])
    assert np.isnan(result["per_item"][2])
    assert boundary_hit_rate(requested, estimated, tolerance=1.0)["n_hits"] == 2


def test_one_estimate_cannot_hit_two_requests():
    result = boundary_hit_rate([intervals(0, 4, 4.4, 10)], [intervals(0, 4.2, 10)], tolerance=0.5)
    assert result["n_hits"] == 1


@pytest.mark.parametrize(
    "requested, estimated, message",
    [
        ([intervals(0, 5, 10)], [], "one estimate per generated clip"),
        ([np.array([[0.0, 5.0, 1.0]])], [intervals(0, 10)], r"\(k, 2\)"),
        ([np.array([[5.0, 1.0]])], [intervals(0, 10)], "start <= end"),
        ([intervals(0, 10)], [intervals(0, 10)], "undefined"),
    ],
)
def test_bad_segmentations_raise(requested, estimated, message):
    with pytest.raises(ValueError, match=message):
        boundary_hit_rate(requested, estimated)


def test_segment_alignment_per_item_and_own_caption_rate():
    captions = np.eye(3)
    audio = np.array([[1.0, 0.0, 0.0], [0.2, 1.0, 0.0], [0.0, 0.0, 1.0]])
    audio_swapped = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    result = segment_alignment(
        np.vstack([audio, audio_swapped[:2]]), np.vstack([captions, captions[:2]]), ["a", "a", "a", "b", "b"]
    )
    cos_second = 1.0 / np.sqrt(1.04)
    assert result["per_item"]["a"] == pytest.approx((1 + cos_second + 1) / 3)
    assert result["per_item"]["b"] == pytest.approx(0.0)
    assert result["value"] == pytest.approx(((1 + cos_second + 1) / 3 + 0.0) / 2)
    assert result["own_caption_rate"] == pytest.approx(3 / 5)
    # A random pick is right 1/3 of the time for a's three segments and 1/2 for b's two.
    assert result["own_caption_chance"] == pytest.approx((3 * (1 / 3) + 2 * (1 / 2)) / 5)
    single = segment_alignment(np.ones((1, 2)), np.ones((1, 2)), ["c"])
    assert single["own_caption_rate"] is None
    assert single["own_caption_chance"] is None


def test_boundary_hit_rate_interval_resamples_clips_and_pools_each_resample():
    # Clip 0 asks for three changes and hits all; clip 1 asks for one and misses it.
    requested = [intervals(0, 2, 4, 6, 10), intervals(0, 5, 10)]
    estimated = [intervals(0, 2, 4, 6, 10), intervals(0, 10)]
    result = boundary_hit_rate(requested, estimated, n_boot=400, seed=3)
    assert result["value"] == pytest.approx(3 / 4)
    assert (result["low"], result["high"]) == (0.0, 1.0)
    # Resamples are {0,0}, {0,1} or {1,1} (half of them mixed): pooled rates 1, 3/4 and 0. The
    # central 40 % is the mixed resample, pooled to 3/4; a per-clip mean would give 1/2.
    middle = boundary_hit_rate(requested, estimated, n_boot=400, seed=3, ci=0.4)
    assert middle["low"] == middle["high"] == pytest.approx(3 / 4)
    assert (result["n_boot"], result["ci"]) == (400, 0.95)
    again = boundary_hit_rate(requested, estimated, n_boot=400, seed=3)
    assert (again["low"], again["high"]) == (result["low"], result["high"])
    agreeing = boundary_hit_rate([intervals(0, 5, 10)] * 3, [intervals(0, 5.2, 10)] * 3, n_boot=50)
    assert agreeing["low"] == agreeing["high"] == agreeing["value"] == 1.0


def test_segment_alignment_interval_is_over_clips():
    audio = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    captions = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    result = segment_alignment(audio, captions, ["a", "a", "b", "b"], n_boot=400, seed=0)
    assert result["value"] == pytest.approx(0.5)
    assert result["low"] == pytest.approx(0.0) and result["high"] == pytest.approx(1.0)
    one_clip = segment_alignment(audio[:2], captions[:2], ["a", "a"], n_boot=20)
    assert one_clip["low"] == one_clip["high"] == pytest.approx(1.0)


def test_precision_tells_a_segmenter_that_cuts_everywhere_from_one_that_follows_the_request():
    from s2accompanist.evaluation.structure import boundary_detection

    requested = [np.array([[0.0, 4.0], [4.0, 10.0]])] * 4
    exact = [np.array([[0.0, 4.2], [4.2, 10.0]])] * 4
    everywhere = [np.array([[float(t), float(t + 1)] for t in range(10)])] * 4
    follows = boundary_detection(requested, exact, 0.5, n_boot=20, seed=0)
    cuts = boundary_detection(requested, everywhere, 0.5, n_boot=20, seed=0)
    assert follows["recall"]["value"] == cuts["recall"]["value"] == 1.0
    assert follows["precision"]["value"] == 1.0 and np.isclose(cuts["precision"]["value"], 1 / 9)
    assert np.isclose(cuts["f"]["value"], 2 * (1 / 9) / (1 + 1 / 9)) and follows["n_items"] == 4
    single = boundary_detection(requested + [np.array([[0.0, 10.0]])], exact + [exact[0]], 0.5, n_boot=5, seed=0,
                                clusters=["a", "a", "b", "b", "c"])
    assert single["n_items"] == 4
