"""The listening page in a real browser: headless Chromium (the Debian `chromium` package) opens a small
report built by the real table, figure and page writers, and finds no console error, every image and
audio clip loaded, and the tables present. Damaged copies of the page prove each check can fail."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from headless_chromium import HeadlessChromium

from s2accompanist.audio import write_audio
from s2accompanist.generation import GenerationRequest, SegmentRequest
from s2accompanist.reporting.figures import metric_bars
from s2accompanist.reporting.report import attm_tables, listening_page

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not on PATH; install the Debian package (`apt-get install -y chromium`, as root)"
)
SR = 16_000
SYSTEM = "sft-full"


def tone(hz: float) -> np.ndarray:
    t = np.arange(SR) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None]


def scores() -> pd.DataFrame:
    return pd.DataFrame([{
        "system": SYSTEM, "fad_clap": 0.41, "fad_clap_low": 0.38, "fad_clap_high": 0.45, "clap_score": 0.27,
        "clap_score_low": 0.25, "clap_score_high": 0.29, "ccs": 0.6, "ccs_low": 0.5, "ccs_high": 0.7,
        "fad_backend": "refclap", "clap_backend": "refclap", "ccs_backend": "refclap tag heads",
        "boundary_hit_rate": 0.5, "boundary_hit_rate_low": 0.0, "boundary_hit_rate_high": 1.0, "segment_alignment": 0.3,
        "segment_alignment_low": 0.2, "segment_alignment_high": 0.4, "own_caption_rate": 0.75, "structured_prompts": 1,
        "structure_backend": "classical segmentation; refclap",
    }])


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """root/reports/index.html over root/data, laid out as the report stage lays out the repository."""
    root = tmp_path_factory.mktemp("report")
    requests = [
        GenerationRequest("id_000", "A calm piano piece.", 1.0, segments=(SegmentRequest("intro", 0.0, 0.5, "soft piano"),
                                                                          SegmentRequest("verse", 0.5, 1.0, "piano and strings")),
                          metadata={"split": "in_distribution"}),
        GenerationRequest("ood_000", "Happy jazz with drums.", 1.0, metadata={"split": "out_of_distribution"}),
    ]
    write_audio(root / "data/prompts/reference/id_000.wav", tone(440), SR)
    write_audio(root / f"data/generated/{SYSTEM}/id_000.wav", tone(330), SR)
    write_audio(root / f"data/generated/{SYSTEM}/ood_000.wav", tone(550), SR)
    attm_tables(scores(), root / "reports/tables")
    metric_bars(scores(), ["fad_clap", "clap_score", "ccs"], root / "reports/figures/attm_metrics")
    listening_page(requests, [SYSTEM], root / "reports/index.html", data_dir=root / "data", spectrogram_rows=2)
    return root / "reports/index.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = HeadlessChromium(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def damaged_copy(page: Path, damage: str) -> Path:
    """A copy of the whole report with one thing broken, so the intact report stays untouched."""
    root = page.parents[1]
    copy = root.parent / f"{root.name}-{damage}"
    if not copy.exists():
        shutil.copytree(root, copy)
    if damage == "corrupt_image":
        (copy / "reports/figures/spectrograms.png").write_bytes(b"not a png")
    elif damage == "missing_image":
        (copy / "reports/figures/spectrograms.png").unlink()
    elif damage == "missing_audio":
        (copy / f"data/generated/{SYSTEM}/ood_000.wav").unlink()
    return copy / "reports/index.html"


def test_intact_report_loads_cleanly_with_every_clip_figure_and_table(report, browser):
    found = browser.inspect(report)
    assert found.problems() == []
    figures = sorted(image["src"] for image in found.images if not image["src"].startswith("data:"))
    assert figures == ["figures/attm_metrics.png", "figures/spectrograms.png"]
    # A spectrogram above every player (reference, and the system for both prompts), drawn inline.
    thumbnails = [image for image in found.images if image["src"].startswith("data:image/jpeg;base64,")]
    assert len(thumbnails) == 3 and all(image["width"] == 240 for image in thumbnails)
    assert all(image["width"] > 100 for image in found.images)
    assert sorted(audio["src"] for audio in found.audios) == [
        "../data/generated/sft-full/id_000.wav", "../data/generated/sft-full/ood_000.wav", "../data/prompts/reference/id_000.wav"]
    assert all(audio["readyState"] >= 1 for audio in found.audios)
    tables = {table["heading"] or table["className"]: table["rows"] for table in found.tables}
    assert tables["clips"] == 3  # header and two prompts
    assert tables["table-attm"] >= 2 and tables["table-structure"] == 2
    order = [table["heading"] or table["className"] for table in found.tables]
    assert order.index("table-attm") < order.index("clips") < order.index("table-structure")  # headline tables first


@pytest.mark.parametrize("damage, expected", [
    ("corrupt_image", ["image figures/spectrograms.png did not load"]),
    # A missing file also makes the browser log a failed load: the console check can fire.
    ("missing_image", ["image figures/spectrograms.png did not load", "console error: Failed to load resource"]),
    ("missing_audio", ["audio ../data/generated/sft-full/ood_000.wav did not load"]),
])
def test_damage_is_detected(report, browser, damage, expected):
    problems = browser.inspect(damaged_copy(report, damage)).problems()
    for line in expected:
        assert any(problem.startswith(line) for problem in problems), problems
