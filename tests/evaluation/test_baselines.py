"""Baselines: shaped noise keeps the reference spectrum and loudness; shuffled prompts never pair an item with its own."""

import numpy as np
import pytest

from s2accompanist.evaluation.baselines import derangement, shaped_noise, shuffled_clap_score

SR = 8000


def _tone(freq: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_shaped_noise_has_the_reference_spectrum_and_rms():
    references = [_tone(440.0), _tone(440.0, amplitude=0.1)]
    noise = shaped_noise(references, n=3, seed=0)
    assert len(noise) == 3 and all(len(clip) == SR for clip in noise)
    reference_rms = np.sqrt(np.mean(np.stack(references).astype(np.float64) ** 2))
    for clip in noise:
        spectrum = np.abs(np.fft.rfft(clip))
        assert np.argmax(spectrum) == 440  # 1 s at 8 kHz: bin index = frequency in Hz
        assert np.sqrt(np.mean(clip.astype(np.float64) ** 2)) == pytest.approx(reference_rms, rel=1e-4)
    assert not np.allclose(noise[0], noise[1]), "each clip draws its own phases"
    assert all(np.array_equal(a, b) for a, b in zip(noise, shaped_noise(references, n=3, seed=0))), "seeded"


def test_shaped_noise_refuses_no_reference():
    with pytest.raises(ValueError, match="at least one reference clip"):
        shaped_noise([], n=2, seed=0)


@pytest.mark.parametrize("n", [2, 3, 10, 57])
def test_derangement_moves_every_item(n):
    order = derangement(n, seed=n)
    assert sorted(order) == list(range(n)) and not np.any(order == np.arange(n))


def test_shuffled_score_is_lower_when_clips_follow_their_prompts():
    rng = np.random.default_rng(0)
    text = rng.standard_normal((20, 8))
    audio = text + 0.1 * rng.standard_normal((20, 8))  # each clip matches its own prompt
    shuffled = shuffled_clap_score(audio, text, n_boot=50, seed=0)
    paired = np.mean(np.sum(audio * text, 1) / np.linalg.norm(audio, axis=1) / np.linalg.norm(text, axis=1))
    assert shuffled["value"] < paired - 0.5


def test_shuffled_prompts_never_pair_a_clip_with_its_own_songs_prompt():
    from s2accompanist.evaluation.baselines import derangement

    songs = np.repeat(np.array(["s1", "s2", "s3", "s4", "s5"]), [6, 3, 3, 2, 1])
    order = derangement(len(songs), seed=3, clusters=songs)
    assert sorted(order.tolist()) == list(range(len(songs)))
    assert not np.any(songs[order] == songs)
    assert np.array_equal(order, derangement(len(songs), seed=3, clusters=songs))
    with pytest.raises(ValueError, match="one cluster"):
        derangement(3, seed=0, clusters=np.array(["a", "a", "a"]))
