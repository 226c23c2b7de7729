"""Rendered notebooks play audio from files beside them instead of embedding it."""

import json
from pathlib import Path

import numpy as np
import pytest

from s2accompanist.audio import write_audio
from s2accompanist.reporting.players import audio_player, write_and_play

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_player_points_at_the_file_relative_to_the_rendering(tmp_path):
    clip = write_audio(tmp_path / "data" / "raw" / "audio" / "song 1.wav", np.zeros(800, np.float32), 8000)
    html = audio_player(clip, rendered_dir=tmp_path / "reports" / "notebooks").data
    assert 'src="../../data/raw/audio/song 1.wav"' in html and "base64" not in html
    span = audio_player(clip, 1.5, 4.25, rendered_dir=tmp_path / "reports" / "notebooks").data
    assert 'src="../../data/raw/audio/song 1.wav#t=1.50,4.25"' in span


def test_a_missing_file_is_named_and_an_array_is_written_first(tmp_path):
    with pytest.raises(FileNotFoundError, match="no audio file to play at"):
        audio_player(tmp_path / "nothing.wav")
    html = write_and_play(np.zeros(800, np.float32), 8000, tmp_path / "reports" / "audio" / "x.wav",
                          rendered_dir=tmp_path / "reports" / "notebooks").data
    assert (tmp_path / "reports" / "audio" / "x.wav").is_file() and 'src="../audio/x.wav"' in html


def test_no_stage_notebook_embeds_audio():
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        source = "".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"])
        assert "Audio(" not in source, f"{notebook.name} embeds audio with IPython's Audio; use reporting.players"
