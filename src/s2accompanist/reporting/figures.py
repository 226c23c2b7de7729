"""Report figures, each saved as PNG and PDF that are byte-identical when re-rendered from the same data.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas directly, never through
pyplot, so no global backend is switched and notebooks keep their own. Byte stability comes from
dropping the only varying metadata (PDF creation date, PNG software stamp) and from a fixed dpi.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from s2accompanist.io import atomic_path

DPI = 150
PANEL_SIZE = (3.2, 2.6)  # inches per subplot
STABLE_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None}}


@contextlib.contextmanager
def report_style() -> Iterator[None]:
    """Seaborn's look for report figures, restored on exit so callers' settings survive."""
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        yield


def new_figure(n_panels: int) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=(PANEL_SIZE[0] * n_panels, PANEL_SIZE[1]), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(1, n_panels, squeeze=False)[0])
    return figure, axes


def save_figure(figure: Figure, stem_path: str | os.PathLike) -> dict:
    """Write STEM.png and STEM.pdf atomically with reproducible metadata; return {"png", "pdf"} paths."""
    stem = os.fspath(stem_path)
    paths = {}
    for fmt, metadata in STABLE_METADATA.items():
        paths[fmt] = Path(f"{stem}.{fmt}")
        with atomic_path(paths[fmt]) as tmp:
            figure.savefig(tmp, format=fmt, dpi=DPI, metadata=metadata)
    return paths


def metric_bars(
    frame: pd.DataFrame,
    metrics: Sequence[str],
    stem_path: str | os.PathLike,
    system_column: str = "system",
    lower_is_better: Sequence[str] = ("fad_clap",),
) -> dict:
    """One bar panel per metric, a horizontal bar per system (the names on one shared axis, so long
    baseline names never overlap); error bars from `<metric>_low` / `<metric>_high` if present."""
    if not metrics:
        raise ValueError("metric_bars needs at least one metric column, e.g. ['fad_clap', 'clap_score', 'ccs']")
    _require_columns(frame, [system_column, *metrics], "metric_bars")
    positions = np.arange(len(frame))
    with report_style():
        figure = Figure(figsize=(PANEL_SIZE[0] * len(metrics) + 2.5, 0.9 + 0.32 * len(frame)), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = np.atleast_1d(figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0])
        for ax, metric in zip(axes, metrics):
            values = frame[metric].to_numpy(dtype=float)
            ax.barh(positions, np.nan_to_num(values), color=sns.color_palette()[0])
            if {f"{metric}_low", f"{metric}_high"} <= set(frame.columns):
                xerr = np.vstack([values - frame[f"{metric}_low"], frame[f"{metric}_high"] - values])
                ax.errorbar(values, positions, xerr=xerr, fmt="none", ecolor="black", capsize=3)
            for position in positions[~np.isfinite(values)]:  # a metric a row has none of (e.g. CLAP score of real audio)
                ax.text(0, position, " n/a", va="center", fontsize="small", color="grey")
            direction = "lower is better" if metric in lower_is_better else "higher is better"
            ax.set_title(f"{metric} ({direction})")
        axes[0].set_yticks(positions, frame[system_column].tolist())
        axes[0].invert_yaxis()  # the table's first row on top
        return save_figure(figure, stem_path)


def training_curves(
    csv_path: str | os.PathLike,
    stem_path: str | os.PathLike,
    step_column: str = "step",
    metrics: Sequence[str] | None = None,
) -> dict:
    """One line panel per metric column of a training log CSV (wide, like Lightning's CSVLogger).

    Rows where a metric is empty (logged at another interval) are skipped for that metric.
    `metrics` defaults to every numeric column other than the step and `epoch`.
    """
    log = pd.read_csv(csv_path)
    if step_column not in log.columns:
        raise ValueError(f"{csv_path} has no {step_column!r} column; its columns are {list(log.columns)}")
    if metrics is None:
        metrics = [c for c in log.select_dtypes("number").columns if c not in (step_column, "epoch")]
    _require_columns(log, list(metrics), str(csv_path))
    if not metrics:
        raise ValueError(f"{csv_path} has no numeric metric column besides {step_column!r}")
    with report_style():
        figure, axes = new_figure(len(metrics))
        for ax, metric in zip(axes, metrics):
            points = log[[step_column, metric]].dropna()
            sns.lineplot(data=points, x=step_column, y=metric, ax=ax)
            ax.set_title(metric)
        return save_figure(figure, stem_path)


def grade_histograms(
    frame: pd.DataFrame,
    columns: Sequence[str],
    stem_path: str | os.PathLike,
    hue: str | None = None,
    bins: int = 20,
) -> dict:
    """One histogram panel per grading score (e.g. aesthetics axes, alignment, combined grade).

    `hue` (e.g. "selected") splits each histogram, showing where the kept top fraction sits.
    """
    if not columns:
        raise ValueError("grade_histograms needs at least one score column, e.g. ['aesthetics_pq', 'grade']")
    _require_columns(frame, [*columns, *([hue] if hue else [])], "grade_histograms")
    with report_style():
        figure, axes = new_figure(len(columns))
        for ax, column in zip(axes, columns):
            sns.histplot(data=frame, x=column, hue=hue, bins=bins, multiple="stack", ax=ax)
            ax.set_title(column)
        return save_figure(figure, stem_path)


SPECTROGRAM_PANEL_SIZE = (2.6, 1.9)  # inches per spectrogram
SPECTROGRAM_RANGE_DB = 80.0
MEL_HOP = 256  # samples between `mel_db` frames


def mel_db(audio: np.ndarray, sample_rate: int, n_mels: int = 64) -> np.ndarray:
    """(n_mels, frames) log-mel power in dB (reference power 1, the same for every clip)."""
    import librosa

    power = librosa.feature.melspectrogram(y=np.asarray(audio, dtype=np.float32), sr=sample_rate, n_fft=1024,
                                           hop_length=MEL_HOP, n_mels=n_mels)
    # Reference 1.0, not each clip's own maximum: quiet and loud systems must look different.
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None)


def spectrogram_grid(
    clips: Mapping[str, Mapping[str, np.ndarray | None]],
    sample_rate: int,
    stem_path: str | os.PathLike,
    n_mels: int = 64,
) -> dict:
    """Log-mel spectrograms, a row per prompt and a column per source (e.g. reference, then each system).

    `clips` maps row label -> {column title: mono audio or None}; every row has the same columns in
    the same order. None draws an empty panel saying the clip does not exist (an out-of-distribution
    prompt has no reference). All panels share one dB scale and one colour bar.
    """
    if not clips:
        raise ValueError("spectrogram_grid needs at least one row of clips")
    columns = list(next(iter(clips.values())))
    for label, row in clips.items():
        if list(row) != columns:
            raise ValueError(f"spectrogram_grid: row {label!r} has columns {list(row)}; every row needs {columns}")
    spectra = {(label, column): mel_db(audio, sample_rate, n_mels)
               for label, row in clips.items() for column, audio in row.items() if audio is not None}
    if not spectra:
        raise ValueError("spectrogram_grid: every clip is None; there is nothing to draw")
    top = max(float(spectrum.max()) for spectrum in spectra.values())
    with report_style():
        figure = Figure(figsize=(SPECTROGRAM_PANEL_SIZE[0] * len(columns), SPECTROGRAM_PANEL_SIZE[1] * len(clips)),
                        dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots(len(clips), len(columns), squeeze=False)
        image = None
        for row_index, label in enumerate(clips):
            for column_index, column in enumerate(columns):
                ax = axes[row_index, column_index]
                ax.set_title(column)
                ax.grid(False)
                if column_index == 0:
                    ax.set_ylabel(f"{label}\nmel band")
                spectrum = spectra.get((label, column))
                if spectrum is None:
                    ax.text(0.5, 0.5, "no clip", ha="center", va="center", transform=ax.transAxes)
                    ax.set_xticks([])
                    ax.set_yticks([])
                    continue
                image = draw_spectrum(ax, spectrum, sample_rate, top)
                if row_index == len(clips) - 1:
                    ax.set_xlabel("time (s)")
        figure.colorbar(image, ax=axes, label="mel power (dB)", shrink=0.8)
        return save_figure(figure, stem_path)


def draw_spectrum(ax, spectrum: np.ndarray, sample_rate: int, top_db: float):
    """One `mel_db` spectrum on `ax`, seconds across and mel bands up, on the scale [top_db - 80 dB, top_db]."""
    seconds = spectrum.shape[1] * MEL_HOP / sample_rate
    return ax.imshow(spectrum, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                     extent=(0.0, seconds, 0.0, float(spectrum.shape[0])), vmin=top_db - SPECTROGRAM_RANGE_DB, vmax=top_db)


def _require_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; available: {list(frame.columns)}")


THUMBNAIL_SIZE = (2.4, 0.9)  # inches: a spectrogram beside a player on the listening page
THUMBNAIL_DPI = 100


def spectrogram_thumbnail(spectrum: np.ndarray, sample_rate: int, boundaries_s: Sequence[float], top_db: float) -> bytes:
    """A small JPEG (a spectrogram's noise compresses 5x better than as PNG, and the page inlines
    dozens) of one `mel_db` spectrum, no axes, with the requested section boundaries drawn as
    dashed white lines; `top_db` is the row's shared maximum, so clips of one prompt compare."""
    import io

    figure = Figure(figsize=THUMBNAIL_SIZE, dpi=THUMBNAIL_DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    draw_spectrum(ax, spectrum, sample_rate, top_db)
    for boundary in boundaries_s:
        ax.axvline(boundary, color="white", linestyle="--", linewidth=1.2)
    ax.set_axis_off()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="jpeg", dpi=THUMBNAIL_DPI, pil_kwargs={"quality": 80})
    return buffer.getvalue()
