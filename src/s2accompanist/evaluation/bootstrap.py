"""Percentile bootstrap over evaluation items, shared by FAD, CLAP score, CCS and structure metrics.

Every metric resamples *items* (clips, prompts) with replacement, recomputes itself on the
resample, and reports the central `ci` interval of the resampled values. Where items come in
clusters (clips cut from one held-out song share its tempo, key and timbre) `clusters` names each
item's cluster and whole clusters are drawn instead: resampling clips as if independent makes the
interval too narrow (tests/evaluation/test_bootstrap.py measures by how much). One seeded generator
per call keeps intervals identical across runs with the same seed.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def check_bootstrap_args(n_boot: int, ci: float) -> None:
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}; use e.g. 1000")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must lie strictly between 0 and 1, got {ci!r}; use e.g. 0.95")


def bootstrap_values(
    statistic: Callable[[np.ndarray], float],
    n_items: int,
    n_boot: int,
    seed: int,
    clusters: Sequence | np.ndarray | None = None,
) -> np.ndarray:
    """`statistic(indices)` on each of `n_boot` resamples of range(n_items) with replacement.

    With `clusters` (one label per item) each resample draws the clusters with replacement, as
    many as there are, and hands `statistic` the indices of every item of the drawn clusters."""
    rng = np.random.default_rng(seed)
    if clusters is None:
        return np.array([statistic(rng.integers(0, n_items, size=n_items)) for _ in range(n_boot)])
    members = cluster_members(clusters, n_items)
    return np.array([statistic(np.concatenate([members[c] for c in rng.integers(0, len(members), size=len(members))]))
                     for _ in range(n_boot)])


def percentile_interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    tail = (1.0 - ci) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    n_items: int,
    n_boot: int,
    seed: int,
    ci: float = 0.95,
    clusters: Sequence | np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile interval of `statistic(indices)` over `n_boot` resamples (`bootstrap_values`)."""
    check_bootstrap_args(n_boot, ci)
    return percentile_interval(bootstrap_values(statistic, n_items, n_boot, seed, clusters), ci)


def cluster_members(clusters: Sequence | np.ndarray, n_items: int) -> list[np.ndarray]:
    """Item indices of each cluster, clusters in order of first appearance (a reproducible draw)."""
    clusters = np.asarray(clusters)
    if clusters.shape != (n_items,):
        raise ValueError(f"clusters has shape {clusters.shape}; give one cluster label per item ({n_items})")
    _, first, inverse = np.unique(clusters, return_index=True, return_inverse=True)
    return [np.flatnonzero(inverse == group) for group in np.argsort(first)]


def mean_with_ci(per_item: np.ndarray, n_boot: int, seed: int, ci: float = 0.95,
                 clusters: Sequence | np.ndarray | None = None) -> dict:
    """Mean of per-item scores with a percentile-bootstrap interval over items, or over `clusters`."""
    per_item = np.asarray(per_item, dtype=np.float64)
    if per_item.ndim != 1 or per_item.size == 0:
        raise ValueError(f"per-item scores must be a non-empty 1-D array, got shape {per_item.shape}")
    low, high = bootstrap_interval(lambda idx: float(per_item[idx].mean()), per_item.size, n_boot, seed, ci, clusters)
    return {"value": float(per_item.mean()), "low": low, "high": high, "n_boot": int(n_boot), "ci": float(ci)}


def clustered_mean_with_ci(per_item: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int, ci: float = 0.95) -> dict:
    """Mean of per-item scores with a percentile-bootstrap interval that resamples *clusters*.

    Clips cut from one song share its tempo, key and timbre, so they are not independent draws:
    resampling clips would make the interval too narrow. Each resample draws the clusters (songs)
    with replacement and takes the mean over every item of the drawn clusters. NaN items (a clip
    with nothing to score) are left out before anything is drawn; `n` and `n_clusters` count the rest.
    """
    per_item, clusters = np.asarray(per_item, dtype=np.float64), np.asarray(clusters)
    if per_item.ndim != 1 or per_item.shape != clusters.shape:
        raise ValueError(f"per-item scores and clusters must be 1-D and of one length, got {per_item.shape} and {clusters.shape}")
    keep = np.isfinite(per_item)
    per_item, clusters = per_item[keep], clusters[keep]
    if per_item.size == 0:
        raise ValueError("no finite per-item score to average")
    names, index = np.unique(clusters, return_inverse=True)
    sums = np.bincount(index, weights=per_item, minlength=len(names))
    counts = np.bincount(index, minlength=len(names)).astype(np.float64)
    low, high = bootstrap_interval(lambda drawn: float(sums[drawn].sum() / counts[drawn].sum()), len(names), n_boot, seed, ci)
    return {"value": float(per_item.mean()), "low": low, "high": high, "n": int(per_item.size),
            "n_clusters": int(len(names)), "n_boot": int(n_boot), "ci": float(ci)}
