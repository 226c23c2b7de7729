"""How accurate curation is, measured against the synthetic corpus's ground truth.

Segmentation is scored with mir_eval.segment (the MIREX structure metrics); defect detection
asks whether low quality grades single out the songs that were given a recorded defect.
"""

from __future__ import annotations

from collections import Counter

import mir_eval
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from .segmentation import Segment

_FRAME_S = 0.1  # frame size for pairwise and label-accuracy scoring


def fixed_grid_segments(duration_s: float, step_s: float, label: str = "verse") -> list[Segment]:
    """Baseline segmentation: equal sections of `step_s` (the last one shorter), all one label."""
    if step_s <= 0 or duration_s <= 0:
        raise ValueError(f"need positive duration and step, got duration_s={duration_s}, step_s={step_s}")
    starts = np.arange(0.0, duration_s, step_s)
    return [Segment(label, float(a), float(min(a + step_s, duration_s))) for a in starts]


def segmentation_scores(reference: list[Segment], estimate: list[Segment]) -> dict[str, float]:
    """Boundary hit rate F at 0.5 s and 3 s, pairwise-frame F, and frame label accuracy.

    The estimate is trimmed or padded to span the reference. `label_accuracy` compares labels as
    given (both use SongFormer's vocabulary); `label_accuracy_mapped` first renames each estimated
    label to the reference label it overlaps most, so it credits consistent but misnamed labels.
    """
    ref_intervals, ref_labels = _intervals(reference, "reference")
    est_intervals, est_labels = _intervals(estimate, "estimate")
    est_intervals, est_labels = mir_eval.util.adjust_intervals(
        est_intervals, est_labels, t_min=ref_intervals[0, 0], t_max=ref_intervals[-1, 1], start_label="silence", end_label="silence"
    )
    # trim=True skips the track start and end, which every segmentation gets right for free.
    _, _, hr05 = mir_eval.segment.detection(ref_intervals, est_intervals, window=0.5, trim=True)
    _, _, hr3 = mir_eval.segment.detection(ref_intervals, est_intervals, window=3.0, trim=True)
    _, _, pairwise_f = mir_eval.segment.pairwise(ref_intervals, ref_labels, est_intervals, est_labels, frame_size=_FRAME_S)

    ref_frames, est_frames = _frame_labels(ref_intervals, ref_labels), _frame_labels(est_intervals, est_labels)
    n = min(len(ref_frames), len(est_frames))
    ref_frames, est_frames = ref_frames[:n], est_frames[:n]
    majority = {
        est: Counter(ref_frames[est_frames == est]).most_common(1)[0][0] for est in np.unique(est_frames)
    }
    mapped = np.array([majority[e] for e in est_frames])
    return {
        "hr05_f": float(hr05),
        "hr3_f": float(hr3),
        "pairwise_f": float(pairwise_f),
        "label_accuracy": float(np.mean(ref_frames == est_frames)),
        "label_accuracy_mapped": float(np.mean(ref_frames == mapped)),
    }


def defect_detection_scores(has_defect, quality, selected=None) -> dict[str, float]:
    """How well low quality flags defective items (one entry per item, e.g. per song).

    roc_auc / average_precision: ranking by quality, lowest first, with defects as positives
        (NaN when the items are all defective or all clean: the ranking cannot be scored).
    r_precision: the defect rate among the k lowest-quality items, k = number of defective items.
    With `selected` (True = kept): exclusion_precision, the defect rate among excluded items, and
    exclusion_recall, the fraction of defective items excluded.
    """
    has_defect = np.asarray(has_defect, dtype=bool)
    quality = np.asarray(quality, dtype=float)
    if has_defect.shape != quality.shape or has_defect.ndim != 1:
        raise ValueError(f"has_defect {has_defect.shape} and quality {quality.shape} must be 1-D and the same length")
    if not np.all(np.isfinite(quality)):
        raise ValueError(f"quality has {int(np.sum(~np.isfinite(quality)))} non-finite value(s); drop those items first")
    n_defects = int(has_defect.sum())
    both_classes = 0 < n_defects < len(has_defect)
    # Stable order: among equal quality the earlier item counts as lower, so results are deterministic.
    lowest_first = np.argsort(quality, kind="stable")
    scores = {
        "n_items": float(len(has_defect)),
        "defect_rate": float(np.mean(has_defect)) if len(has_defect) else float("nan"),
        "roc_auc": float(roc_auc_score(has_defect, -quality)) if both_classes else float("nan"),
        "average_precision": float(average_precision_score(has_defect, -quality)) if both_classes else float("nan"),
        "r_precision": float(np.mean(has_defect[lowest_first[:n_defects]])) if n_defects else float("nan"),
    }
    if selected is not None:
        excluded = ~np.asarray(selected, dtype=bool)
        if excluded.shape != has_defect.shape:
            raise ValueError(f"selected {excluded.shape} must match has_defect {has_defect.shape}")
        scores["exclusion_precision"] = float(np.mean(has_defect[excluded])) if excluded.any() else float("nan")
        scores["exclusion_recall"] = float(np.mean(excluded[has_defect])) if n_defects else float("nan")
    return scores


def _intervals(segments: list[Segment], name: str) -> tuple[np.ndarray, list[str]]:
    if not segments:
        raise ValueError(f"{name} segmentation is empty; a track needs at least one segment")
    intervals = np.array([[s.start_s, s.end_s] for s in segments], dtype=float)
    labels = [s.label for s in segments]
    # Gaps between segments get an explicit label so that the intervals tile the track as mir_eval needs.
    filled_intervals, filled_labels = [intervals[0]], [labels[0]]
    for (start, end), label in zip(intervals[1:], labels[1:]):
        if start > filled_intervals[-1][1] + 1e-6:
            filled_intervals.append(np.array([filled_intervals[-1][1], start]))
            filled_labels.append("silence")
        filled_intervals.append(np.array([start, end]))
        filled_labels.append(label)
    if filled_intervals[0][0] > 0:
        filled_intervals.insert(0, np.array([0.0, filled_intervals[0][0]]))
        filled_labels.insert(0, "silence")
    return np.array(filled_intervals), filled_labels


def _frame_labels(intervals: np.ndarray, labels: list[str]) -> np.ndarray:
    times = np.arange(0.0, intervals[-1, 1], _FRAME_S) + _FRAME_S / 2
    index = np.clip(np.searchsorted(intervals[:, 1], times, side="right"), 0, len(labels) - 1)
    return np.array(labels, dtype=object)[index]


def curation_validation(segments, truth_sections, tracks, grid_s: float = 10.0):
    """Score a curated segments table against the corpus's ground truth.

    Returns (per_track, summary): segmentation scores of the estimate and of a fixed `grid_s`
    grid baseline per track, defect detection from each track's lowest segment quality, and how
    often the caption's concepts match the track's true tags (precision and recall per family).
    """
    import pandas as pd

    rows = []
    for track_id, estimate in segments.groupby("track_id"):
        truth = truth_sections[truth_sections["track_id"] == track_id].sort_values("start_s")
        if truth.empty:
            continue
        reference = [Segment(r.label, r.start_s, r.end_s) for r in truth.itertuples()]
        sections = estimate.groupby("section_index").agg(label=("label", "first"), start_s=("start_s", "min"), end_s=("end_s", "max"))
        estimated = [Segment(r.label, r.start_s, r.end_s) for r in sections.sort_values("start_s").itertuples()]
        grid = fixed_grid_segments(reference[-1].end_s, grid_s)
        rows.append({"track_id": track_id, **segmentation_scores(reference, estimated),
                     **{f"grid_{k}": v for k, v in segmentation_scores(reference, grid).items()}})
    per_track = pd.DataFrame(rows)
    summary = {"segmentation": per_track.drop(columns="track_id").mean().round(4).to_dict() if rows else {}}

    per_song_quality = segments[segments["label"] != "silence"].groupby("track_id")["quality"].min()
    truth_tracks = tracks.set_index("track_id").loc[per_song_quality.index]
    audio_defect = truth_tracks["defect"].isin(["noise", "clipping", "bandlimit", "dropout"]) if "defect" in truth_tracks else None
    if audio_defect is not None:
        summary["defect_detection"] = {k: round(float(v), 4) for k, v in defect_detection_scores(
            audio_defect.to_numpy(), per_song_quality.to_numpy()).items()}
    summary["caption_concepts"] = _concept_agreement(segments, tracks)
    return per_track, summary


def _concept_agreement(segments, tracks) -> dict[str, dict[str, float]]:
    """Precision / recall of the caption's concepts against the track's true tags, per family."""
    truth = tracks.set_index("track_id")
    scores = {}
    for family, column in (("genre", "genre"), ("instrument", "instrument"), ("mood/theme", "mood")):
        hits = predicted = relevant = 0
        for row in segments[segments["label"] != "silence"].itertuples():
            estimate, reference = set(getattr(row, column)), set(truth.at[row.track_id, column])
            hits += len(estimate & reference)
            predicted += len(estimate)
            relevant += len(reference)
        scores[family] = {"precision": round(hits / predicted, 4) if predicted else float("nan"),
                          "recall": round(hits / relevant, 4) if relevant else float("nan")}
    return scores


def separation_scores(tracks, corpus_dir, curated_dir, sample_rate: int, channels: int):
    """SI-SDR (dB, mean over channels) of the extracted accompaniment against the true accompaniment.

    The truth is the sum of a track's stems except "vocal" (corpus_dir/stems/<track_id>/, written
    when corpus.write_stems is true); the estimate is curate's corpus audio,
    curated_dir/audio/<track_id>.wav. The unprocessed mix scored the same way is the baseline that
    extraction must beat (`improvement_db`); for the `none` backend the two are equal. Tracks
    without stems or without curated audio (rejected) are skipped. Returns (per_track, summary):
    summary has the means over all scored tracks and over those with a vocal stem.
    """
    from pathlib import Path

    import pandas as pd
    import torch
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    from ..audio import load_audio

    corpus_dir, curated_dir = Path(corpus_dir), Path(curated_dir)
    rows = []
    for track in tracks.itertuples():
        stem_paths = sorted((corpus_dir / "stems" / track.track_id).glob("*.flac"))
        estimate_path = curated_dir / "audio" / f"{track.track_id}.wav"
        if not stem_paths or not estimate_path.is_file():
            continue
        # A stem may be near-silent; it still belongs to the accompaniment.
        stems = {path.stem: load_audio(path, sample_rate, channels, silence_dbfs=-np.inf) for path in stem_paths}
        mix = load_audio(corpus_dir / track.audio_path, sample_rate, channels, silence_dbfs=-np.inf)
        estimate = load_audio(estimate_path, sample_rate, channels, silence_dbfs=-np.inf)
        accompaniment = sum(audio for name, audio in stems.items() if name != "vocal")
        n = min(accompaniment.shape[1], mix.shape[1], estimate.shape[1])
        target = torch.from_numpy(np.ascontiguousarray(accompaniment[:, :n]))

        def si_sdr(audio: np.ndarray) -> float:
            return float(scale_invariant_signal_distortion_ratio(torch.from_numpy(np.ascontiguousarray(audio[:, :n])), target).mean())

        extracted, unprocessed = si_sdr(estimate), si_sdr(mix)
        rows.append({"track_id": track.track_id, "has_vocal": "vocal" in stems, "si_sdr_db": extracted,
                     "mix_si_sdr_db": unprocessed, "improvement_db": extracted - unprocessed})
    per_track = pd.DataFrame(rows, columns=["track_id", "has_vocal", "si_sdr_db", "mix_si_sdr_db", "improvement_db"])
    columns = ["si_sdr_db", "mix_si_sdr_db", "improvement_db"]
    vocal = per_track[per_track["has_vocal"]]
    summary = {"n_tracks": len(per_track), "n_vocal_tracks": len(vocal),
               "all": per_track[columns].mean().round(3).to_dict() if len(per_track) else {},
               "vocal_tracks": vocal[columns].mean().round(3).to_dict() if len(vocal) else {}}
    return per_track, summary
