import numpy as np
import pytest

from s2accompanist.evaluation.bootstrap import bootstrap_interval, mean_with_ci


def test_constant_scores_have_a_degenerate_interval():
    assert mean_with_ci(np.full(10, 0.25), n_boot=20, seed=0) == {
        "value": 0.25, "low": 0.25, "high": 0.25, "n_boot": 20, "ci": 0.95,
    }


def test_interval_narrows_with_more_items_and_widens_with_level():
    rng = np.random.default_rng(1)
    small, large = rng.normal(size=20), rng.normal(size=2000)
    width = lambda r: r["high"] - r["low"]
    assert width(mean_with_ci(large, 300, 0)) < width(mean_with_ci(small, 300, 0)) / 3
    assert width(mean_with_ci(small, 300, 0, ci=0.99)) > width(mean_with_ci(small, 300, 0, ci=0.5))


def test_resamples_are_drawn_with_replacement_from_the_items():
    drawn = []
    bootstrap_interval(lambda idx: drawn.append(idx) or 0.0, n_items=5, n_boot=50, seed=3)
    drawn = np.array(drawn)
    assert drawn.shape == (50, 5) and drawn.min() >= 0 and drawn.max() <= 4
    assert any(len(set(row)) < 5 for row in drawn)


@pytest.mark.parametrize("scores", [np.array([]), np.ones((2, 2))])
def test_bad_scores_raise(scores):
    with pytest.raises(ValueError, match="non-empty 1-D"):
        mean_with_ci(scores, 10, 0)


def test_clustered_interval_resamples_songs_not_clips():
    from s2accompanist.evaluation.bootstrap import clustered_mean_with_ci

    # Ten songs of eight clips each; a song's clips all score alike, so there are ten draws, not eighty.
    rng = np.random.default_rng(0)
    song_scores = rng.random(10)
    scores, songs = np.repeat(song_scores, 8), np.repeat(np.arange(10), 8)
    clustered = clustered_mean_with_ci(scores, songs, 2000, 0)
    naive = mean_with_ci(scores, 2000, 0)
    assert clustered["value"] == pytest.approx(scores.mean())
    assert (clustered["high"] - clustered["low"]) > 2 * (naive["high"] - naive["low"])
    assert clustered["n"] == 80 and clustered["n_clusters"] == 10
    # One clip per song: the same interval as resampling clips.
    single = clustered_mean_with_ci(song_scores, np.arange(10), 2000, 0)
    plain = mean_with_ci(song_scores, 2000, 0)
    assert single["low"] == pytest.approx(plain["low"]) and single["high"] == pytest.approx(plain["high"])


def test_clustered_interval_leaves_out_unscored_items_and_refuses_bad_input():
    from s2accompanist.evaluation.bootstrap import clustered_mean_with_ci

    result = clustered_mean_with_ci(np.array([1.0, np.nan, 0.0, 1.0]), np.array(["a", "a", "b", "b"]), 200, 0)
    assert result["value"] == pytest.approx(2 / 3) and result["n"] == 3
    with pytest.raises(ValueError, match="one length"):
        clustered_mean_with_ci(np.ones(3), np.arange(2), 10, 0)
    with pytest.raises(ValueError, match="no finite"):
        clustered_mean_with_ci(np.array([np.nan]), np.array([0]), 10, 0)
