"""The vae stage's probes see a planted signal, and their floors stay at chance where there is none."""

import numpy as np
import pytest

from s2accompanist.models.leadsheet_heads import IGNORE_INDEX, chord_class, chord_root_majmin
from s2accompanist.training.vae_stage import context_features, linear_probes

RATE = 62.5  # latent frames per second, as in the default profile


def song(rng, frames=600, dim=8, planted=True):
    """A latent whose first channels encode a 4-class 'melody', a 4-class 'chord' held over 0.5 s
    blocks, and beats; `planted=False` gives noise of the same shape with the same targets."""
    melody = np.repeat(rng.integers(0, 4, frames // 20), 20)  # MIDI 36..39: pitch classes 0..3
    chords = np.array([chord_class(0, "maj"), chord_class(0, "min7"), chord_class(2, "7"), chord_class(2, "dim")])
    chord = np.repeat(chords[rng.integers(0, 4, frames // 30)], 30)  # what the probe reads: C, Cm, D, Dm
    beat = (np.arange(frames) % 25 == 0).astype(np.float32)
    z = rng.standard_normal((frames, dim)).astype(np.float32)
    if planted:
        z[:, 0] += 1.5 * melody
        z[:, 1] += 1.0 * chord_root_majmin(chord)
        z[:, 2] += 3.0 * np.convolve(beat, np.ones(3), mode="same")  # the probe's beat target is +-1 frame wide
    melody = melody.copy()
    melody[:10] = IGNORE_INDEX  # unknown frames are left out
    targets = {"melody": melody, "chord": chord, "beat": beat, "downbeat": (np.arange(frames) % 100 == 0).astype(np.float32)}
    return z, ("song", None, targets)


def probes(planted, floor=True):
    rng = np.random.default_rng(0)
    train = [song(rng, planted=planted) for _ in range(6)]
    test = [song(rng, planted=planted) for _ in range(4)]
    noise_train = [song(rng, planted=False)[0] for _ in train]
    noise_test = [song(rng, planted=False)[0] for _ in test]
    return linear_probes([z for z, _ in train], [t for _, t in train], [z for z, _ in test], [t for _, t in test], 0, RATE,
                         noise_train if floor else None, noise_test if floor else None, max_frames=3000, n_boot=50)


def test_a_planted_signal_clears_both_floors_and_the_floors_sit_at_chance():
    result = probes(planted=True)
    for task in ("melody", "chord", "beat"):
        assert result[f"{task}_low"] > result[f"{task}_random_vae"] + 0.1, task
        assert result[f"{task}_low"] > result[f"{task}_shuffled"] + 0.1, task
        assert result[f"{task}_low"] <= result[f"{task}_score"] <= result[f"{task}_high"], task
        assert result[f"{task}_random_vae"] == pytest.approx(result[f"{task}_chance"], abs=0.12), task
        # A probe fitted to shuffled labels points in a random direction; where the signal is strong
        # a random direction still ranks beats above or below chance, so AUROC's floor spreads wider.
        assert result[f"{task}_shuffled"] == pytest.approx(result[f"{task}_chance"], abs=0.12 if task != "beat" else 0.25), task
    assert result["melody_chance"] == pytest.approx(1 / 4) and result["beat_chance"] == 0.5
    assert result["melody_metric"] == "balanced_accuracy" and result["beat_metric"] == "auroc"


def test_without_a_signal_the_probe_itself_is_at_chance():
    result = probes(planted=False, floor=False)
    assert "melody_random_vae" not in result
    for task in ("melody", "chord", "beat"):
        assert result[f"{task}_low"] <= result[f"{task}_chance"] + 0.05, task


def test_context_features_append_a_centred_mean():
    z = np.zeros((50, 2), np.float32)
    z[25, 0] = 31.0
    features = context_features(z, RATE, 0.5)  # a 31-frame window
    assert features.shape == (50, 4)
    assert features[25, 2] == pytest.approx(1.0) and features[10, 2] == pytest.approx(1.0) and features[9, 2] == 0.0


def test_head_scores_use_the_probes_metrics_on_held_out_songs():
    import torch

    from s2accompanist.models.leadsheet_heads import LeadsheetHeads
    from s2accompanist.training.vae_stage import head_scores

    rng = np.random.default_rng(1)
    test = [song(rng, dim=8) for _ in range(3)]
    torch.manual_seed(0)
    scores = head_scores(LeadsheetHeads(8, 16).eval(), [z for z, _ in test], [t for _, t in test], 0, n_boot=20)
    for task in ("melody", "chord", "beat", "downbeat"):
        assert 0.0 <= scores[f"{task}_low"] <= scores[f"{task}_score"] <= scores[f"{task}_high"] <= 1.0, task


def test_middle_excerpts_cut_audio_and_targets_to_the_same_frames():
    from s2accompanist.training.vae_stage import middle_excerpts

    hop, frames = 4, 10
    long = ("long", np.arange(100 * hop, dtype=np.float32)[None], {"melody": np.arange(100)})
    short = ("short", np.zeros((1, 6 * hop), np.float32), {"melody": np.arange(6)})
    (_, audio, targets), (_, short_audio, short_targets) = middle_excerpts([long, short], frames, hop)
    assert targets["melody"].tolist() == list(range(45, 55))  # the middle ten frames
    assert audio.shape == (1, frames * hop) and audio[0, 0] == 45 * hop  # the audio of exactly those frames
    assert short_audio.shape == (1, 6 * hop) and len(short_targets["melody"]) == 6  # shorter: whole
