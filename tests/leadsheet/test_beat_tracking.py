"""madmom's beat and downbeat tracking on a drum pattern of known tempo and meter (a few seconds of audio)."""

import mir_eval
import numpy as np
import pytest

from s2accompanist.corpus.synthetic.instruments import render_note
from s2accompanist.leadsheet.beat_tracking import librosa_beats, madmom_beats_and_downbeats
from s2accompanist.leadsheet.transcription import transcribe

RATE = 22050
BPM = 110.0
BARS = 5
BASS_ROOTS = (45, 41, 43, 40, 45)  # A F G E A: one root per bar, struck on the one


def drum_groove() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4/4 at 110 BPM: kick and a bass note on the one, kick on three, snare on two and four, hi-hat eighths."""
    beat_s = 60.0 / BPM
    n_beats = 4 * BARS
    audio = np.zeros(int((n_beats + 1) * beat_s * RATE))

    def add(wave, time_s, gain):
        start = int(round(time_s * RATE))
        end = min(len(audio), start + len(wave))
        audio[start:end] += gain * wave[: end - start]

    for beat in range(n_beats):
        t = beat * beat_s
        if beat % 4 in (0, 2):
            add(render_note("drums", 36, 0.1, RATE), t, 1.0)
        else:
            add(render_note("drums", 38, 0.1, RATE), t, 0.7)
        if beat % 4 == 0:
            add(render_note("bass", BASS_ROOTS[beat // 4], 4 * beat_s * 0.95, RATE), t, 0.8)
        for eighth in (0.0, 0.5):
            add(render_note("drums", 42, 0.05, RATE), t + eighth * beat_s, 0.3)
    beats = np.arange(n_beats) * beat_s
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32), beats, beats[::4]


@pytest.fixture(scope="module")
def groove():
    return drum_groove()


def test_madmom_finds_the_beats_and_the_downbeats(groove):
    audio, beats, downbeats = groove
    found_beats, found_downbeats = madmom_beats_and_downbeats(audio, RATE)
    assert mir_eval.beat.f_measure(beats, found_beats) >= 0.9
    assert mir_eval.beat.f_measure(downbeats, found_downbeats) >= 0.75
    assert set(found_downbeats) <= set(found_beats)


def test_madmom_is_the_transcription_default_and_chords_fall_between_its_beats(groove):
    audio, beats, _downbeats = groove
    sheet = transcribe(audio, RATE)
    assert sheet["backend"]["beats"].startswith("madmom")
    assert mir_eval.beat.f_measure(beats, np.array(sheet["beats"])) >= 0.9
    chord_starts = {start for start, _end, _label in sheet["chords"]}
    assert chord_starts <= set(sheet["beats"]) | {0.0}


def test_librosa_backend_is_still_available(groove):
    audio, beats, _downbeats = groove
    assert mir_eval.beat.f_measure(beats, librosa_beats(audio, RATE)) >= 0.8
    assert transcribe(audio, RATE, beats="librosa")["backend"]["beats"].startswith("librosa")


def test_unknown_beat_backend_and_too_short_audio():
    with pytest.raises(ValueError, match="beats='essentia'"):
        transcribe(np.zeros(RATE, np.float32), RATE, beats="essentia")
    beats, downbeats = madmom_beats_and_downbeats(np.zeros(RATE // 2, np.float32), RATE)
    assert len(beats) == len(downbeats) == 0
