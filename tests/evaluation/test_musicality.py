"""Musicality estimators on synthesized clips whose tempo, key and notes we chose."""

import numpy as np
import pandas as pd
import pytest

from s2accompanist.evaluation.musicality import (
    Notes,
    clip_musicality,
    estimate_key,
    estimate_tempo,
    in_key_share,
    key_score,
    note_f_measure,
    requested_key,
    tempo_matches,
    transcribe_notes,
)

SR = 16000
MAJOR_STEPS, MINOR_STEPS = (0, 2, 4, 5, 7, 9, 11, 12), (0, 2, 3, 5, 7, 8, 11, 12)


def tone(midi: int, seconds: float, gain: float = 0.2) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    envelope = np.minimum(1.0, t / 0.005) * np.exp(-t / max(seconds, 0.1) * 1.5)
    return (gain * envelope * sum(a * np.sin(2 * np.pi * k * f0 * t) for k, a in ((1, 1.0), (2, 0.3), (3, 0.1)))).astype(np.float32)


def clicks(seconds: float, bpm: float, gain: float = 0.4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(int(round(seconds * SR)), np.float32)
    burst = (rng.standard_normal(int(0.04 * SR)) * np.exp(-np.arange(int(0.04 * SR)) / (0.008 * SR))).astype(np.float32)
    for i, start in enumerate(np.arange(0, seconds, 60.0 / bpm)):
        a = int(round(start * SR))
        b = min(len(out), a + len(burst))
        out[a:b] += gain * (1.0 if i % 4 == 0 else 0.6) * burst[: b - a]
    return out


def song(tonic: int, minor: bool, bpm: float, seconds: float = 10.0) -> tuple[np.ndarray, Notes]:
    """Scale melody in quarter notes over a held tonic triad and beat clicks; returns audio and its melody notes."""
    steps = MINOR_STEPS if minor else MAJOR_STEPS
    beat = 60.0 / bpm
    n_beats = int(seconds / beat)
    melody = [tonic + 12 + steps[i % len(steps)] for i in range(n_beats)]
    audio = np.zeros(int(round(seconds * SR)), np.float32)
    intervals = []
    for i, pitch in enumerate(melody):
        start = int(round(i * beat * SR))
        note = tone(pitch, beat * 0.9)
        audio[start:start + len(note)] += note[: len(audio) - start]
        intervals.append((i * beat, i * beat + beat * 0.9))
    for offset in (0, 3 if minor else 4, 7):  # the tonic triad, re-struck every bar
        for bar in np.arange(0, seconds, 4 * beat):
            start = int(round(bar * SR))
            held = tone(tonic - 12 + offset, 4 * beat * 0.95, gain=0.08)
            audio[start:start + len(held)] += held[: len(audio) - start]
    audio += clicks(seconds, bpm)
    return audio, Notes(np.asarray(intervals), np.asarray(melody))


def test_the_requested_key_is_read_from_the_prompt():
    assert requested_key("A calm reggae track in F# major at 60 BPM") == "F# major"
    assert requested_key("in A# minor") == "Bb minor"  # spelled as mir_eval and the estimator spell it
    assert requested_key("in Db major") == "C# major"
    assert requested_key("a major achievement") is None


@pytest.mark.parametrize("estimated, kept", [(120.0, True), (124.7, True), (125.5, False), (240.0, True), (60.0, True),
                                             (360.0, True), (40.0, True), (180.0, False), (float("nan"), False)])
def test_tempo_matches_allows_octave_errors_within_four_percent(estimated, kept):
    assert tempo_matches(estimated, 120.0) is kept


@pytest.mark.parametrize("bpm", [96.0, 128.0])
def test_tempo_is_found_on_a_clip_at_a_known_tempo(bpm):
    audio, _ = song(60, False, bpm)
    assert tempo_matches(estimate_tempo(audio, SR), bpm)


@pytest.mark.parametrize("tonic, minor, key", [(60, False, "C major"), (64, True, "E minor"), (63, False, "Eb major")])
def test_key_is_found_on_a_clip_in_a_known_key(tonic, minor, key):
    audio, _ = song(tonic, minor, 110.0)
    assert estimate_key(audio, SR) == key
    assert key_score(key, estimate_key(audio, SR)) == 1.0


def test_silence_has_no_tempo_key_or_notes():
    silence = np.zeros(SR * 4, np.float32)
    assert np.isnan(estimate_tempo(silence, SR))
    assert estimate_key(silence, SR) is None and key_score("C major", None) == 0.0
    assert len(transcribe_notes(silence, SR).pitches) == 0
    row, _ = clip_musicality(silence, SR, "A track in C major at 100 BPM.")
    assert row["tempo_kept"] == 0.0 and row["key_score"] == 0.0 and row["notes_per_s"] == 0.0 and np.isnan(row["notes_in_key"])


def test_transcription_finds_the_melody_and_its_key():
    audio, melody = song(60, False, 100.0)
    notes = transcribe_notes(audio, SR)
    melody_range = (notes.pitches >= melody.pitches.min()) & (notes.pitches <= melody.pitches.max())
    found = Notes(notes.intervals[melody_range], notes.pitches[melody_range])
    assert note_f_measure(melody, found) >= 0.8
    assert in_key_share(notes, "C major") >= 0.95
    assert in_key_share(notes, "F# major") <= 0.5  # C major's notes are mostly outside F# major


def test_note_f_measure_counts_onsets_within_50_ms_only():
    notes = Notes(np.array([[0.0, 0.5], [0.5, 1.0], [1.0, 1.5]]), np.array([60, 62, 64]))
    assert note_f_measure(notes, notes) == 1.0
    shifted = Notes(notes.intervals + 0.03, notes.pitches)
    assert note_f_measure(notes, shifted) == 1.0
    late = Notes(notes.intervals + 0.08, notes.pitches)
    assert note_f_measure(notes, late) == 0.0
    assert note_f_measure(notes, Notes(notes.intervals, notes.pitches + 1)) == 0.0
    empty = Notes(np.zeros((0, 2)), np.zeros(0, dtype=int))
    assert note_f_measure(empty, empty) == 1.0 and note_f_measure(notes, empty) == 0.0


def test_clip_musicality_scores_only_what_the_prompt_asks():
    audio, melody = song(64, True, 120.0)
    row, notes = clip_musicality(audio, SR, "A dark piece in E minor at 120 BPM.", original=melody)
    assert row["tempo_kept"] == 1.0 and row["key_score"] == 1.0 and row["notes_in_key"] > 0.9
    assert 0 < row["note_f"] <= 1 and len(notes.pitches) > 0
    unstated, _ = clip_musicality(audio, SR, "A dark piece.")
    assert {"tempo_kept", "key_score", "notes_in_key", "note_f"}.isdisjoint(unstated) and unstated["notes_per_s"] > 0


def test_scores_do_not_depend_on_how_many_processes_share_the_clips():
    from s2accompanist.evaluation.musicality_table import score_clips, score_systems
    from s2accompanist.generation import GenerationRequest

    clips = [song(tonic, minor, bpm, seconds=6.0)[0] for tonic, minor, bpm in ((60, False, 100.0), (64, True, 120.0), (67, False, 90.0))]
    requests = [GenerationRequest(id=f"id_{i}", prompt=prompt, duration_s=6.0, metadata={"track_id": f"song_{i // 2}"})
                for i, prompt in enumerate(("C major, 100 BPM.", "E minor at 120 BPM.", "G major at 90 BPM."))]
    alone, alone_notes = score_clips("x", clips, requests, SR, workers=1)
    assert list(alone["track_id"]) == ["song_0", "song_0", "song_1"] and alone["tempo_kept"].sum() >= 2
    reversed_alone, _ = score_clips("y", clips[::-1], requests, SR, workers=1)
    # Two systems in one pool of two processes: each system's rows as if it had been scored alone.
    shared, shared_notes = score_systems([("x", clips, None), ("y", clips[::-1], alone_notes[::-1])], requests, SR, workers=2)
    pd.testing.assert_frame_equal(shared[shared["system"] == "x"].dropna(axis=1, how="all").reset_index(drop=True), alone)
    pd.testing.assert_frame_equal(shared[shared["system"] == "y"].drop(columns="note_f").reset_index(drop=True), reversed_alone)
    assert (shared.loc[shared["system"] == "y", "note_f"] == 1.0).all()  # each clip against its own transcription
    assert all(np.array_equal(a.intervals, b.intervals) and np.array_equal(a.pitches, b.pitches)
               for a, b in zip(alone_notes, shared_notes["x"]))
