"""Progress bars for long work that show in the terminal, not in the rendered notebooks.

A stage's notebook runs in a Jupyter kernel, where `sys.stderr` is captured into the notebook:
every redraw of a bar would be stored there and rendered as a red stderr box in the committed
notebook. Inside a stage (`stage.py` sets STAGE_ENV), bars go to the stderr the kernel process
was started with, which `dvc repro` shows live; everywhere else they are plain tqdm bars.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Iterable

from tqdm import tqdm

STAGE_ENV = "S2ACCOMPANIST_STAGE"


def progress_stream():
    """Where bars and progress messages go: the process's own stderr inside a stage."""
    if not os.environ.get(STAGE_ENV):
        return sys.stderr
    try:
        # ipykernel points file descriptor 2 at a pipe into the notebook, and `fileno()` of its
        # stderr stream answers the copy it kept of the original descriptor: the terminal.
        return _terminal(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__


@functools.lru_cache(maxsize=None)
def _terminal(fd: int):
    return open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115 (lives as long as the process)


def progress(iterable: Iterable | None = None, **kwargs: Any) -> tqdm:
    kwargs.setdefault("file", progress_stream())
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def progress_message(text: str) -> None:
    """A one-line progress message on the same stream as the bars."""
    print(text, file=progress_stream(), flush=True)
