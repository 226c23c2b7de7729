"""FAD read on a scale: its interval on two samples of one distribution, FAD-infinity, and the floor's
real-audio windows."""

import numpy as np
import pandas as pd

from s2accompanist.evaluation.fad import fad_infinity, fad_with_ci

SONGS = np.repeat(np.arange(27), 3)[:80]


def two_samples(dims: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(80, dims)) + shift, rng.normal(size=(80, dims))


def test_two_samples_of_one_distribution_score_above_zero_and_the_interval_holds_its_estimate():
    for seed in range(3):
        evaluation, reference = two_samples(16, seed)
        fad = fad_with_ci(evaluation, reference, n_boot=200, seed=0, eval_clusters=SONGS)
        # The small-sample bias: one distribution, yet FAD clearly above 0 at 80 clips in 16 dimensions.
        assert fad["value"] > 1.0 and fad["low"] > 0.5
        # Resamples repeat clips and inflate FAD; shifted by that bias, the interval holds its own estimate.
        assert fad["low"] < fad["value"] < fad["high"]


def test_fad_infinity_removes_the_bias_where_clips_outnumber_dimensions_and_says_where_not():
    for seed in range(3):
        evaluation, reference = two_samples(16, seed)
        same = fad_infinity(evaluation, reference, seed=0)
        assert same["reliable"] and abs(same["value"]) < 0.25 * fad_with_ci(evaluation, reference, 10, 0)["value"]
        shifted, reference = two_samples(16, seed, shift=0.3)  # true FAD: 16 * 0.3^2 = 1.44
        moved = fad_infinity(shifted, reference, seed=0)
        assert 0.7 < moved["value"] < 2.2
    assert not fad_infinity(*two_samples(128, 0), seed=0)["reliable"]


def test_training_song_windows_are_distinct_windows_of_training_songs_only(tmp_path):
    import pytest
    import soundfile as sf

    from s2accompanist.evaluation.prompts import training_song_windows

    rate = 8000
    for name, seconds in (("a", 25), ("b", 12), ("held", 40)):
        sf.write(tmp_path / f"{name}.wav", np.random.default_rng(len(name) + seconds).normal(size=seconds * rate).astype(np.float32) * 0.1, rate)
    pd.DataFrame({"track_id": ["a", "b", "held"], "audio_path": ["a.wav", "b.wav", "held.wav"],
                  "split": ["train", "train", "test"]}).to_parquet(tmp_path / "tracks.parquet")
    windows, songs = training_song_windows(tmp_path, 3, 5.0, rate, seed=0)
    assert sorted(songs) == ["a", "a", "b"] or sorted(songs) == ["a", "b", "b"]
    assert all(len(w) == 5 * rate for w in windows)
    assert len({w[:50].tobytes() for w in windows}) == 3  # no window twice
    assert training_song_windows(tmp_path, 3, 5.0, rate, seed=0)[1] == songs
    assert len(training_song_windows(tmp_path, 7, 5.0, rate, seed=0)[0]) == 7  # 5 windows of a, 2 of b
    with pytest.raises(ValueError, match="only 7 distinct 5 s windows"):
        training_song_windows(tmp_path, 8, 5.0, rate, seed=0)
