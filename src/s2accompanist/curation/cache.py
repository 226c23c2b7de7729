"""Per-item results of curation steps, stored by content hash so that reruns reuse them.

A result is keyed by what determines it: the hash of its input content (audio samples, not file
names), the step's backend name and params, and a version string the step's code defines. So an
interrupted run resumes where it stopped, and changing one step's backend recomputes that step
only. Every value goes through its codec on a miss too, so a hit returns exactly what a miss
returns, and a run without a cache folder gives the same tables as a run with one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..io import atomic_path


@dataclass(frozen=True)
class Codec:
    """How a step's value becomes bytes and back; `suffix` names the stored file's type."""

    suffix: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays are what measured values and tag lists hold.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a cached value cannot hold {type(value).__name__}: {value!r}")


def _encode_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=_json_default).encode()


def _encode_array(value: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value), allow_pickle=False)
    return buffer.getvalue()


def _decode_array(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


JSON = Codec(".json", _encode_json, json.loads)
ARRAY = Codec(".npy", _encode_array, _decode_array)


def audio_digest(audio: np.ndarray, sample_rate: int) -> str:
    """sha256 of the samples with their dtype, shape and rate: equal audio, equal digest."""
    audio = np.ascontiguousarray(audio)
    digest = hashlib.sha256(f"{audio.dtype.str}{audio.shape}@{sample_rate}".encode())
    digest.update(audio.tobytes())
    return digest.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, or 'missing' when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def item_key(**parts: Any) -> str:
    """One sha256 over JSON-serialisable parts (content digests, backend params, code version)."""
    return hashlib.sha256(_encode_json(parts)).hexdigest()


class ItemCache:
    """Step results under root/<step>/<key[:2]>/<key><suffix>; root None stores nothing.

    `counts` tallies (step, "hit" | "miss") for this object's lookups. A stored file that cannot
    be decoded (written by another version of the codec, or damaged) counts as a miss and is
    replaced.
    """

    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root is not None else None
        self.counts: Counter[tuple[str, str]] = Counter()

    def path(self, step: str, key: str, codec: Codec) -> Path:
        return self.root / step / key[:2] / f"{key}{codec.suffix}"

    def get_or_compute(self, step: str, key: str, codec: Codec, compute: Callable[[], Any]) -> Any:
        if self.root is not None:
            stored = self.path(step, key, codec)
            if stored.is_file():
                try:
                    value = codec.decode(stored.read_bytes())
                except (ValueError, EOFError):
                    pass  # undecodable: recompute and overwrite below
                else:
                    self.counts[step, "hit"] += 1
                    return value
        self.counts[step, "miss"] += 1
        blob = codec.encode(compute())
        if self.root is not None:
            with atomic_path(self.path(step, key, codec)) as tmp:
                tmp.write_bytes(blob)
        return codec.decode(blob)
