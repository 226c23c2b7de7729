"""Measured musical facts about one segment, for the default (`facts`) captioner.

Every fact is a number measured from the audio plus the word a caption uses for it. The word
thresholds are fixed here so that captions, their validation and the README agree.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import librosa
import numpy as np

from ..labels import PITCH_CLASSES

# Krumhansl & Kessler (1982) probe-tone key profiles, tonic first.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# Word boundaries: (upper bound, word) pairs, checked in order; the last word takes the rest.
TEMPO_WORDS = ((85.0, "slow"), (125.0, "moderate"), (float("inf"), "fast"))  # BPM
# Below this many onsets per second there is no pulse to track: tempo is NaN, the word says so.
MIN_PULSE_ONSETS_PER_S = 0.5
NO_PULSE_WORD = "free-tempo"
ENERGY_WORDS = ((-30.0, "low"), (-18.0, "medium"), (float("inf"), "high"))  # RMS dBFS
DENSITY_WORDS = ((2.0, "sparse"), (5.0, "moderate"), (float("inf"), "dense"))  # onsets per second
BRIGHTNESS_WORDS = ((1000.0, "dark"), (2500.0, "warm"), (float("inf"), "bright"))  # centroid Hz

_N_FFT = 4096  # 3.9 Hz bins at 16 kHz: fine enough to separate semitones down to about C3
_HOP = 512


@dataclass(frozen=True)
class MusicalFacts:
    tempo_bpm: float  # NaN when the segment has no pulse
    tempo_word: str
    key: str  # "A minor": the spelling mir_eval.key accepts
    key_strength: float  # correlation of the chroma with the winning key profile, -1..1
    rms_dbfs: float
    energy_word: str
    onsets_per_s: float
    density_word: str
    centroid_hz: float
    brightness_word: str

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def word_for(value: float, scale: tuple[tuple[float, str], ...]) -> str:
    """The word of the first band whose upper bound exceeds `value`."""
    for upper, word in scale:
        if value < upper:
            return word
    return scale[-1][1]


def chroma_of(power: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """librosa's STFT chroma of a power spectrogram, without its warning on unpitched audio.

    With no pitched frame (silence, a drum-only segment) librosa's tuning estimate warns "empty
    frequency set" and assumes a tuning of 0, which is the right answer here: the warning is noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Trying to estimate tuning from empty frequency set")
        return librosa.feature.chroma_stft(S=power, sr=sr, n_fft=n_fft)


def estimate_key(chroma: np.ndarray) -> tuple[str, float]:
    """Krumhansl-Schmuckler key finding: the major/minor profile rotation best correlated with the chroma.

    `chroma` is (12, frames) or (12,). Returns ("C major", correlation).
    """
    profile = np.asarray(chroma, dtype=float)
    profile = profile.mean(axis=1) if profile.ndim == 2 else profile
    if profile.shape != (12,):
        raise ValueError(f"chroma must have 12 pitch classes in its first axis, got shape {np.shape(chroma)}")
    if np.ptp(profile) == 0:  # silence: no rotation correlates with a flat profile
        return ("C major", 0.0)
    best = ("C major", -np.inf)
    for mode, template in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            r = np.corrcoef(profile, np.roll(template, tonic))[0, 1]
            if np.isfinite(r) and r > best[1]:
                best = (f"{PITCH_CLASSES[tonic]} {mode}", float(r))
    return best if np.isfinite(best[1]) else ("C major", 0.0)


def measure_facts(audio: np.ndarray, sr: int) -> MusicalFacts:
    """Tempo, key, energy, onset density and brightness of one mono segment."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or len(audio) == 0:
        raise ValueError(f"expected non-empty mono audio (1-D array), got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or infinite samples; reject the segment before describing it")
    duration_s = len(audio) / sr

    magnitude = np.abs(librosa.stft(audio, n_fft=_N_FFT, hop_length=_HOP))
    onset_env = librosa.onset.onset_strength(S=librosa.amplitude_to_db(magnitude), sr=sr, hop_length=_HOP)
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset_env, sr=sr, hop_length=_HOP, units="time")
    # The tracker's tempo is quantised to whole-frame beat periods (3 % at 140 BPM); the span of
    # many tracked beats pins the period down to a frame over the whole segment instead.
    beats = np.asarray(beats)
    tempo_bpm = 60.0 * (len(beats) - 1) / (beats[-1] - beats[0]) if len(beats) >= 4 else float(np.atleast_1d(tempo)[0])
    onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sr, hop_length=_HOP)

    key, key_strength = estimate_key(chroma_of(magnitude**2, sr, _N_FFT))
    rms_dbfs = float(20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))) + 1e-10))
    # Frames weighted by their energy, so quiet tails do not drag the brightness down.
    frame_power = np.sum(magnitude**2, axis=0)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=_N_FFT)[0]
    centroid_hz = float(np.sum(centroid * frame_power) / np.sum(frame_power)) if frame_power.sum() > 0 else 0.0

    onsets_per_s = len(onsets) / duration_s
    pulsed = onsets_per_s >= MIN_PULSE_ONSETS_PER_S and len(onsets) >= 4
    return MusicalFacts(
        tempo_bpm=tempo_bpm if pulsed else float("nan"),
        tempo_word=word_for(tempo_bpm, TEMPO_WORDS) if pulsed else NO_PULSE_WORD,
        key=key,
        key_strength=key_strength,
        rms_dbfs=rms_dbfs,
        energy_word=word_for(rms_dbfs, ENERGY_WORDS),
        onsets_per_s=onsets_per_s,
        density_word=word_for(onsets_per_s, DENSITY_WORDS),
        centroid_hz=centroid_hz,
        brightness_word=word_for(centroid_hz, BRIGHTNESS_WORDS),
    )
