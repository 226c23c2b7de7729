"""Progress bars reach the terminal, not the rendered notebook, when a stage runs its notebook."""

import io
import os
import sys

from s2accompanist import progress as progress_module
from s2accompanist.progress import STAGE_ENV, progress


class KernelStderr(io.StringIO):
    """ipykernel's stderr in miniature: text written to it goes into the notebook, while `fileno()`
    answers the copy of the process's original stderr descriptor."""

    def __init__(self, original_fd: int) -> None:
        super().__init__()
        self.original_fd = original_fd

    def fileno(self) -> int:
        return self.original_fd


def test_inside_a_stage_bars_bypass_the_notebook(monkeypatch):
    read_fd, write_fd = os.pipe()
    notebook = KernelStderr(write_fd)
    monkeypatch.setattr(sys, "stderr", notebook)
    monkeypatch.setenv(STAGE_ENV, "corpus")
    try:
        for _ in progress(range(3), desc="songs", mininterval=0):
            pass
        progress_module.progress_message("corpus: done")
        progress_module.progress_stream().flush()
        os.close(write_fd)
        terminal = os.read(read_fd, 1 << 16).decode()
    finally:
        progress_module._terminal.cache_clear()
        os.close(read_fd)
    assert notebook.getvalue() == ""
    assert "songs: 100%" in terminal and "3/3" in terminal and "corpus: done" in terminal


def test_outside_a_stage_bars_are_plain_tqdm_on_stderr(monkeypatch):
    monkeypatch.delenv(STAGE_ENV, raising=False)
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)
    for _ in progress(range(2), desc="items", mininterval=0):
        pass
    assert "items: 100%" in captured.getvalue()
