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


def test_other_windows_are_real_audio_of_the_same_song_apart_from_every_prompt_window(tmp_path):
    import soundfile as sf

    from s2accompanist.evaluation.prompts import other_windows
    from s2accompanist.generation import GenerationRequest

    rate = 8000
    song = np.sin(2 * np.pi * 3 * np.arange(40 * rate) / rate).astype(np.float32) * np.linspace(0, 1, 40 * rate, dtype=np.float32)
    sf.write(tmp_path / "a.wav", song, rate)
    pd.DataFrame({"track_id": ["a"], "audio_path": ["a.wav"]}).to_parquet(tmp_path / "tracks.parquet")
    requests = [GenerationRequest(id=f"p{i}", prompt="x", duration_s=5.0,
                                  metadata={"split": "in_distribution", "track_id": "a", "offset_s": offset})
                for i, offset in enumerate((0.0, 10.0))]
    windows = other_windows(requests, tmp_path, 5.0, rate, seed=0)
    assert [len(w) for w in windows] == [5 * rate, 5 * rate]
    starts = [int(np.argmin(np.abs(song - w[0]) + np.abs(np.roll(song, -1) - w[1]))) / rate for w in windows]
    for start in starts:
        assert all(abs(start - offset) >= 5.0 for offset in (0.0, 10.0)) and start not in (0.0, 10.0)
    assert abs(starts[0] - starts[1]) >= 5.0
    too_many = [GenerationRequest(id=f"q{i}", prompt="x", duration_s=5.0,
                                  metadata={"split": "in_distribution", "track_id": "a", "offset_s": 5.0 * i}) for i in range(8)]
    import pytest
    with pytest.raises(ValueError, match="no 5 s window"):
        other_windows(too_many, tmp_path, 5.0, rate, seed=0)
