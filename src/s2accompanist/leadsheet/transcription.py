"""Lead sheet from real audio: basic-pitch note posteriors -> melody line and chord chroma; madmom beats.

basic-pitch (Bittner et al., ICASSP 2022) runs from its bundled ONNX model through onnxruntime.
The `basic_pitch` package is located but never imported: its `__init__` probes for TensorFlow,
CoreML and TFLite and would import TensorFlow wherever it is installed.

- melody: the skyline (highest salient note per frame) above a register floor, cut into notes at
  pitch changes and at onsets, with notes shorter than a minimum dropped.
- beats and downbeats (`beats="madmom"`, the default): madmom's pretrained joint beat/downbeat
  RNN and DBN (`beat_tracking.py`). `beats="librosa"`: librosa's dynamic-programming beat tracker.
- chords: note posteriors without the melody, folded to chroma, averaged between beats, decoded by
  `chords.decode_chords`.
- downbeats with `beats="librosa"`: the (meter, phase) among 4/4 and 3/4 whose beats carry the most
  accent, where accent is low-frequency onset strength (kick, bass) plus pitch-class arrivals (chord
  changes) at the beat; 4/4 wins ties.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import librosa
import numpy as np

from .beat_tracking import BEAT_BACKENDS, LIBROSA_BACKEND, MADMOM_BACKEND, librosa_beats, madmom_beats_and_downbeats
from .chords import decode_chords

SAMPLE_RATE = 22050  # basic-pitch's input rate
HOP = 256  # samples per posterior frame
_WINDOW_SAMPLES = 2 * SAMPLE_RATE - HOP  # the model's fixed input length
_OVERLAP_FRAMES = 30  # as basic-pitch: windows overlap by 30 frames, half trimmed from each side
_LOWEST_MIDI = 21  # posterior column 0 is A0
_WINDOWS_PER_RUN = 8  # bounds memory on long audio
_BEAT_HOP = 512
# The default beat tracker, chosen on 16 real scores rendered by our synthesizer (corpus/real_scores.py,
# `make real-music`, reports/real_music/real_music_leadsheet.md), means over pieces, madmom vs librosa:
# beat F 0.827 vs 0.808, and chords decoded between its beats score better (root 0.648 vs 0.585,
# majmin 0.683 vs 0.617; madmom's own CNN+CRF chord recogniser: 0.593 / 0.636). Its downbeat F is
# lower than librosa's beats with accent-picked downbeats (0.420 vs 0.497, bootstrap intervals
# [0.21, 0.62] and [0.29, 0.69]: most misses are the wrong bar phase, e.g. after a pickup).
DEFAULT_BEATS = "madmom"
# The note posterior idles near 0.1 on every pitch, even for silence; folding 88 pitches would sum
# that into a flat 0.7 per pitch class that drowns the chord, so chroma counts only what exceeds this.
_POSTERIOR_FLOOR = 0.2
BACKEND = "basic-pitch-0.4.0-onnx"


def bundled_model_path() -> Path:
    """basic-pitch's ICASSP 2022 model as shipped inside the package, found without importing it."""
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("basic-pitch is not installed; install basic-pitch==0.4.0 with --no-deps (see DEPENDENCIES.md)")
    path = Path(spec.submodule_search_locations[0]) / "saved_models" / "icassp_2022" / "nmp.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"basic-pitch's ONNX model is missing at {path}; reinstall basic-pitch==0.4.0")
    return path


@lru_cache(maxsize=2)
def _session(model_path: str, n_threads: int):
    import onnxruntime

    if not Path(model_path).is_file():
        raise FileNotFoundError(f"basic-pitch ONNX checkpoint not found: {model_path}; pass a local nmp.onnx or None for the bundled one")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = n_threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


def note_posteriors(audio: np.ndarray, model_path: Path | None = None, n_threads: int = 2) -> dict[str, np.ndarray]:
    """basic-pitch's frame posteriors for mono audio at `SAMPLE_RATE`.

    Returns "times" (T,) frame start in seconds, and "note" and "onset" (T, 88) for MIDI 21..108.
    Frame times are exact per window: a window's frames span HOP * 142 samples while windows advance
    by 36164, so a uniform frame grid would drift by ~8 ms per window.
    """
    session = _session(str(model_path or bundled_model_path()), n_threads)
    overlap = _OVERLAP_FRAMES * HOP
    window_hop = _WINDOW_SAMPLES - overlap
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), np.asarray(audio, np.float32)])
    starts = list(range(0, len(padded), window_hop))
    trim = _OVERLAP_FRAMES // 2
    notes, onsets = [], []
    for first in range(0, len(starts), _WINDOWS_PER_RUN):
        batch = np.stack([_fixed_length(padded[s : s + _WINDOW_SAMPLES]) for s in starts[first : first + _WINDOWS_PER_RUN]])
        note, onset = session.run(["StatefulPartitionedCall:1", "StatefulPartitionedCall:2"], {"serving_default_input_2:0": batch[..., None]})
        notes.append(note[:, trim:-trim])
        onsets.append(onset[:, trim:-trim])
    note, onset = np.concatenate(notes), np.concatenate(onsets)
    frames_per_window = note.shape[1]
    times = (np.arange(len(starts))[:, None] * window_hop + np.arange(frames_per_window)[None, :] * HOP) / SAMPLE_RATE
    keep = times.reshape(-1) < len(audio) / SAMPLE_RATE
    return {
        "times": times.reshape(-1)[keep],
        "note": note.reshape(-1, note.shape[2])[keep],
        "onset": onset.reshape(-1, onset.shape[2])[keep],
    }


def _fixed_length(window: np.ndarray) -> np.ndarray:
    return np.pad(window, (0, _WINDOW_SAMPLES - len(window)))


def melody_line(
    posteriors: dict[str, np.ndarray],
    *,
    floor_midi: int = 55,
    frame_threshold: float = 0.3,
    relative_salience: float = 0.5,
    onset_threshold: float = 0.5,
    min_note_s: float = 0.08,
) -> list[list]:
    """Monophonic melody `[[start, end, midi], ...]`: the highest salient pitch at or above `floor_midi` per frame.

    A pitch is salient where its note posterior reaches `frame_threshold` and `relative_salience`
    times the frame's strongest (so a faint upper partial does not outrank the tune). Runs shorter
    than `min_note_s` are dropped, and a held note that a dropped blip interrupted is joined again.
    """
    times, note, onset = posteriors["times"], posteriors["note"], posteriors["onset"]
    if len(times) == 0:
        return []
    hop_s = HOP / SAMPLE_RATE
    above = note[:, max(floor_midi - _LOWEST_MIDI, 0) :]
    salient = (above >= frame_threshold) & (above >= relative_salience * note.max(axis=1, keepdims=True))
    top = np.where(salient.any(axis=1), above.shape[1] - 1 - np.argmax(salient[:, ::-1], axis=1), -1)
    pitch = np.where(top >= 0, top + max(floor_midi, _LOWEST_MIDI), -1)
    column = np.clip(pitch - _LOWEST_MIDI, 0, None)
    onset_at_pitch = onset[np.arange(len(pitch)), column] >= onset_threshold
    struck = onset_at_pitch & ~np.concatenate([[False], onset_at_pitch[:-1]])  # rising edge of the onset posterior
    changes = np.flatnonzero((np.diff(pitch) != 0) | struck[1:]) + 1
    bounds = np.concatenate([[0], changes, [len(pitch)]])
    notes: list[list] = []
    for begin, end in zip(bounds[:-1], bounds[1:]):
        if pitch[begin] < 0 or times[end - 1] + hop_s - times[begin] < min_note_s:
            continue
        start, stop = float(times[begin]), float(times[end - 1] + hop_s)
        if notes and notes[-1][2] == pitch[begin] and not struck[begin] and start - notes[-1][1] < min_note_s:
            notes[-1][1] = round(stop, 4)
        else:
            notes.append([round(start, 4), round(stop, 4), int(pitch[begin])])
    return notes


def without_melody(posteriors: dict[str, np.ndarray], melody: list[list]) -> dict[str, np.ndarray]:
    """Posteriors with each melody note's pitch silenced while it sounds: the harmony the accompaniment plays.

    A loud tune's passing tones otherwise outvote the chord (on synthesized triads under a sine
    melody, majmin accuracy rose from 0.60-0.92 to 0.98-1.0 with the melody removed).
    """
    times, note = posteriors["times"], posteriors["note"].copy()
    for start, end, pitch in melody:
        note[(times >= start) & (times < end), pitch - _LOWEST_MIDI] = 0.0
    return {**posteriors, "note": note}


def segment_chroma(posteriors: dict[str, np.ndarray], boundaries: np.ndarray) -> np.ndarray:
    """Mean note posterior above `_POSTERIOR_FLOOR` per pitch class within each segment, (len(boundaries) - 1, 12); C = 0."""
    times = posteriors["times"]
    note = np.clip(posteriors["note"] - _POSTERIOR_FLOOR, 0.0, None)
    folded = np.zeros((len(times), 12))
    for column in range(note.shape[1]):
        folded[:, (column + _LOWEST_MIDI) % 12] += note[:, column]
    segment = np.searchsorted(boundaries, times, side="right") - 1
    chroma = np.zeros((len(boundaries) - 1, 12))
    for index in range(len(chroma)):
        inside = segment == index
        if inside.any():
            chroma[index] = folded[inside].mean(axis=0)
    return chroma


def low_onset_strength(audio: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Onset strength below 200 Hz (kick, bass) at each beat, the max within one frame either side."""
    envelope = librosa.onset.onset_strength(y=audio, sr=SAMPLE_RATE, hop_length=_BEAT_HOP, fmax=200.0, n_mels=32)
    frames = librosa.time_to_frames(beats, sr=SAMPLE_RATE, hop_length=_BEAT_HOP)
    padded = np.pad(envelope, 1)
    return np.array([padded[f : f + 3].max() for f in np.clip(frames, 0, len(envelope) - 1)])


def chord_change(beat_chroma: np.ndarray) -> np.ndarray:
    """Pitch-class energy that appears at each beat (positive chroma flux, chroma scaled to the loudest
    segment); 0 for the first. Only arrivals count, so silence after silence and a chord's release add nothing."""
    scaled = beat_chroma / max(float(np.linalg.norm(beat_chroma, axis=1).max(initial=0.0)), 1e-9)
    arrivals = np.clip(np.diff(scaled, axis=0), 0.0, None).sum(axis=1)
    return np.concatenate([[0.0], arrivals])


def downbeat_times(beats: np.ndarray, accent: np.ndarray, meters: tuple[int, ...] = (4, 3)) -> np.ndarray:
    """Every `meter`-th beat from the phase with the highest mean accent, over all meters; earlier meters win ties."""
    if len(beats) == 0:
        return beats
    best_score, best = -np.inf, (meters[0], 0)
    for meter in meters:
        for phase in range(min(meter, len(beats))):
            score = accent[phase::meter].mean()
            if score > best_score + 1e-9:
                best_score, best = score, (meter, phase)
    meter, phase = best
    return beats[phase::meter]


def _unit_mean(values: np.ndarray) -> np.ndarray:
    mean = values.mean() if len(values) else 0.0
    return values / mean if mean > 0 else np.zeros_like(values)


def transcribe(audio_mono: np.ndarray, sample_rate: int, *, model_path: Path | None = None, floor_midi: int = 55,
               beats: str = DEFAULT_BEATS) -> dict:
    """Lead sheet `{"beats", "downbeats", "chords", "melody", "backend"}` (seconds, mir_eval labels) from mono audio.

    beats: "madmom" (beats and downbeats from madmom's RNN + DBN) or "librosa" (librosa's beats,
    downbeats from accent); chords are decoded between whichever beats were found.
    """
    if beats not in BEAT_BACKENDS:
        raise ValueError(f"beats={beats!r} is not a beat tracker; choose one of {BEAT_BACKENDS}")
    audio_mono = np.asarray(audio_mono, dtype=np.float32)
    if audio_mono.ndim != 1:
        raise ValueError(f"transcribe needs mono audio of shape (n_samples,), got {audio_mono.shape}; mix down first")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    audio = librosa.resample(audio_mono, orig_sr=sample_rate, target_sr=SAMPLE_RATE, res_type="soxr_hq") if sample_rate != SAMPLE_RATE else audio_mono
    duration_s = len(audio) / SAMPLE_RATE
    posteriors = note_posteriors(audio, model_path)
    if beats == "madmom":
        beat_s, downbeat_s = madmom_beats_and_downbeats(audio, SAMPLE_RATE)
    else:
        beat_s, downbeat_s = librosa_beats(audio, SAMPLE_RATE), None
    boundaries = np.unique(np.concatenate([[0.0], beat_s, [duration_s]]))
    melody = melody_line(posteriors, floor_midi=floor_midi)
    beat_chroma = segment_chroma(without_melody(posteriors, melody), boundaries)
    if downbeat_s is None:
        downbeat_s = _accent_downbeats(audio, beat_s, boundaries, beat_chroma)
    return {
        "beats": [round(float(t), 4) for t in beat_s],
        "downbeats": [round(float(t), 4) for t in downbeat_s],
        "chords": [[round(s, 4), round(e, 4), label] for s, e, label in decode_chords(beat_chroma, boundaries)],
        "melody": melody,
        "backend": {"name": BACKEND, "checkpoint": str(model_path or bundled_model_path()),
                    "beats": MADMOM_BACKEND if beats == "madmom" else LIBROSA_BACKEND},
    }


def _accent_downbeats(audio: np.ndarray, beats: np.ndarray, boundaries: np.ndarray, beat_chroma: np.ndarray) -> np.ndarray:
    """Downbeats among librosa's beats: the meter and phase whose beats carry the most bass onset and chord change."""
    if len(beats) == 0:
        return beats
    # Accent at beat i looks at the segment that starts on it: segment index of beat i in `boundaries`.
    starts_at_beat = np.minimum(np.searchsorted(boundaries, beats), len(beat_chroma) - 1)
    change = chord_change(beat_chroma)[starts_at_beat]
    accent = _unit_mean(low_onset_strength(audio, beats)) + _unit_mean(change)
    return downbeat_times(beats, accent)
