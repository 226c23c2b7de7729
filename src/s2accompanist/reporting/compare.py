"""Compare this checkout's run with the committed one: every metric, the machines, and whether it reproduced.

    python -m s2accompanist.reporting.compare [--against REV]     # or: make compare (after make repro)

The repository commits the metrics of its last default run (results.py). After a reviewer's own
`make repro` the working tree holds theirs; this reads both (the committed side with `git show`),
flattens every numeric metric of every `reports/metrics/*.json` that dvc.yaml declares, and
classifies each difference:
- identical: equal to 6 significant digits (what the same machine and settings give: tested);
- within drift: no larger than the drift measured when only the arithmetic changed on one
  machine (thread count, instruction set: reports/drift.json, written by bench/drift.py);
- differs: larger than that, or no drift was measured for the metric.
It also shows both runs' machines (from the report stage's timings) and writes the whole table to
reports/compare.md. Training curves: `dvc plots diff REV` (make compare also writes that page).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import write_text
from ..results import stage_outputs

DRIFT_FILE = Path("reports/drift.json")
MACHINE_SOURCE = "reports/timings/13_report.json"
IDENTICAL_DIGITS = 6


def flatten(tree: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a JSON tree as {dotted.key: value}; booleans and strings are not metrics."""
    if isinstance(tree, dict):
        out: dict[str, float] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(tree, list):
        out = {}
        for index, value in enumerate(tree):
            out.update(flatten(value, f"{prefix}.{index}"))
        return out
    if isinstance(tree, (int, float)) and not isinstance(tree, bool):
        return {prefix: float(tree)}
    return {}


def metric_files(dvc_file: str | Path = "dvc.yaml") -> list[str]:
    return sorted({o.path for o in stage_outputs(dvc_file) if o.path.startswith("reports/metrics/")})


def read_at(path: str, rev: str | None, root: Path) -> str | None:
    """A file's text in the working tree (rev None) or at a git revision; None where it is absent."""
    if rev is None:
        file = root / path
        return file.read_text() if file.is_file() else None
    result = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def metrics_at(rev: str | None, root: Path) -> dict[str, float]:
    values: dict[str, float] = {}
    for path in metric_files(root / "dvc.yaml"):
        text = read_at(path, rev, root)
        if text is not None:
            values.update({f"{Path(path).stem}:{key}": value for key, value in flatten(json.loads(text)).items()})
    return values


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return f"{a:.{IDENTICAL_DIGITS}g}" == f"{b:.{IDENTICAL_DIGITS}g}"


def classify(ours: float | None, theirs: float | None, drift: float | None) -> str:
    if ours is None or theirs is None:
        return "only in " + ("this run" if ours is None else "the committed run")
    if _same(ours, theirs):
        return "identical"
    if drift is not None and abs(theirs - ours) <= drift:
        return "within drift"
    return "differs"


def comparison(committed: dict[str, float], current: dict[str, float], drift: dict[str, float]) -> pd.DataFrame:
    rows = []
    for key in sorted(set(committed) | set(current)):
        ours, theirs = committed.get(key), current.get(key)
        rows.append({"metric": key, "committed": ours, "this run": theirs,
                     "difference": None if ours is None or theirs is None else theirs - ours,
                     "drift measured": drift.get(key), "verdict": classify(ours, theirs, drift.get(key))})
    return pd.DataFrame(rows, columns=["metric", "committed", "this run", "difference", "drift measured", "verdict"])


def machine_at(rev: str | None, root: Path) -> dict[str, Any]:
    text = read_at(MACHINE_SOURCE, rev, root)
    if text is None:
        return {}
    timings = json.loads(text)
    return {"commit": timings.get("commit"), "profile": timings.get("profile"), **(timings.get("machine") or {})}


def machines_table(committed: dict[str, Any], current: dict[str, Any]) -> pd.DataFrame:
    keys = list(dict.fromkeys([*committed, *current]))
    show = lambda value: ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))  # noqa: E731
    return pd.DataFrame({"": keys, "committed run": [show(committed.get(k)) for k in keys],
                         "this run": [show(current.get(k)) for k in keys]})


def load_drift(root: Path) -> dict[str, Any]:
    """bench/drift.py's record (its profile and `max_abs_difference`); empty when never measured."""
    path = root / DRIFT_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def report(rev: str, root: Path = Path(".")) -> tuple[str, pd.DataFrame]:
    committed, current = metrics_at(rev, root), metrics_at(None, root)
    if not committed:
        raise FileNotFoundError(f"{rev} holds no committed run (no metrics of dvc.yaml's reports/metrics/ in git there); "
                                "compare against a commit that carries results (--against REV)")
    if not current:
        raise FileNotFoundError("this checkout holds no metrics of its own: run `make repro` first")
    drift, committed_machine = load_drift(root), machine_at(rev, root)
    table = comparison(committed, current, drift.get("max_abs_difference", {}))
    counts = table["verdict"].value_counts()
    compared = int(counts.get("identical", 0) + counts.get("within drift", 0) + counts.get("differs", 0))
    reproduced = int(counts.get("identical", 0) + counts.get("within drift", 0))
    drift_note = f"No drift measurement ({DRIFT_FILE} missing): every difference counts as 'differs'."
    if drift:
        drift_profile, run_profile = drift.get("profile"), committed_machine.get("profile")
        drift_note = (f"Drift: the largest difference measured on one machine when only threads or instruction set changed "
                      f"({DRIFT_FILE}, bench/drift.py), on the {drift_profile} profile")
        drift_note += (f"; this run is {run_profile}, so that tolerance is only indicative." if run_profile and drift_profile != run_profile
                       else ".")
    text = "\n\n".join([
        f"# This run against the committed run ({rev})",
        f"Reproduced: {reproduced} of {compared} metrics identical or within the measured drift "
        f"({int(counts.get('identical', 0))} identical, {int(counts.get('within drift', 0))} within drift, "
        f"{int(counts.get('differs', 0))} differ). {drift_note}",
        "## Machines\n\n" + machines_table(committed_machine, machine_at(None, root)).to_markdown(index=False),
        "## Metrics\n\n" + table.to_markdown(index=False, floatfmt=".6g"),
    ]) + "\n"
    return text, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="the git revision holding the committed run (default HEAD)")
    parser.add_argument("--out", default="reports/compare.md")
    args = parser.parse_args(argv)
    try:
        text, table = report(args.against)
    except FileNotFoundError as err:
        print(f"compare: {err}", file=sys.stderr)
        return 2
    write_text(args.out, text)
    print(text.split("## Metrics")[0])
    print(f"The table of every metric: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
