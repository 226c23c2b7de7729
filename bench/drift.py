"""How far the metrics move when only the arithmetic changes, on one machine: the tolerance of "reproduced".

Two clean runs with the same settings on one machine are identical (tests/e2e/test_determinism.py).
Another machine changes the arithmetic: another thread count splits reductions differently, another
instruction set makes torch pick other kernels (AVX2 where this machine has AVX-512), and training
trajectories then diverge. This bench makes those changes on one machine and records how far
every metric moved, for `make compare` to use as the tolerance.

    python bench/drift.py [--profile smoke|default] [--settings ...] [--reference DIR]   # or: make drift

It runs `dvc repro` in fresh copies of the working tree (code and params only, no results), one per
setting, all at once, then writes reports/drift.json (the largest absolute difference of each metric
from the reference run) and reports/drift.md. The smoke profile takes about 15 min on 2 cores; the
default profile about three times its `make repro`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from e2e.repo_copy import clone_worktree, run, start_repro, wait_repro  # noqa: E402
from s2accompanist.io import write_json, write_text  # noqa: E402
from s2accompanist.reporting.compare import metrics_at  # noqa: E402
from s2accompanist.results import machine  # noqa: E402

# name -> (environment, trainer.num_threads or None to keep params.yaml's)
SETTINGS = {
    "reference": ({}, None),
    "1 thread": ({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, 1),
    "AVX2 kernels": ({"ATEN_CPU_CAPABILITY": "avx2"}, None),
}


def prepare(destination: Path, profile: str, num_threads: int | None) -> Path:
    repo = clone_worktree(destination)
    if profile != "default":
        run([sys.executable, "-m", "s2accompanist.profiles", profile], repo)
    if num_threads is not None:
        params_file = repo / "params.yaml"
        text = params_file.read_text()
        current = yaml.safe_load(text)["trainer"]["num_threads"]
        params_file.write_text(text.replace(f"num_threads: {current} ", f"num_threads: {num_threads} ", 1))
        assert yaml.safe_load(params_file.read_text())["trainer"]["num_threads"] == num_threads
    return repo


def summarize(runs: dict[str, Path], profile: str, settings: list[str]) -> dict:
    metrics = {name: metrics_at(None, repo) for name, repo in runs.items()}
    reference = metrics["reference"]
    largest: dict[str, float] = {}
    per_setting: dict[str, dict[str, float]] = {}
    for name, values in metrics.items():
        if name == "reference":
            continue
        differences = {key: abs(values[key] - reference[key]) for key in reference if key in values}
        per_setting[name] = differences
        for key, difference in differences.items():
            largest[key] = max(largest.get(key, 0.0), difference)
    return {"profile": profile, "settings": {name: {"env": SETTINGS[name][0], "trainer.num_threads": SETTINGS[name][1]}
                                             for name in ["reference", *settings]},
            "machine": machine(), "date": time.strftime("%Y-%m-%d"),
            "max_abs_difference": largest, "abs_difference_by_setting": per_setting, "reference": reference}


def markdown(record: dict) -> str:
    rows = ["| metric | reference | " + " | ".join(f"|diff| {name}" for name in record["abs_difference_by_setting"]) + " |",
            "| :--- | ---: | " + " | ".join("---:" for _ in record["abs_difference_by_setting"]) + " |"]
    for key, value in sorted(record["reference"].items()):
        diffs = [record["abs_difference_by_setting"][name].get(key) for name in record["abs_difference_by_setting"]]
        rows.append(f"| {key} | {value:.6g} | " + " | ".join("" if d is None else f"{d:.3g}" for d in diffs) + " |")
    moved = sum(1 for v in record["max_abs_difference"].values() if v > 0)
    return (f"# Metric drift on one machine ({record['date']})\n\nWritten by `bench/drift.py --profile {record['profile']}` "
            f"on {record['machine']['cpu']} ({record['machine']['torch_cpu_capability']}). Each setting reran the whole "
            f"{record['profile']} DAG from the same code and params; only the arithmetic changed. {moved} of "
            f"{len(record['max_abs_difference'])} metrics moved. `make compare` counts a difference no larger than the "
            f"largest one here as 'within drift'.\n\n" + "\n".join(rows) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke", choices=["smoke", "default"])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--settings", nargs="+", choices=[name for name in SETTINGS if name != "reference"],
                        default=[name for name in SETTINGS if name != "reference"], help="which changes to run")
    parser.add_argument("--reference", type=Path, default=None,
                        help="a finished run of the same code and profile to compare with (e.g. a fresh clone after "
                             "`make repro`), instead of running the reference here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="s2a-drift-"))
    started = {}
    for index, name in enumerate(["reference", *args.settings]):
        if name == "reference" and args.reference is not None:
            continue
        env, threads = SETTINGS[name]
        repo = prepare(workdir / f"run{index}" / "repo", args.profile, threads)
        started[name] = start_repro(repo, env)
        print(f"{name}: dvc repro in {repo}", flush=True)
    runs = {name: wait_repro(process, timeout=6 * 3600) for name, process in started.items()}
    if args.reference is not None:
        runs["reference"] = args.reference
    record = summarize(runs, args.profile, args.settings)
    write_json(REPO / "reports" / "drift.json", record)
    write_text(REPO / "reports" / "drift.md", markdown(record))
    print((REPO / "reports" / "drift.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
