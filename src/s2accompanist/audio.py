"""Decode, check, resample, mix down, loudness-normalise and write audio.

The only module that opens audio files. Arrays are float32 shaped (channels, samples); writers
also accept (samples,) for mono. Bad input raises `AudioError` with a short machine `reason`,
so stages can record it in their rejects table and move on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .io import atomic_path

# Keeps log10 finite for digital silence; far below any level we act on.
_EPS = 1e-12
_READ_BLOCK_FRAMES = 1 << 18
_SUBTYPE_BY_SUFFIX = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".mp3": ("MP3", "MPEG_LAYER_III")}
# Only floating-point encodings can store NaN or Inf; integer PCM and lossy decoders cannot produce them.
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
_PROBE_S = 1.0  # seconds decoded at each end of a file by `probe_audio`
_SCAN_BLOCK = 1 << 18  # frames per block when scanning float files for non-finite samples


class AudioError(ValueError):
    """An audio file cannot be used; `reason` is a short code for rejects tables."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def load_audio(
    path: str | os.PathLike,
    sample_rate: int,
    channels: int,
    *,
    min_duration_s: float = 0.0,
    silence_dbfs: float = -60.0,
) -> np.ndarray:
    """Decode `path` to float32 (channels, samples) at `sample_rate`, rejecting unusable audio.

    Raises AudioError with reason unreadable, empty, non_finite, silent or too_short.
    Silence is judged on RMS over the whole file, before resampling.
    """
    path = Path(path)
    try:
        data, file_rate = _decode(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError("unreadable", f"cannot decode audio file {path}: {err}") from err
    audio = np.ascontiguousarray(data.T)
    if audio.shape[1] == 0:
        raise AudioError("empty", f"audio file {path} holds no samples")
    if not np.isfinite(audio).all():
        raise AudioError("non_finite", f"audio file {path} contains NaN or infinite samples")
    level = rms_dbfs(audio)
    if level < silence_dbfs:
        raise AudioError(
            "silent", f"audio file {path} is silent: RMS {level:.1f} dBFS is below the {silence_dbfs} dBFS threshold"
        )
    duration_s = audio.shape[1] / file_rate
    if duration_s < min_duration_s:
        raise AudioError(
            "too_short", f"audio file {path} lasts {duration_s:.2f} s, shorter than the required {min_duration_s} s"
        )
    audio = to_channels(resample(audio, file_rate, sample_rate), channels)
    if not np.isfinite(audio).all():
        raise AudioError(
            "non_finite", f"audio file {path} overflows when resampled or mixed down: its peak is {np.abs(data).max():.3g} (full scale 1.0)"
        )
    return audio


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(float32 frames x channels, sample rate), read block by block up to the real end of the data.

    Not `sf.read`: it allocates what the header promises, and a header may promise 2**63 frames
    (a FLAC whose length is "unknown") or something stale (a file rewritten while we read it);
    numpy then raises ValueError, which is no AudioError.
    """
    with sf.SoundFile(path) as handle:
        blocks = []
        while True:
            block = handle.read(_READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
            blocks.append(block)
            if len(block) < _READ_BLOCK_FRAMES:
                return np.concatenate(blocks), handle.samplerate


@dataclass(frozen=True)
class AudioInfo:
    """What `probe_audio` learned about a file; `format` is the container found in its content."""

    frames: int
    sample_rate: int
    channels: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def probe_audio(path: str | os.PathLike, *, min_duration_s: float = 0.0) -> AudioInfo:
    """Check cheaply that `path` is decodable audio, without decoding all of it.

    Reads the header, then the first and last second: a file whose end cannot be read is
    truncated. Float-encoded files are also scanned whole for NaN / Inf, the only encodings that
    can hold them. The container is recognised from content, not suffix. Raises AudioError with
    reason empty, unreadable, too_short, truncated or non_finite.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise AudioError("empty", f"audio file {path} is 0 bytes long")
        with sf.SoundFile(path) as f:
            info = AudioInfo(f.frames, f.samplerate, f.channels, f.format, f.subtype)
            if info.frames == 0:
                raise AudioError("empty", f"audio file {path} holds no samples")
            if info.duration_s < min_duration_s:
                raise AudioError(
                    "too_short", f"audio file {path} lasts {info.duration_s:.4f} s, shorter than the required {min_duration_s} s"
                )
            probe = min(info.frames, int(_PROBE_S * info.sample_rate))
            head = f.read(probe, dtype="float32", always_2d=True)
            f.seek(info.frames - probe)
            tail = f.read(probe, dtype="float32", always_2d=True)
            if len(head) < probe or len(tail) < probe:
                raise AudioError(
                    "truncated",
                    f"audio file {path} ends early: its header promises {info.frames} frames but the last second cannot be decoded",
                )
            finite = np.isfinite(head).all() and np.isfinite(tail).all()
            if finite and info.subtype in _FLOAT_SUBTYPES:
                f.seek(0)
                finite = all(np.isfinite(block).all() for block in f.blocks(_SCAN_BLOCK, dtype="float32"))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError("unreadable", f"cannot decode audio file {path}: {err}") from err
    if not finite:
        raise AudioError("non_finite", f"audio file {path} contains NaN or infinite samples")
    return info


def writable_format(path: str | os.PathLike) -> tuple[str, str]:
    """soundfile's (format, subtype) for `path`'s suffix; a suffix it cannot write is a ValueError.

    Callers that compute before writing (generation) ask this first, so a bad name fails at once."""
    try:
        return _SUBTYPE_BY_SUFFIX[Path(path).suffix.lower()]
    except KeyError:
        raise ValueError(f"cannot write audio to {path}: use a {', '.join(_SUBTYPE_BY_SUFFIX)} suffix") from None


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> Path:
    """Write atomically, as 16-bit WAV or FLAC or as MP3 by the suffix of `path`; samples are clipped to [-1, 1]."""
    path = Path(path)
    file_format, subtype = writable_format(path)
    frames = np.clip(_as_2d(audio), -1.0, 1.0).T
    with atomic_path(path) as tmp:
        sf.write(tmp, frames, sample_rate, format=file_format, subtype=subtype)
    return path


def rms_dbfs(audio: np.ndarray) -> float:
    """Root-mean-square level over all channels, in dB relative to a full-scale square wave."""
    mean_square = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    return 10.0 * np.log10(mean_square + _EPS)


def normalize_loudness(audio: np.ndarray, target_dbfs: float) -> np.ndarray:
    """Scale so the RMS level (not perceptual LUFS) equals `target_dbfs`; silence is returned unchanged."""
    level = rms_dbfs(audio)
    if level <= 10.0 * np.log10(_EPS) + 1.0:
        return audio.astype(np.float32, copy=True)
    gain = 10.0 ** ((target_dbfs - level) / 20.0)
    return (audio * gain).astype(np.float32)


def to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Duplicate mono to `channels`; mix wider audio down to the mean of its channels, copied to each output channel."""
    if channels < 1:
        raise ValueError(f"channels must be at least 1, got {channels}")
    audio = _as_2d(audio)
    if audio.shape[0] == channels:
        return audio.astype(np.float32, copy=False)
    if audio.shape[0] == 1:
        return np.repeat(audio, channels, axis=0).astype(np.float32)
    if audio.shape[0] > channels:
        mono = audio.mean(axis=0, keepdims=True)
        return np.repeat(mono, channels, axis=0).astype(np.float32)
    raise ValueError(
        f"cannot convert {audio.shape[0]} channels to {channels}: only mono can be widened; mix down first"
    )


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample every channel with soxr's high-quality filter; shape (channels, samples) in and out."""
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    audio = _as_2d(audio)
    if sr_in == sr_out:
        return audio.astype(np.float32, copy=False)
    out = soxr.resample(np.ascontiguousarray(audio.T, dtype=np.float32), sr_in, sr_out, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


def _as_2d(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim == 1:
        return audio[None, :]
    if audio.ndim != 2:
        raise ValueError(f"audio must be shaped (samples,) or (channels, samples), got shape {audio.shape}")
    return audio
