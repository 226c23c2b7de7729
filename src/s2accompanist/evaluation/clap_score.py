"""CLAP score: how well each generated clip matches its own prompt in a joint audio-text space.

Per item, the cosine similarity between the clip's audio embedding and its prompt's text
embedding; the score is the mean over items (ATTM reports it unscaled, e.g. 0.261), with a
percentile-bootstrap interval over items. Embeddings are normalised here, so callers may pass
raw or already L2-normalised vectors.
"""

from __future__ import annotations

import numpy as np

from s2accompanist.evaluation.bootstrap import mean_with_ci


def paired_cosine(audio_emb: np.ndarray, text_emb: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, d) arrays; row i of one is paired with row i of the other."""
    audio_emb = np.asarray(audio_emb, dtype=np.float64)
    text_emb = np.asarray(text_emb, dtype=np.float64)
    if audio_emb.ndim != 2 or audio_emb.shape != text_emb.shape:
        raise ValueError(
            f"audio embeddings {audio_emb.shape} and text embeddings {text_emb.shape} must both be "
            "(items, dims) with one text row per audio row"
        )
    if audio_emb.shape[0] == 0:
        raise ValueError("no items to score: both embedding arrays are empty")
    for name, emb in (("audio", audio_emb), ("text", text_emb)):
        norms = np.linalg.norm(emb, axis=1)
        bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
        if bad.size:
            raise ValueError(
                f"{name} embedding row {bad[0]} (and {bad.size - 1} more) is zero or not finite; "
                "re-embed those items"
            )
    audio_unit = audio_emb / np.linalg.norm(audio_emb, axis=1, keepdims=True)
    text_unit = text_emb / np.linalg.norm(text_emb, axis=1, keepdims=True)
    return np.einsum("ij,ij->i", audio_unit, text_unit)


def clap_score(audio_emb: np.ndarray, text_emb: np.ndarray, n_boot: int, seed: int, ci: float = 0.95,
               clusters=None) -> dict:
    """Mean paired cosine with its bootstrap interval (over items, or over `clusters`, e.g. songs).

    Returns {"value", "low", "high", "n_boot", "ci", "per_item"}; `per_item` is the (n,) array
    of cosines in input order, for per-prompt tables and listening pages.
    """
    per_item = paired_cosine(audio_emb, text_emb)
    return {**mean_with_ci(per_item, n_boot, seed, ci, clusters), "per_item": per_item}
