"""The report stage's structure table, CCS-failure note, spectrogram figure and listening-page markup."""

import html
import re

import numpy as np
import pandas as pd
import pytest

from s2accompanist.audio import write_audio
from s2accompanist.generation import GenerationRequest
from s2accompanist.reporting import report
from s2accompanist.reporting.report import attm_tables, listening_page, spectrogram_figure, structure_table

SR = 16_000


def scores(**extra) -> pd.DataFrame:
    base = {"fad_clap": 0.4, "clap_score": 0.2, "ccs": 0.5, "fad_backend": "refclap", "clap_backend": "refclap",
            "ccs_backend": "lalm_judge (gemini:gemini-2.5-pro; prompt resources/ccs_judge_prompt.txt)"}
    rows = [{"system": "sft-full", **base, "boundary_hit_rate": 0.625, "boundary_hit_rate_low": 0.4,
             "boundary_hit_rate_high": 0.8, "segment_alignment": 0.31, "segment_alignment_low": 0.29,
             "segment_alignment_high": 0.335, "own_caption_rate": 0.7, "structured_prompts": 12,
             "structure_backend": "classical segmentation; refclap", **extra},
            {"system": "reference audio (held-out songs)", **base}]
    return pd.DataFrame(rows)


def test_structure_table_shows_intervals_and_backend_for_systems_that_have_them(tmp_path):
    table = structure_table(scores(), tmp_path)
    assert table["system"].tolist() == ["sft-full"]
    assert table.loc[0, "boundary_hit_rate"] == "0.625 [0.400, 0.800]"
    assert table.loc[0, "segment_alignment"] == "0.310 [0.290, 0.335]"
    assert table.loc[0, "backend"] == "classical segmentation; refclap"
    markdown = (tmp_path / "structure.md").read_text()
    assert "| sft-full | 0.625 [0.400, 0.800] | n/a | n/a | 0.310 [0.290, 0.335] |" in markdown
    assert "bootstrap over held-out songs" in markdown


def test_attm_tables_write_structure_and_note_ccs_failures(tmp_path):
    attm_tables(scores(ccs_failed=3), tmp_path)
    assert (tmp_path / "structure.csv").is_file()
    attm = (tmp_path / "attm.md").read_text()
    assert "lalm_judge (gemini:gemini-2.5-pro" in attm
    assert "CCS leaves out 3 clip(s)" in attm and "ccs_failure" in attm
    attm_tables(scores(ccs_failed=0).drop(columns=[c for c in scores() if c.startswith(("boundary", "segment"))]),
                tmp_path / "plain")
    assert not (tmp_path / "plain/structure.csv").exists()
    assert "CCS leaves out" not in (tmp_path / "plain/attm.md").read_text()


@pytest.fixture
def layout(tmp_path):
    """Two systems, an out-of-distribution prompt listed first and two in-distribution prompts."""
    requests = [GenerationRequest("ood_000", "Jazz & rock <live>.", 1.0, metadata={"split": "out_of_distribution"})]
    requests += [GenerationRequest(f"id_{k:03d}", "Calm piano.", 1.0, metadata={"split": "in_distribution"}) for k in range(2)]
    t = np.arange(SR) / SR
    for k, request in enumerate(requests):
        if request.metadata["split"] == "in_distribution":
            write_audio(tmp_path / f"data/prompts/reference/{request.id}.wav", 0.3 * np.sin(2 * np.pi * 440 * t)[None], SR)
        for system in ("a", "b"):
            write_audio(tmp_path / f"data/generated/{system}/{request.id}.wav", 0.1 * (k + 1) * np.sin(2 * np.pi * 220 * t)[None], SR)
    return tmp_path, requests


def test_spectrogram_figure_puts_prompts_with_references_first(layout, monkeypatch):
    root, requests = layout
    drawn = {}
    monkeypatch.setattr(report, "spectrogram_grid", lambda clips, rate, stem: drawn.update(clips=clips, rate=rate) or {})
    spectrogram_figure(requests, ["a", "b"], root / "data", root / "fig", n_rows=3)
    assert list(drawn["clips"]) == ["id_000", "id_001", "ood_000"]
    assert list(drawn["clips"]["ood_000"]) == ["reference", "a", "b"] and drawn["clips"]["ood_000"]["reference"] is None
    assert drawn["rate"] == SR and drawn["clips"]["id_000"]["a"].shape == (SR,)


def test_listening_page_links_clips_tables_and_figures_relative_to_itself(layout):
    root, requests = layout
    attm_tables(scores(), root / "reports/tables")
    page = listening_page(requests, ["a", "b"], root / "reports/index.html", data_dir=root / "data", spectrogram_rows=2)
    text = page.read_text()
    assert (root / "reports/figures/spectrograms.png").is_file() and (root / "reports/figures/spectrograms.pdf").is_file()
    sources = re.findall(r'<audio controls preload="none" src="([^"]+)">', text)
    assert sources[:3] == ["../data/generated/a/ood_000.wav", "../data/generated/b/ood_000.wav",
                           "../data/prompts/reference/id_000.wav"]
    assert len(sources) == 3 * 2 + 2  # every prompt per system, and the two references
    assert "<img src='figures/spectrograms.png' alt='spectrograms'>" in text and "href='figures/spectrograms.pdf'" in text
    assert text.index("id='table-attm'") < text.index("id='table-structure'")
    assert html.escape("Jazz & rock <live>.") in text and "<live>" not in text


def test_listening_page_without_spectrograms_draws_none(layout):
    root, requests = layout
    listening_page(requests, ["a"], root / "reports/index.html", data_dir=root / "data", spectrogram_rows=0)
    assert not (root / "reports/figures").exists()
