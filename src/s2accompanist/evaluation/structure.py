"""Does a generated clip follow the section structure its prompt asked for?

Two views:
- boundary hit rate: of the section changes the prompt requested, the share that an audio
  segmenter finds within `tolerance` seconds (mir_eval's one-to-one boundary matching, with the
  clip's start and end left out since every segmentation has them);
- segment alignment: per requested segment, the cosine between the audio embedding of that
  stretch of the clip and the text embedding of its caption, plus how often a segment's audio is
  closer to its own caption than to the other captions of the same clip.

Both carry a percentile-bootstrap interval over clips (evaluation/bootstrap.py), like FAD, CLAP
score and CCS: the clip, not the boundary or the segment, is the unit that was sampled; or, given
each clip's cluster (its song), over clusters.
"""

from __future__ import annotations

from typing import Sequence

import mir_eval
import numpy as np
import pandas as pd

from s2accompanist.evaluation.bootstrap import bootstrap_interval, mean_with_ci
from s2accompanist.evaluation.clap_score import paired_cosine


def interior_boundaries(intervals: np.ndarray) -> np.ndarray:
    """Boundary times between segments, without the first start and the last end."""
    return mir_eval.util.intervals_to_boundaries(np.asarray(intervals, dtype=np.float64))[1:-1]


def boundary_hit_rate(
    requested_intervals: Sequence[np.ndarray],
    estimated_intervals: Sequence[np.ndarray],
    tolerance: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    clusters: Sequence | None = None,
) -> dict:
    """Share of requested boundaries with an estimated boundary within +-`tolerance` seconds.

    Each item gives (k, 2) arrays of segment [start, end] times in seconds. Items whose request
    has a single segment have no boundary to hit: they are left out and counted in `n_excluded`.
    Returns {"value" (hits pooled over all requested boundaries), "low", "high" (bootstrap over
    scored items, or over `clusters`, one label per item; each resample pooled the same way), "n_boot", "ci", "n_boundaries", "n_hits",
    "n_items", "n_excluded", "per_item" (recall per item, NaN where excluded)}.
    """
    hits_of, boundaries_of, _, scored = _boundary_counts(requested_intervals, estimated_intervals, tolerance)
    per_item = np.full(len(requested_intervals), np.nan)
    per_item[scored] = hits_of / boundaries_of
    # Pooled, not averaged per item: a clip asking for five changes weighs more than one asking for one.
    low, high = bootstrap_interval(lambda idx: hits_of[idx].sum() / boundaries_of[idx].sum(), len(scored),
                                   n_boot, seed, ci, None if clusters is None else np.asarray(clusters)[scored])
    n_items = int(np.isfinite(per_item).sum())
    return {
        "value": float(hits_of.sum() / boundaries_of.sum()),
        "low": low,
        "high": high,
        "n_boot": int(n_boot),
        "ci": float(ci),
        "n_boundaries": int(boundaries_of.sum()),
        "n_hits": int(hits_of.sum()),
        "n_items": n_items,
        "n_excluded": len(per_item) - n_items,
        "per_item": per_item,
    }


def boundary_detection(
    requested_intervals: Sequence[np.ndarray],
    estimated_intervals: Sequence[np.ndarray],
    tolerance: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    clusters: Sequence | None = None,
) -> dict:
    """Boundary precision, recall and F (mir_eval's one-to-one matching within +-`tolerance` s),
    hits pooled over items; recall alone rewards a segmenter that cuts everywhere, precision says
    how many of the clip's changes were asked for. Items requesting one segment are left out.
    Returns {"precision", "recall", "f"} each as {"value", "low", "high"} (bootstrap over items or
    `clusters`), and "n_items"."""
    hits, n_requested, n_estimated, scored = _boundary_counts(requested_intervals, estimated_intervals, tolerance)

    def scores(idx: np.ndarray) -> tuple[float, float, float]:
        precision = hits[idx].sum() / max(n_estimated[idx].sum(), 1)
        recall = hits[idx].sum() / n_requested[idx].sum()
        return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)

    item_clusters = None if clusters is None else np.asarray(clusters)[scored]
    result = {"n_items": len(scored)}
    for position, name in enumerate(("precision", "recall", "f")):
        low, high = bootstrap_interval(lambda idx: scores(idx)[position], len(scored), n_boot, seed, ci, item_clusters)
        result[name] = {"value": float(scores(np.arange(len(scored)))[position]), "low": low, "high": high}
    return result


def segment_alignment(audio_emb: np.ndarray, caption_emb: np.ndarray, item_ids: Sequence,
                      n_boot: int = 1000, seed: int = 0, ci: float = 0.95, item_clusters: dict | None = None) -> dict:
    """Per-segment audio-caption cosine, averaged within each clip and then over clips.

    Row i of `audio_emb` is segment i's audio, row i of `caption_emb` its caption, `item_ids[i]`
    its clip. `own_caption_rate` is, over segments of clips with at least two segments, the share
    whose audio is most similar to its own caption among that clip's captions (None when no clip
    has two); `own_caption_chance` is that share when the best caption is a random pick (1/k for a
    segment of a clip with k segments, averaged alike). Returns {"value", "low", "high" (bootstrap
    over clips, or over the clusters `item_clusters` maps item ids to), "n_boot", "ci", "own_caption_rate", "own_caption_chance", "per_item" (Series
    indexed by item id)}.
    """
    cosines = paired_cosine(audio_emb, caption_emb)
    item_ids = np.asarray(item_ids)
    if item_ids.shape != cosines.shape:
        raise ValueError(f"item_ids has shape {item_ids.shape}; give one id per segment row ({cosines.size})")
    per_item = pd.Series(cosines).groupby(item_ids, sort=False).mean()

    audio_unit = _unit_rows(audio_emb)
    caption_unit = _unit_rows(caption_emb)
    own_best, chance = [], []
    for item in per_item.index:
        rows = np.flatnonzero(item_ids == item)
        if rows.size < 2:
            continue
        similarity = audio_unit[rows] @ caption_unit[rows].T
        own_best.extend(np.argmax(similarity, axis=1) == np.arange(rows.size))
        chance.extend([1.0 / rows.size] * rows.size)
    return {
        **mean_with_ci(per_item.to_numpy(dtype=np.float64), n_boot, seed, ci,
                       None if item_clusters is None else [item_clusters[item] for item in per_item.index]),
        "own_caption_rate": float(np.mean(own_best)) if own_best else None,
        "own_caption_chance": float(np.mean(chance)) if chance else None,
        "per_item": per_item,
    }


def _boundary_counts(requested_intervals: Sequence[np.ndarray], estimated_intervals: Sequence[np.ndarray],
                     tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per item that requests a boundary: hits, requested and estimated interior boundaries, and
    its index; items requesting one segment are left out. Raises when none is left."""
    if len(requested_intervals) != len(estimated_intervals):
        raise ValueError(
            f"{len(requested_intervals)} requested segmentations but {len(estimated_intervals)} "
            "estimated ones; give one estimate per generated clip"
        )
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive seconds, got {tolerance!r}; MIREX reports 0.5 and 3.0")
    counts = []
    for item, (requested, estimated) in enumerate(zip(requested_intervals, estimated_intervals)):
        requested = _check_intervals(requested, f"requested intervals of item {item}")
        estimated = _check_intervals(estimated, f"estimated intervals of item {item}")
        wanted = interior_boundaries(requested).size
        if wanted:
            counts.append((_hits(requested, estimated, tolerance, wanted), wanted, interior_boundaries(estimated).size, item))
    if not counts:
        raise ValueError("no item requests more than one segment; boundary hit rate, precision and recall are undefined")
    return tuple(np.array(column) for column in zip(*counts))


def _hits(requested: np.ndarray, estimated: np.ndarray, tolerance: float, n_requested: int) -> int:
    # mir_eval warns and scores 0 when the estimate has no interior boundary; that is simply no hit.
    if interior_boundaries(estimated).size == 0:
        return 0
    _, recall, _ = mir_eval.segment.detection(requested, estimated, window=tolerance, trim=True)
    return int(round(recall * n_requested))


def _check_intervals(intervals: np.ndarray, name: str) -> np.ndarray:
    intervals = np.asarray(intervals, dtype=np.float64)
    if intervals.ndim != 2 or intervals.shape[1] != 2 or intervals.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty (k, 2) array of [start, end] seconds, got shape {intervals.shape}"
        )
    if not np.isfinite(intervals).all() or (intervals[:, 1] < intervals[:, 0]).any() or (intervals < 0).any():
        raise ValueError(
            f"{name} must hold finite, non-negative [start, end] pairs with start <= end: {intervals.tolist()}"
        )
    return intervals


def _unit_rows(emb: np.ndarray) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float64)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)
