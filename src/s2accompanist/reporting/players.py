"""Audio players for rendered notebooks that point at audio files instead of embedding them.

IPython's `Audio(array)` embeds the clip as base64 WAV: about 1 MiB per 30 s player, which a
committed rendering would add to the git history at every run. These players reference a file by
its path relative to reports/notebooks/, where `stage.py` writes the rendered notebook (.ipynb and
.html), so the notebook stays small and the audio travels through DVC with the data it belongs to.
They play wherever the rendering is opened inside a checkout that has the data (`dvc pull`).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np

from ..audio import write_audio

RENDERED_DIR = Path("reports/notebooks")


def audio_player(path: str | os.PathLike, start_s: float | None = None, end_s: float | None = None,
                 rendered_dir: Path = RENDERED_DIR):
    """An HTML <audio> element for `path` (a file in this checkout), optionally one span of it.

    A span uses a media fragment (`#t=start,end`): the browser plays just that part of the file,
    so a segment needs no file of its own."""
    from IPython.display import HTML

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no audio file to play at {path}")
    src = Path(os.path.relpath(path.resolve(), Path(rendered_dir).resolve())).as_posix()
    if start_s is not None:
        src += f"#t={start_s:.2f}" + (f",{end_s:.2f}" if end_s is not None else "")
    return HTML(f'<audio controls preload="none" src="{html.escape(src)}"></audio>')


def write_and_play(audio: np.ndarray, sample_rate: int, path: str | os.PathLike, rendered_dir: Path = RENDERED_DIR):
    """Write `audio` to `path` (a DVC-tracked folder of the stage's) and return its player."""
    return audio_player(write_audio(path, audio, sample_rate), rendered_dir=rendered_dir)
