"""The musicality table of the `evaluate` stage: per-clip scores (`musicality.clip_musicality`)
for every system and for the rows that bound them, summarised with song-clustered intervals.

Rows a reader needs to place a system:
- ceiling: the reference clips themselves (what the estimators find in the real thing), and each
  VAE's reconstruction of them (what any DiT decoding through that VAE can reach at best);
- floor: noise shaped to the reference spectrum, and the untrained DiT (the pipeline's own
  `untrained-full` system), against which each trained system's paired difference is given.

Only in-distribution prompts are scored: they come from held-out songs, which name the tempo and
key the clip should have and give the cluster (`track_id`) the intervals resample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..curation.executors import run_items
from ..generation import GenerationRequest
from ..progress import progress
from .bootstrap import clustered_mean_with_ci
from .musicality import KEY_BACKEND, NOTES_BACKEND, TEMPO_BACKEND, Notes, clip_musicality

# (column, what it is): the summary's metrics in table order.
METRICS = (
    ("tempo_kept", "share of clips at the requested tempo (4 %, octave errors allowed)"),
    ("key_score", "MIREX weighted key score against the requested key"),
    ("notes_in_key", "duration-weighted share of transcribed notes in the requested key's scale"),
    ("notes_per_s", "transcribed note onsets per second"),
    ("note_f", "note F-measure of a reconstruction's transcription against the original's (onsets within 50 ms)"),
)
BACKENDS = {"tempo_kept": TEMPO_BACKEND, "key_score": KEY_BACKEND, "notes_in_key": NOTES_BACKEND,
            "notes_per_s": NOTES_BACKEND, "note_f": f"{NOTES_BACKEND}; mir_eval.transcription"}


def score_clips(system: str, clips: list[np.ndarray], requests: list[GenerationRequest], sample_rate: int,
                originals: list[Notes] | None = None, workers: int = 1) -> tuple[pd.DataFrame, list[Notes]]:
    """Per-clip musicality of one system (one row per clip, `track_id` as the cluster) and the clips' notes."""
    per_item, notes = score_systems([(system, clips, originals)], requests, sample_rate, workers)
    return per_item, notes[system]


def score_systems(systems: list[tuple[str, list[np.ndarray], list[Notes] | None]], requests: list[GenerationRequest],
                  sample_rate: int, workers: int = 1) -> tuple[pd.DataFrame, dict[str, list[Notes]]]:
    """`score_clips` for several (system, clips, originals or None) on the same prompts, in one pool.

    `workers` processes share all the clips (`curation.executors.run_items`; one pool, as starting
    one per system cost seconds each). The estimators use one thread each wherever they run
    (madmom's beat network gained nothing from a second thread), so the scores do not depend on
    `workers`."""
    items = []
    for system, clips, originals in systems:
        if len(clips) != len(requests) or (originals is not None and len(originals) != len(clips)):
            raise ValueError(f"{system}: {len(clips)} clips for {len(requests)} prompts"
                             + ("" if originals is None else f" and {len(originals)} original transcriptions"))
        items += [(clip, sample_rate, request.prompt, None if originals is None else originals[index])
                  for index, (clip, request) in enumerate(zip(clips, requests))]
    desc = f"musicality {systems[0][0]}" if len(systems) == 1 else f"musicality of {len(systems)} systems"
    results = iter(run_items(_score_one, items, "local", workers, desc=desc))
    rows, notes = [], {}
    for system, _, _ in systems:
        scored = [next(results) for _ in requests]
        rows += [{"system": system, "id": request.id, "track_id": request.metadata.get("track_id", request.id), **row}
                 for request, (row, _) in zip(requests, scored)]
        notes[system] = [transcription for _, transcription in scored]
    return pd.DataFrame(rows), notes


def _score_one(item: tuple[np.ndarray, int, str, Notes | None]) -> tuple[dict, Notes]:
    """`clip_musicality` of one (clip, sample rate, prompt, original) item: a top-level function, for the pool."""
    return clip_musicality(*item)


def summarize(per_item: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """One row per system (in order of appearance): each metric's mean, song-clustered 95 % interval
    (`<metric>_low`, `<metric>_high`) and number of clips scored (`<metric>_n`)."""
    rows = []
    for system, items in per_item.groupby("system", sort=False):
        row: dict[str, object] = {"system": system, "n_clips": len(items), "n_songs": items["track_id"].nunique()}
        for metric, _ in METRICS:
            if metric in items and items[metric].notna().any():
                result = clustered_mean_with_ci(items[metric].to_numpy(float), items["track_id"].to_numpy(), n_boot, seed)
                row.update({metric: result["value"], f"{metric}_low": result["low"], f"{metric}_high": result["high"],
                            f"{metric}_n": result["n"]})
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(per_item: pd.DataFrame, baseline: str, n_boot: int, seed: int) -> pd.DataFrame:
    """Each system minus `baseline` on the same prompts, per metric, with a song-clustered interval.
    An interval that excludes 0 is a difference; one that straddles 0 is not shown to be one."""
    base = per_item[per_item["system"] == baseline].set_index("id")
    if base.empty:
        raise ValueError(f"no clip of the baseline system {baseline!r}; systems: {sorted(per_item['system'].unique())}")
    rows = []
    for system, items in per_item.groupby("system", sort=False):
        if system == baseline:
            continue
        items = items.set_index("id")
        shared = items.index.intersection(base.index)
        for metric, _ in METRICS:
            if metric not in items or metric not in base:
                continue
            difference = (items.loc[shared, metric].astype(float) - base.loc[shared, metric].astype(float)).to_numpy()
            if not np.isfinite(difference).any():
                continue
            result = clustered_mean_with_ci(difference, items.loc[shared, "track_id"].to_numpy(), n_boot, seed)
            rows.append({"system": system, "baseline": baseline, "metric": metric, "difference": result["value"],
                         "low": result["low"], "high": result["high"], "n": result["n"], "n_songs": result["n_clusters"]})
    return pd.DataFrame(rows)


@torch.no_grad()
def reconstruct(vae_checkpoint: str | Path, clips: list[np.ndarray], param: str = "evaluate (a vae stage's checkpoint)") -> list[np.ndarray]:
    """Each mono clip through a VAE (posterior mean, no sampling), at the VAE's sample rate and the
    clip's length. A stereo VAE gets the clip on both channels and gives back their mean."""
    from ..models.vae import load_vae

    vae = load_vae(vae_checkpoint, param)
    ratio = vae.config.downsampling_ratio
    reconstructions = []
    for clip in progress(clips, desc=f"reconstruct {Path(vae_checkpoint).stem}", unit="clip"):
        padded = np.pad(np.asarray(clip, np.float32), (0, -len(clip) % ratio))
        audio = torch.from_numpy(padded)[None, None].expand(1, vae.config.in_channels, -1)
        mean, _ = vae.encode(audio)
        reconstructions.append(vae.decode(mean)[0, :, : len(clip)].mean(0).numpy())
    return reconstructions
