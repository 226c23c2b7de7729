"""Progress bars for long work that show in the terminal, not in the rendered notebooks.

A stage's notebook runs in a Jupyter kernel, where `sys.stderr` is captured into the notebook:
every redraw of a bar would be stored there and rendered as a red stderr box in the committed
notebook. Inside a stage (`stage.py` sets STAGE_ENV), bars go to the kernel process's own stderr,
which `dvc repro` shows live; everywhere else they are plain tqdm bars.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable

from tqdm import tqdm

STAGE_ENV = "S2ACCOMPANIST_STAGE"


def progress_stream():
    """Where bars and progress messages go: the process's own stderr inside a stage."""
    return sys.__stderr__ if os.environ.get(STAGE_ENV) else sys.stderr


def progress(iterable: Iterable | None = None, **kwargs: Any) -> tqdm:
    kwargs.setdefault("file", progress_stream())
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def progress_message(text: str) -> None:
    """A one-line progress message on the same stream as the bars."""
    print(text, file=progress_stream(), flush=True)
