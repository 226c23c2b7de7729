"""Validation figures: titled with their backend, byte-identical when re-rendered, clear about bad input."""

import numpy as np
import pandas as pd
import pytest

from s2accompanist.curation.validation_figures import (
    SEGMENTATION_METRICS,
    caption_concepts_figure,
    caption_concepts_plot,
    grade_by_defect_figure,
    grade_by_defect_plot,
    segmentation_figure,
    segmentation_plot,
)

CONCEPTS = {"genre": {"precision": 0.6, "recall": 0.5}, "instrument": {"precision": 0.8, "recall": 0.4},
            "mood/theme": {"precision": 0.3, "recall": 0.3}}


def per_track_scores() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    scores = {metric: rng.uniform(0.4, 0.9, 6) for metric in SEGMENTATION_METRICS}
    scores |= {f"grid_{metric}": rng.uniform(0.0, 0.4, 6) for metric in SEGMENTATION_METRICS}
    return pd.DataFrame({"track_id": [f"t{i}" for i in range(6)], **scores})


def graded_segments() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(6)], "defect": ["", "", "noise", "clipping", "", "caption_swap"]})
    segments = pd.DataFrame({"track_id": np.repeat(tracks["track_id"], 3).to_numpy(), "quality": rng.uniform(0, 1, 18),
                             "alignment": rng.uniform(-1, 1, 18), "quality_backend": "signal", "alignment_backend": "refclap"})
    segments["grade"] = segments["quality"].rank(pct=True)
    segments["selected"] = segments["grade"] >= segments["grade"].quantile(0.8)
    return segments, tracks


def titles(figure) -> list[str]:
    return [ax.get_title() for ax in figure.axes]


def test_every_title_names_the_backend_that_produced_the_numbers():
    assert "songformer" in titles(segmentation_plot(per_track_scores(), "songformer"))[0]
    assert "gemini:gemini-2.5-pro" in titles(caption_concepts_plot(CONCEPTS, "gemini:gemini-2.5-pro"))[0]
    segments, tracks = graded_segments()
    quality, alignment, grade = titles(grade_by_defect_plot(segments, tracks))[:3]
    assert "signal" in quality and "refclap" in alignment and "signal" in grade and "refclap" in grade


def test_the_grade_figure_groups_by_defect_and_marks_the_threshold():
    segments, tracks = graded_segments()
    axes = grade_by_defect_plot(segments, tracks).axes
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["none", "caption_swap", "clipping", "noise"]
    threshold = segments.loc[segments["selected"], "grade"].min()
    assert [line.get_ydata()[0] for line in axes[2].lines if line.get_linestyle() == "--"] == [threshold]


def test_figures_are_byte_identical_when_rendered_again(tmp_path):
    segments, tracks = graded_segments()
    for run in ("a", "b"):
        segmentation_figure(per_track_scores(), "classical", tmp_path / run / "segmentation")
        caption_concepts_figure(CONCEPTS, "facts+refclap_tags", tmp_path / run / "captions")
        grade_by_defect_figure(segments, tracks, tmp_path / run / "grades")
    for stem in ("segmentation", "captions", "grades"):
        for suffix in (".png", ".pdf"):
            assert (tmp_path / "a" / f"{stem}{suffix}").read_bytes() == (tmp_path / "b" / f"{stem}{suffix}").read_bytes()


def test_missing_inputs_say_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match=r"missing columns \['grid_hr05_f'"):
        segmentation_figure(per_track_scores().drop(columns="grid_hr05_f"), "classical", tmp_path / "s")
    with pytest.raises(ValueError, match="no track has ground-truth sections"):
        segmentation_figure(per_track_scores().iloc[:0], "classical", tmp_path / "s")
    with pytest.raises(ValueError, match="caption_concepts"):
        caption_concepts_figure({}, "facts", tmp_path / "c")
    segments, tracks = graded_segments()
    with pytest.raises(ValueError, match=r"\(tracks\): missing columns \['defect'\]"):
        grade_by_defect_figure(segments, tracks.drop(columns="defect"), tmp_path / "g")
