"""Frechet Audio Distance between two sets of embeddings, computed as fadtk computes it.

The ATTM challenge scores FAD with fadtk (`clap-laion-music` embeddings), so the formula here
follows fadtk's `calc_embd_statistics` and `calc_frechet_distance` step for step: sample mean
and `np.cov(rowvar=False)` (ddof=1), the matrix square root of cov_ref @ cov_eval by eigen-
decomposition, a retry with `eps` on both diagonals through `scipy.linalg.sqrtm` when that root
is not finite, and the real part kept only when the imaginary diagonal is negligible.
fadtk additionally computes `sqrtm` of the same product only to log a warning when the two roots
disagree; that check changes no value and is left out here.

Argument order follows fadtk's `score(baseline, eval)`: reference first. The distance is
symmetric in exact arithmetic; the order only decides which product is decomposed, i.e. rounding.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
from scipy import linalg

from s2accompanist.evaluation.bootstrap import bootstrap_values, check_bootstrap_args, percentile_interval

log = logging.getLogger(__name__)

# fadtk's tolerance for the imaginary part of the root's diagonal before it refuses the result.
IMAGINARY_TOLERANCE = 1e-3


def check_embeddings(emb: np.ndarray, name: str) -> np.ndarray:
    """Return `emb` as a float array of shape (n >= 2, d), or raise naming what is wrong."""
    emb = np.asarray(emb)
    if not np.issubdtype(emb.dtype, np.floating):
        emb = emb.astype(np.float64)
    if emb.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (clips x dims), got shape {emb.shape}")
    if emb.shape[0] < 2:
        raise ValueError(
            f"{name} has {emb.shape[0]} row(s); a covariance needs at least 2 embeddings, "
            "so evaluate more clips"
        )
    bad_rows = np.flatnonzero(~np.isfinite(emb).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"{name} has non-finite values (NaN or inf) in {bad_rows.size} row(s), first at row "
            f"{bad_rows[0]}; re-run the embedder on those clips or drop them"
        )
    return emb


def embedding_statistics(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof=1) over rows, as fadtk's `calc_embd_statistics`."""
    return np.mean(emb, axis=0), np.cov(emb, rowvar=False)


def frechet_distance_from_stats(
    mu_ref: np.ndarray, cov_ref: np.ndarray, mu_eval: np.ndarray, cov_eval: np.ndarray, eps: float = 1e-6
) -> float:
    """||mu_ref - mu_eval||^2 + Tr(C_ref + C_eval - 2 (C_ref C_eval)^(1/2)), fadtk's numerics."""
    mu_ref, mu_eval = np.atleast_1d(mu_ref), np.atleast_1d(mu_eval)
    cov_ref, cov_eval = np.atleast_2d(cov_ref), np.atleast_2d(cov_eval)
    if mu_ref.shape != mu_eval.shape or cov_ref.shape != cov_eval.shape:
        raise ValueError(
            f"statistics differ in dimension: mean {mu_ref.shape} vs {mu_eval.shape}, "
            f"covariance {cov_ref.shape} vs {cov_eval.shape}; both sets must come from one embedder"
        )
    diff = mu_ref - mu_eval

    eigenvalues, eigenvectors = linalg.eig(cov_ref.dot(cov_eval))
    # emath.sqrt gives complex roots of the slightly negative eigenvalues of a singular product.
    covmean = (eigenvectors * np.emath.sqrt(eigenvalues)) @ linalg.inv(eigenvectors)

    if not np.isfinite(covmean).all():
        log.info("singular covariance product; adding %s to both diagonals", eps)
        offset = np.eye(cov_ref.shape[0]) * eps
        covmean = linalg.sqrtm((cov_ref + offset).dot(cov_eval + offset))

    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_TOLERANCE):
            raise ValueError(
                f"matrix square root has an imaginary component of {np.max(np.abs(covmean.imag)):.3g}; "
                "the covariances are badly conditioned: use more clips than embedding dimensions"
            )
        covmean = covmean.real

    return float(diff.dot(diff) + np.trace(cov_ref) + np.trace(cov_eval) - 2 * np.trace(covmean))


def frechet_distance(emb_ref: np.ndarray, emb_eval: np.ndarray) -> float:
    """Frechet distance between the Gaussians fitted to two embedding sets (rows are clips)."""
    emb_ref = check_embeddings(emb_ref, "reference embeddings")
    emb_eval = check_embeddings(emb_eval, "evaluation embeddings")
    _check_same_dims(emb_ref, emb_eval)
    return frechet_distance_from_stats(*embedding_statistics(emb_ref), *embedding_statistics(emb_eval))


def fad_with_ci(
    emb_eval: np.ndarray,
    emb_ref: np.ndarray,
    n_boot: int,
    seed: int,
    ci: float = 0.95,
    eval_clip_ids: Sequence | None = None,
    eval_clusters: Sequence | None = None,
) -> dict:
    """FAD with a bias-shifted percentile-bootstrap interval from resampling evaluation clips.

    The reference set stays fixed (it plays the role of the challenge's reference statistics).
    Rows of `emb_eval` are clips unless `eval_clip_ids` says which rows belong to one clip
    (an embedder emitting several windows per clip); then whole clips are resampled together.
    `eval_clusters` (one label per clip, e.g. its song) resamples whole clusters of clips instead.
    Returns {"value", "low", "high", "n_boot", "ci"}.
    """
    emb_ref = check_embeddings(emb_ref, "reference embeddings")
    emb_eval = check_embeddings(emb_eval, "evaluation embeddings")
    _check_same_dims(emb_ref, emb_eval)
    check_bootstrap_args(n_boot, ci)
    clip_rows = _rows_per_clip(emb_eval.shape[0], eval_clip_ids)
    if len(clip_rows) < 2:
        raise ValueError(f"evaluation embeddings cover {len(clip_rows)} clip; bootstrapping needs at least 2")

    mu_ref, cov_ref = embedding_statistics(emb_ref)
    value = frechet_distance_from_stats(mu_ref, cov_ref, *embedding_statistics(emb_eval))

    def resampled_fad(clip_indices: np.ndarray) -> float:
        rows = np.concatenate([clip_rows[i] for i in clip_indices])
        return frechet_distance_from_stats(mu_ref, cov_ref, *embedding_statistics(emb_eval[rows]))

    # A resample repeats clips, which shrinks its covariance and inflates its FAD: every resampled
    # value lies above the estimate and a plain percentile interval can miss it. The resamples are
    # shifted by that bootstrap estimate of the bias (their median minus the estimate) first.
    values = bootstrap_values(resampled_fad, len(clip_rows), n_boot, seed, eval_clusters)
    low, high = percentile_interval(values - (float(np.median(values)) - value), ci)
    return {"value": value, "low": low, "high": high, "n_boot": int(n_boot), "ci": float(ci)}


# Extrapolation in 1/n holds while clips outnumber embedding dimensions; below about twice as many
# it stays biased (two samples of one 128-d Gaussian at n = 80: FAD 99, extrapolated 58).
FAD_INFINITY_MIN_RATIO = 2.0


def fad_infinity(emb_eval: np.ndarray, emb_ref: np.ndarray, seed: int,
                 fractions: Sequence[float] = (0.5, 0.625, 0.75, 0.875, 1.0), draws: int = 4) -> dict:
    """FAD extrapolated to infinitely many clips on both sides, after fadtk's FAD-infinity.

    A covariance from few clips is noisy, which adds roughly b / n_eval + c / n_ref to FAD. FAD is
    computed on subsets drawn without replacement at each pair of `fractions` of the evaluation and
    reference sets (`draws` per pair), fitted as a + b / n_eval + c / n_ref, and the intercept a
    returned. fadtk extrapolates the evaluation side only, against a large reference set; ours has
    as few clips as the evaluation set, so both sides are. `reliable` is False where either set has
    fewer than FAD_INFINITY_MIN_RATIO clips per dimension. Returns {"value", "reliable", "n_eval",
    "n_ref", "dims"}."""
    emb_ref = check_embeddings(emb_ref, "reference embeddings")
    emb_eval = check_embeddings(emb_eval, "evaluation embeddings")
    _check_same_dims(emb_ref, emb_eval)
    rng = np.random.default_rng(seed)
    design, fads = [], []
    for eval_fraction in fractions:
        for ref_fraction in fractions:
            n_eval, n_ref = (max(2, int(round(f * len(e)))) for f, e in ((eval_fraction, emb_eval), (ref_fraction, emb_ref)))
            for _ in range(1 if n_eval == len(emb_eval) and n_ref == len(emb_ref) else draws):
                eval_rows = rng.choice(len(emb_eval), size=n_eval, replace=False)
                ref_rows = rng.choice(len(emb_ref), size=n_ref, replace=False)
                fads.append(frechet_distance_from_stats(*embedding_statistics(emb_ref[ref_rows]), *embedding_statistics(emb_eval[eval_rows])))
                design.append([1.0, 1.0 / n_eval, 1.0 / n_ref])
    design = np.array(design)
    if np.linalg.matrix_rank(design) < 3:
        raise ValueError(f"FAD-infinity needs subsets of several sizes; {len(emb_eval)} and {len(emb_ref)} clips give too few")
    intercept = float(np.linalg.lstsq(design, np.array(fads), rcond=None)[0][0])
    dims = emb_eval.shape[1]
    return {"value": intercept, "reliable": min(len(emb_eval), len(emb_ref)) >= FAD_INFINITY_MIN_RATIO * dims,
            "n_eval": len(emb_eval), "n_ref": len(emb_ref), "dims": dims}


def _check_same_dims(emb_ref: np.ndarray, emb_eval: np.ndarray) -> None:
    if emb_ref.shape[1] != emb_eval.shape[1]:
        raise ValueError(
            f"reference embeddings have {emb_ref.shape[1]} dims but evaluation embeddings have "
            f"{emb_eval.shape[1]}; embed both sets with the same backend"
        )


def _rows_per_clip(n_rows: int, clip_ids: Sequence | None) -> list[np.ndarray]:
    if clip_ids is None:
        return [np.array([i]) for i in range(n_rows)]
    clip_ids = np.asarray(clip_ids)
    if clip_ids.shape != (n_rows,):
        raise ValueError(f"eval_clip_ids has shape {clip_ids.shape}; give one id per embedding row ({n_rows})")
    # Order clips by first appearance so the resampling, and hence the interval, is reproducible.
    _, first_rows, inverse = np.unique(clip_ids, return_index=True, return_inverse=True)
    order = np.argsort(first_rows)
    return [np.flatnonzero(inverse == group) for group in order]
