"""One factor at a time: each ablation factor as the paired difference of two systems that differ in it alone.

The paper's ablation is cumulative; our trained variants are not a chain but each differs from
`sft-full` in one factor (the VAE, structure guidance, SFT), so each factor is read as `sft-full`
minus that variant, on the same prompts. Per-item metrics (CLAP score, CCS, tempo kept) are paired
per prompt; FAD, a property of a set, is paired by computing both systems' FAD on the same
resampled songs. Every interval resamples held-out songs (bootstrap.py), as the prompts were drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import bootstrap_interval, mean_with_ci
from .fad import embedding_statistics, frechet_distance_from_stats

# (factor, the system without it, the system with it). The last row is the scale: all of training.
ABLATION_FACTORS = (
    ("semantic VAE fine-tune (vs the base VAE)", "sft-plain_vae", "sft-full"),
    ("structure guidance and segment captions", "sft-no_structure", "sft-full"),
    ("SFT on the graded top 20 % (vs pretraining only)", "pretrain-full", "sft-full"),
    ("all training (vs the untrained DiT, the floor)", "untrained-full", "sft-full"),
)
# +1: higher is better; -1: lower is better.
DIRECTION = {"fad_clap": -1, "clap_score": 1, "ccs": 1, "ccs_margin": 1, "tempo_kept": 1}


def fad_difference(with_emb: np.ndarray, without_emb: np.ndarray, reference_emb: np.ndarray, songs: np.ndarray,
                   n_boot: int, seed: int) -> dict:
    """FAD(with) - FAD(without) against one reference set, rows of both paired by prompt, with an
    interval from resampling songs: both FADs are recomputed on the same drawn songs' clips."""
    mu_ref, cov_ref = embedding_statistics(reference_emb)

    def difference(rows: np.ndarray) -> float:
        return (frechet_distance_from_stats(mu_ref, cov_ref, *embedding_statistics(with_emb[rows]))
                - frechet_distance_from_stats(mu_ref, cov_ref, *embedding_statistics(without_emb[rows])))

    low, high = bootstrap_interval(difference, len(songs), n_boot, seed, clusters=songs)
    return {"value": difference(np.arange(len(songs))), "low": low, "high": high, "n": len(songs),
            "n_clusters": len(set(songs))}


# Differences below this are rounding, not a model's doing (two variants can sample the same clips).
ROUNDING = 1e-6


def verdict(difference: float, low: float, high: float, direction: int) -> str:
    if max(abs(low), abs(high)) < ROUNDING:
        return "no difference"
    if low <= 0.0 <= high:
        return "not separable"
    return "better" if difference * direction > 0 else "worse"


def ablation_differences(per_item: pd.DataFrame, reference_emb: np.ndarray, n_boot: int, seed: int,
                         musicality: pd.DataFrame | None = None, factors=ABLATION_FACTORS) -> pd.DataFrame:
    """One row per (factor, metric): both systems' values, the paired difference (with minus without)
    and its song-clustered interval. `per_item` is evaluate_system's per-item frame of every system
    (columns system, id, song, split, clap, ccs, ccs_margin, audio_embedding); `musicality` the per-clip
    musicality frame (system, id, track_id, tempo_kept). Factors whose systems are missing are skipped."""
    rows = []
    for factor, without, with_ in factors:
        a, b = (per_item[per_item["system"] == s].set_index("id") for s in (with_, without))
        if a.empty or b.empty:
            continue
        shared = a.index.intersection(b.index)
        a, b = a.loc[shared], b.loc[shared]
        songs = a["song"].to_numpy()
        results = {}
        in_dist = (a["split"] == "in_distribution").to_numpy()
        if in_dist.sum() >= 2:
            results["fad_clap"] = fad_difference(np.stack(a["audio_embedding"].to_numpy()[in_dist]),
                                                 np.stack(b["audio_embedding"].to_numpy()[in_dist]), reference_emb,
                                                 songs[in_dist], n_boot, seed)
            results["fad_clap"].update(with_value=_fad(a, in_dist, reference_emb), without_value=_fad(b, in_dist, reference_emb))
        for metric, column in (("clap_score", "clap"), ("ccs", "ccs"), ("ccs_margin", "ccs_margin")):
            if column in a and column in b and a[column].notna().any() and b[column].notna().any():
                results[metric] = _paired_mean(a[column], b[column], songs, n_boot, seed)
        if musicality is not None and "tempo_kept" in musicality:
            m_a, m_b = (musicality[musicality["system"] == s].set_index("id") for s in (with_, without))
            shared_m = m_a.index.intersection(m_b.index)
            if len(shared_m):
                results["tempo_kept"] = _paired_mean(m_a.loc[shared_m, "tempo_kept"], m_b.loc[shared_m, "tempo_kept"],
                                                     m_a.loc[shared_m, "track_id"].astype(str).to_numpy(), n_boot, seed)
        for metric, result in results.items():
            rows.append({"factor": factor, "without": without, "with": with_, "metric": metric,
                         "without_value": result["without_value"], "with_value": result["with_value"],
                         "difference": result["value"], "low": result["low"], "high": result["high"],
                         "n": result["n"], "n_songs": result["n_clusters"],
                         "verdict": verdict(result["value"], result["low"], result["high"], DIRECTION[metric])})
    return pd.DataFrame(rows)


def _fad(items: pd.DataFrame, in_dist: np.ndarray, reference_emb: np.ndarray) -> float:
    return frechet_distance_from_stats(*embedding_statistics(reference_emb),
                                       *embedding_statistics(np.stack(items["audio_embedding"].to_numpy()[in_dist])))


def _paired_mean(with_values: pd.Series, without_values: pd.Series, songs: np.ndarray, n_boot: int, seed: int) -> dict:
    with_values, without_values = with_values.astype(float).to_numpy(), without_values.astype(float).to_numpy()
    keep = np.isfinite(with_values) & np.isfinite(without_values)
    result = mean_with_ci(with_values[keep] - without_values[keep], n_boot, seed, clusters=songs[keep])
    return {**result, "with_value": float(with_values[keep].mean()), "without_value": float(without_values[keep].mean()),
            "n": int(keep.sum()), "n_clusters": len(set(songs[keep]))}
