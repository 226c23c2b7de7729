"""bench/gpu_check.py runs with torch and the plain models alone, at toy sizes on the CPU."""

import json
import subprocess
import sys

from test_bench_models import REPO, load_bench

# What a lent GPU machine may lack: everything of ours beyond torch, safetensors and models/.
FORBIDDEN = ("lightning", "pydantic", "yaml", "pandas", "librosa", "transformers", "papermill", "s2accompanist.training",
             "s2accompanist.params")


def test_the_quick_check_measures_every_row_importing_nothing_else():
    probe = ("import json, runpy, sys; sys.argv = ['gpu_check.py', '--quick', '--device', 'cpu'];\n"
             "try:\n    runpy.run_path('bench/gpu_check.py', run_name='__main__')\n"
             "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
             f"print(json.dumps([m for m in {list(FORBIDDEN)!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    *section, imported = result.stdout.strip().splitlines()
    assert json.loads(imported) == [], f"the GPU check imported {imported}"
    text = "\n".join(section)
    for row in ("bf16 matmul peak", "paper DiT training throughput", "paper DiT training MFU", "paper VAE encode",
                "paper VAE decode", "paper DiT guided generation"):
        assert f"| {row} |" in text, row


def test_the_section_replaces_an_earlier_one_and_keeps_the_rest(tmp_path):
    gpu_check = load_bench("gpu_check")
    perf = tmp_path / "perf.md"
    perf.write_text("# Performance\n\n## dit\n\nrows\n\n## gpu check\n\nold numbers\n\n## vae\n\nmore rows\n")
    gpu_check.write_section(perf, "## gpu check\n\nnew numbers\n")
    text = perf.read_text()
    assert "old numbers" not in text and text.count("## gpu check") == 1 and "new numbers" in text
    assert "## dit\n\nrows" in text and "## vae\n\nmore rows" in text
