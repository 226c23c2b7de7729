"""MKL's strict reproducibility mode: exported to child processes by importing the package, set
in-process by `strict_mkl` while MKL has not started, and with it a matrix product no longer
depends on the thread count. Each check runs in a fresh interpreter: MKL takes its mode once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# numerics.py loaded by path, without the package (whose import would set the variable first).
LOAD_ALONE = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("numerics", {str(SRC / 's2accompanist' / 'numerics.py')!r})
numerics = importlib.util.module_from_spec(spec); spec.loader.exec_module(numerics)
"""
SHAPES = [(64, 300, 48), (1000, 64, 64), (8, 4096, 128), (512, 512, 512), (33, 1000, 7), (4000, 32, 16), (16, 8000, 64), (256, 4096, 256)]
COUNT_THREAD_DEPENDENT_PRODUCTS = f"""
torch.manual_seed(0)
differing = 0
for m, k, n in {SHAPES}:
    a, b = torch.randn(m, k), torch.randn(k, n)
    outputs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        outputs.append(a @ b)
    differing += not torch.equal(*outputs)
"""


def python(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"} | {"PYTHONPATH": str(SRC)} | env
    return subprocess.run([sys.executable, "-W", "always", "-c", code], env=environment, capture_output=True, text=True,
                          check=True).stdout.strip()


def skip_without_mkl() -> None:
    if python(LOAD_ALONE + "print(numerics.mkl_cbwr())") == "None":
        pytest.skip("this torch has no MKL")


def test_importing_the_package_exports_the_strict_mode_to_child_processes():
    skip_without_mkl()
    code = ("import s2accompanist, subprocess, sys; print(subprocess.run([sys.executable, '-c', "
            "'import torch, os; from s2accompanist.numerics import mkl_cbwr; print(os.environ[\"MKL_CBWR\"], mkl_cbwr())'], "
            "capture_output=True, text=True, check=True).stdout)")
    setting, mode = python(code).split()
    assert (setting, int(mode)) == ("AUTO,STRICT", 0x10002)


def test_a_user_choice_of_mkl_cbwr_is_kept():
    assert python("import os, s2accompanist; print(os.environ['MKL_CBWR'])", MKL_CBWR="COMPATIBLE") == "COMPATIBLE"


def test_strict_mkl_after_torch_makes_matrix_products_independent_of_the_thread_count():
    # No variable anywhere: the setter alone must do it. Without it, on the 2-core Xeon this was
    # measured on, 4 of these 8 products differ between 1 and 2 threads.
    skip_without_mkl()
    code = "import torch\n" + LOAD_ALONE + """
before = numerics.mkl_cbwr()
assert numerics.strict_mkl()
""" + COUNT_THREAD_DEPENDENT_PRODUCTS + "print(before, numerics.mkl_cbwr(), differing)"
    before, after, differing = map(int, python(code).split())
    assert before != 0x10002, "MKL was strict already: this test would not see strict_mkl work"
    assert after == 0x10002
    assert differing == 0


def test_strict_mkl_once_mkl_has_started_warns_instead_of_failing():
    skip_without_mkl()
    code = "import torch, warnings\ntorch.ones(8, 8) @ torch.ones(8, 8)\n" + LOAD_ALONE + """
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    print(numerics.strict_mkl(), any("MKL_CBWR=AUTO,STRICT" in str(w.message) for w in caught))
"""
    assert python(code) == "False True"
