"""One validation figure per curation backend, each titled with the backend that produced it.

Inputs are what `validation.curation_validation` and the curate stage already produce (per-track
segmentation scores, the caption-concept summary, the graded segments table), so the figures
show exactly the numbers in reports/metrics/curate.json. PNG and PDF are byte-stable
(`reporting.figures.save_figure`).
"""

from __future__ import annotations

import os

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..reporting.figures import new_figure, report_style, save_figure

SEGMENTATION_METRICS = ("hr05_f", "hr3_f", "pairwise_f", "label_accuracy")
# What songs without a recorded defect are called in the grade figure.
NO_DEFECT = "none"


def segmentation_figure(per_track: pd.DataFrame, backend: str, stem_path: str | os.PathLike, grid_s: float = 10.0) -> dict:
    """Mean per-track segmentation scores of `backend` beside the fixed-grid baseline (95 % CI)."""
    with report_style():
        return save_figure(segmentation_plot(per_track, backend, grid_s), stem_path)


def segmentation_plot(per_track: pd.DataFrame, backend: str, grid_s: float = 10.0) -> Figure:
    columns = [*SEGMENTATION_METRICS, *(f"grid_{m}" for m in SEGMENTATION_METRICS)]
    _require_columns(per_track, columns, "segmentation_figure")
    if per_track.empty:
        raise ValueError("segmentation_figure: no track has ground-truth sections to score against")
    ours = per_track[list(SEGMENTATION_METRICS)].assign(method=backend)
    grid = per_track[[f"grid_{m}" for m in SEGMENTATION_METRICS]].set_axis(list(SEGMENTATION_METRICS), axis=1)
    scores = pd.concat([ours, grid.assign(method=f"{grid_s:g} s grid")], ignore_index=True)
    scores = scores.melt(id_vars="method", var_name="metric", value_name="score")
    figure, (ax,) = new_figure(1)
    figure.set_size_inches(6.4, 3.2)
    # A fixed bootstrap seed: the confidence intervals, and so the bytes, are the same every run.
    sns.barplot(scores, x="metric", y="score", hue="method", errorbar=("ci", 95), seed=0, ax=ax)
    ax.set_ylim(0, 1)
    ax.set_xlabel("")
    ax.set_title(f"Segmentation: {backend} vs a {grid_s:g} s grid ({len(per_track)} tracks)")
    return figure


def caption_concepts_figure(concepts: dict[str, dict[str, float]], backend: str, stem_path: str | os.PathLike) -> dict:
    """Precision and recall of the caption concepts per family, from `curation_validation`'s
    summary["caption_concepts"]."""
    with report_style():
        return save_figure(caption_concepts_plot(concepts, backend), stem_path)


def caption_concepts_plot(concepts: dict[str, dict[str, float]], backend: str) -> Figure:
    if not concepts:
        raise ValueError("caption_concepts_figure: no concept family to plot; pass summary['caption_concepts']")
    scores = pd.DataFrame([{"family": family, "score": value, "measure": measure}
                           for family, values in concepts.items() for measure, value in values.items()])
    figure, (ax,) = new_figure(1)
    figure.set_size_inches(5.2, 3.2)
    sns.barplot(scores, x="family", y="score", hue="measure", errorbar=None, ax=ax)
    ax.set_ylim(0, 1)
    ax.set_xlabel("")
    ax.set_title(f"Caption concepts vs true tags ({backend})")
    return figure


def grade_by_defect_figure(segments: pd.DataFrame, tracks: pd.DataFrame, stem_path: str | os.PathLike) -> dict:
    """Quality, alignment and combined grade per segment, grouped by the song's recorded defect;
    the grade panel marks the selection threshold (the lowest grade that was selected). Titles
    name the quality and alignment backends recorded in the table."""
    with report_style():
        return save_figure(grade_by_defect_plot(segments, tracks), stem_path)


def grade_by_defect_plot(segments: pd.DataFrame, tracks: pd.DataFrame) -> Figure:
    _require_columns(segments, ["track_id", "quality", "alignment", "grade", "selected", "quality_backend", "alignment_backend"],
                     "grade_by_defect_figure")
    _require_columns(tracks, ["track_id", "defect"], "grade_by_defect_figure (tracks)")
    graded = segments.merge(tracks[["track_id", "defect"]], on="track_id", how="left")
    graded["defect"] = graded["defect"].fillna("").replace("", NO_DEFECT)
    order = [NO_DEFECT, *sorted(set(graded["defect"]) - {NO_DEFECT})]
    backend = {"quality": _one(segments, "quality_backend"), "alignment": _one(segments, "alignment_backend")}
    titles = {"quality": f"quality ({backend['quality']})", "alignment": f"alignment ({backend['alignment']})",
              "grade": f"grade ({backend['quality']} + {backend['alignment']})"}
    figure, axes = new_figure(3)
    figure.set_size_inches(11.0, 3.4)
    for ax, (score, title) in zip(axes, titles.items()):
        sns.boxplot(graded, x="defect", y=score, order=order, color=sns.color_palette()[0], ax=ax)
        ax.set_title(title)
        ax.set_xlabel("song defect")
        ax.tick_params(axis="x", labelrotation=30)
    if graded["selected"].any():
        threshold = float(graded.loc[graded["selected"], "grade"].min())
        axes[2].axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"selected >= {threshold:.2f}")
        axes[2].legend(loc="lower left")
    return figure


def _one(frame: pd.DataFrame, column: str) -> str:
    names = sorted(frame[column].astype(str).unique())
    return names[0] if len(names) == 1 else " / ".join(names)


def _require_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; available: {list(frame.columns)}")
