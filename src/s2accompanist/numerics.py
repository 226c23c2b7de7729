"""Bitwise-reproducible CPU matrix products across processes.

PyTorch's x86 wheels do their float matrix products in Intel MKL, whose default code path sums a
product in an order that depends on how many threads MKL decides to use, and MKL may use fewer
than asked (MKL_DYNAMIC). So two runs of the same stage with the same seeds gave different weights
about one time in four (a smoke VAE's 10 fine-tuning steps, 2 threads, separate processes), and the
same product on 1 and on 2 threads differs in its last bits. MKL's strict "conditional numerical
reproducibility" mode (MKL_CBWR=AUTO,STRICT) makes the products independent of both and keeps the
fastest instruction set: measured at the default's speed here, where MKL_CBWR=COMPATIBLE, the
other reproducible mode, is 4x slower (tests/test_numerics.py holds the thread check).

MKL takes the mode when it starts up, at its first call, and refuses a change afterwards. So it is
set in two ways: in the environment when this package is imported (every stage's notebook kernel is
started by `s2accompanist.stage` and inherits it; `make` exports it too), and, in a process that
loaded torch without it, by MKL's own setter, which `strict_mkl` calls and which works until MKL
has computed something. After that `strict_mkl` warns: that process's results may vary.
"""

from __future__ import annotations

import ctypes
import os
import warnings
from functools import cache
from pathlib import Path

MKL_CBWR = "AUTO,STRICT"
# mkl_cbwr.h: AUTO 2, COMPATIBLE 3, the STRICT flag 0x10000; the default (no variable) reads 1.
_STRICT, _COMPATIBLE = 0x10000, 3
_AUTO_STRICT = 2 | _STRICT
_ALL = -1  # MKL_CBWR_ALL: ask for the whole setting


@cache
def _mkl():
    """MKL's service functions inside torch's CPU library, or None on a build without MKL (ARM, some GPU wheels)."""
    import torch

    library = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        mkl = ctypes.CDLL(str(library))
        mkl.mkl_serv_cbwr_get, mkl.mkl_serv_cbwr_set  # noqa: B018 - both must exist
    except (OSError, AttributeError):
        return None
    return mkl


def mkl_cbwr() -> int | None:
    """MKL's current reproducibility setting (0x10002 is AUTO,STRICT), or None without MKL."""
    mkl = _mkl()
    return None if mkl is None else int(mkl.mkl_serv_cbwr_get(ctypes.c_int(_ALL)))


def strict_mkl() -> bool:
    """Put MKL in AUTO,STRICT mode unless it is in a reproducible mode already; True if it is.

    False without MKL, or with a warning if MKL has started in its default mode and refuses the change."""
    mkl = _mkl()
    if mkl is None:
        return False
    mode = mkl_cbwr()
    if mode == _COMPATIBLE or (mode & _STRICT and mode != _AUTO_STRICT):
        return True  # a reproducible mode the user chose
    # Set even when the mode reads AUTO,STRICT already: MKL may report a variable set after torch
    # loaded without computing by it; setting the mode it is in is always accepted.
    status = mkl.mkl_serv_cbwr_set(ctypes.c_int(_AUTO_STRICT))
    if status != 0:
        warnings.warn(f"MKL has started in its default mode and refuses its strict reproducibility mode (status {status}): "
                      f"this process's results may differ between runs. Start it with MKL_CBWR={MKL_CBWR} in its environment "
                      "(importing s2accompanist before torch does it)", RuntimeWarning, stacklevel=2)
        return False
    return True


def export_to_environment() -> None:
    """For this process's children, and for torch if it is not imported yet; a value set by the user stays."""
    os.environ.setdefault("MKL_CBWR", MKL_CBWR)
