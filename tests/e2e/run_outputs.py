"""What a finished `dvc repro` in a copy produced: its metrics, and the hashes DVC recorded for its
outputs, and where two runs differ. Shared by the determinism and interruption tests and read by
bench/reliability_report.py (through the JSON the determinism test writes)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import yaml

# Outputs that are expected to differ between two runs, and why. Everything else must be identical.
VOLATILE = {
    "reports/timings/": "wall-clock seconds and peak memory of the stage: differ on every run",
    "reports/notebooks/": "executed notebooks carry papermill's start/end times and cell durations",
}
# Where the tests put what they found for the reliability report (unset: nothing is written).
REPORT_DIR_ENV = "S2ACC_RELIABILITY_OUT"


def metrics(repo: Path) -> dict[str, object]:
    return {p.name: json.loads(p.read_text()) for p in sorted((repo / "reports/metrics").glob("*.json"))}


def lock_outputs(repo: Path) -> dict[str, str]:
    """{out path: md5} for every stage output recorded in dvc.lock (a folder's md5 ends in .dir)."""
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {out["path"]: out.get("md5", "") for stage in stages.values() for out in stage.get("outs", [])}


def file_md5s(root: Path) -> dict[str, str]:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root.parent)): hashlib.md5(p.read_bytes()).hexdigest() for p in files}


def volatile_reason(path: str) -> str | None:
    return next((why for prefix, why in VOLATILE.items() if path.startswith(prefix)), None)


def compare_outputs(first: Path, second: Path) -> list[dict[str, object]]:
    """One row per dvc.lock output: identical or not, the differing files inside a folder, and
    the documented reason when the output is one of the VOLATILE kinds."""
    a, b = lock_outputs(first), lock_outputs(second)
    rows = []
    for path in sorted(set(a) | set(b)):
        row: dict[str, object] = {"output": path, "identical": a.get(path) == b.get(path) and path in a and path in b}
        if not row["identical"]:
            files_a = file_md5s(first / path) if (first / path).exists() else {}
            files_b = file_md5s(second / path) if (second / path).exists() else {}
            row["differing_files"] = sorted(f for f in set(files_a) | set(files_b) if files_a.get(f) != files_b.get(f))
        row["expected_to_differ"] = volatile_reason(path)
        rows.append(row)
    return rows


def unexpected_differences(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [r for r in rows if not r["identical"] and not r["expected_to_differ"]]


def write_finding(name: str, finding: dict[str, object]) -> Path | None:
    """Save a test's finding as <S2ACC_RELIABILITY_OUT>/<name>.json for the reliability report."""
    folder = os.environ.get(REPORT_DIR_ENV)
    if not folder:
        return None
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finding, indent=2, sort_keys=True) + "\n")
    return path
