"""A text featurizer without learned weights: hashed words and word pairs.

The evaluation's judge (training/base_judge.py) must not read a prompt through the model that
conditions the DiT on it (MiniLM in the default profile): a judge sharing the generator's text
encoder shares its blind spots. This featurizer reads only the words: each lower-cased word and each
pair of neighbouring words is hashed (CRC-32, stable across processes and machines, unlike
Python's `hash`) to one of `dim` buckets with a sign, and the vector is L2-normalised. "125 BPM"
becomes the words "125" and "bpm" and the pair "125 bpm". The judge's text branch (an MLP, as in
the reference CLAP) learns what the buckets mean.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

BACKEND = "hashed_words"
WORD = re.compile(r"[a-z0-9]+")


class HashedText(NamedTuple):
    pooled: torch.Tensor  # (N, dim) float32, unit rows (zero for a text without words)


class HashedWords:
    """`encode(texts).pooled` as the sentence encoders give it, so it can stand in for one."""

    backend = BACKEND

    def __init__(self, dim: int = 384):
        if dim < 2:
            raise ValueError(f"HashedWords needs at least 2 buckets, got dim={dim}")
        self.dim = dim

    def features(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(rows, texts):
            words = WORD.findall(str(text).lower())
            for term in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
                code = zlib.crc32(term.encode("utf-8"))
                row[code % self.dim] += 1.0 if (code >> 31) & 1 else -1.0
            norm = float(np.linalg.norm(row))
            if norm > 0:
                row /= norm
        return rows

    def encode(self, texts: Sequence[str]) -> HashedText:
        return HashedText(torch.from_numpy(self.features(texts)))
