"""Write reports/reliability.md: each reproducibility and fault-tolerance check, what it tried,
whether it held, and which pipeline outputs are bit-identical between two clean runs.

    python bench/reliability_report.py                 # run the checks (23 min on 2 cores), then write
    python bench/reliability_report.py --junit FILE...  # write from earlier runs' junit XML files

The checks are the tests in tests/e2e, tests/reliability and tests/training/test_training_resume.py.
"What was tried" is each test module's docstring. The tests leave their findings (output
hashes, the stages killed, the bad-input totals) as JSON in reports/reliability/ when
S2ACC_RELIABILITY_OUT names that folder, which this script sets.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from s2accompanist.io import write_text  # noqa: E402

CHECKS = ["tests/e2e", "tests/reliability", "tests/training/test_training_resume.py"]
FINDINGS = REPO / "reports/reliability"
REPORT = REPO / "reports/reliability.md"


def run_checks(junit: Path) -> int:
    env = {**os.environ, "S2ACC_RELIABILITY_OUT": str(FINDINGS)}
    command = [sys.executable, "-m", "pytest", *CHECKS, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    return subprocess.run(command, cwd=REPO, env=env).returncode


def outcomes(junits: list[Path]) -> dict[str, list[tuple[str, str, float, str]]]:
    """{test file: [(test name, passed|failed|error|skipped, seconds, message)]}."""
    by_file: dict[str, list[tuple[str, str, float, str]]] = {}
    cases = [case for junit in junits for case in ET.parse(junit).getroot().iter("testcase")]
    for case in cases:
        # classname is the test's node id without ".py" and with dots: tests.e2e.test_x[.Class]
        parts = case.get("classname", "").split(".")
        path = next(("/".join(parts[:i]) + ".py" for i in range(len(parts), 0, -1)
                     if (REPO / ("/".join(parts[:i]) + ".py")).is_file()), "/".join(parts) + ".py")
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[kind]
                message = (found.get("message") or "").splitlines()[0][:160] if found.get("message") else ""
        by_file.setdefault(path, []).append((case.get("name", ""), outcome, float(case.get("time", 0)), message))
    return by_file


def what_was_tried(test_file: str) -> str:
    path = REPO / test_file
    if not path.is_file():
        return ""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split())


def finding(name: str) -> dict | None:
    path = FINDINGS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def checks_section(results: dict[str, list[tuple[str, str, float, str]]]) -> list[str]:
    lines = ["## Checks", "", "| check | what was tried | result | time |", "|---|---|---|---|"]
    for test_file in sorted(results):
        cases = results[test_file]
        failed = [c for c in cases if c[1] in ("failed", "error")]
        passed = sum(c[1] == "passed" for c in cases)
        result = f"**FAIL** ({len(failed)} of {len(cases)}: {'; '.join(f'{c[0]}: {c[3]}' for c in failed)[:300]})" if failed \
            else f"pass ({passed} of {len(cases)} tests" + (f", {len(cases) - passed} skipped)" if passed < len(cases) else ")")
        lines.append(f"| `{test_file}` | {what_was_tried(test_file).replace('|', '/')} | {result} | {sum(c[2] for c in cases):.0f} s |")
    missing = [c for c in CHECKS if not any(f.startswith(c) for f in results)]
    if missing:
        lines += ["", f"Not among the results given: {', '.join(f'`{c}`' for c in missing)}. Sections below that come "
                  "from their findings (reports/reliability/*.json) are from an earlier run of those tests."]
    return lines + [""]


def determinism_section() -> list[str]:
    found = finding("determinism")
    lines = ["## Bit-identical outputs of two clean smoke runs", ""]
    if found is None:
        return lines + ["Not measured: the determinism test did not run or did not get far enough to compare.", ""]
    rows = found["outputs"]
    same = sum(r["identical"] for r in rows)
    lines += [f"{same} of {len(rows)} DVC outputs have the same hash in both runs; metrics files compared: "
              f"{len(found['metrics_files'])}, differing: {', '.join(found['differing_metrics']) or 'none'}.", "",
              "| output | bit-identical | why not |", "|---|---|---|"]
    volatile: dict[str, int] = {}
    for row in rows:
        why = row.get("expected_to_differ") or ""
        if not row["identical"] and why:
            folder = str(row["output"]).rsplit("/", 1)[0] + "/"
            volatile[folder] = volatile.get(folder, 0) + 1
            continue
        if not row["identical"]:
            why = "**unexpected**: " + ", ".join(row.get("differing_files", [])[:5])
        lines.append(f"| `{row['output']}` | {'yes' if row['identical'] else 'no'} | {why} |")
    for folder, count in sorted(volatile.items()):
        lines.append(f"| `{folder}*` ({count} outputs) | no | {found['volatile'].get(folder, '')} |")
    return lines + [""]


def kill_section() -> list[str]:
    found = finding("kill_every_stage")
    lines = ["## Stages killed with SIGKILL", ""]
    if found is None:
        return lines + ["Not measured: the interruption test did not run or did not finish.", ""]
    lines += ["| stage | killed after (s) |", "|---|---|"] + [f"| `{k['stage']}` | {k['after_s']} |" for k in found["kills"]]
    rows = found["outputs"]
    differing = [r["output"] for r in rows if not r["identical"] and not r.get("expected_to_differ")]
    known = [r for r in rows if not r["identical"] and r.get("expected_to_differ")
             and not str(r["output"]).startswith(("reports/notebooks/", "reports/timings/"))]
    lines += ["", f"After the kills and a final `dvc repro`: {sum(r['identical'] for r in rows)} of {len(rows)} outputs "
              f"bit-identical to the uninterrupted run; unexpected differences: {', '.join(differing) or 'none'}.", ""]
    lines += [f"- `{r['output']}` differs: {r['expected_to_differ']}" for r in known]
    lines += ["",
              f"Temporary files left by killed writers: {len(found['tmp_leftovers'])} "
              f"({', '.join(found['tmp_leftovers'][:6]) or 'none'}); inside a DVC output: {len(found['tmp_leftovers_inside_outputs'])}.", ""]
    return lines


def bad_input_section() -> list[str]:
    found = finding("bad_input_corpus")
    lines = ["## Bad-input corpus", ""]
    if found is None:
        return lines + ["Not measured: the bad-input test did not run or did not finish.", ""]
    lines += [f"{found['inputs']} inputs; ingest: {found['ingest']['tracks']} tracks + {found['ingest']['rejects']} rejects; "
              f"curate: {found['curate']['tracks']} tracks + {found['curate']['rejects']} rejects; "
              f"lead sheets: {found['leadsheets']}; latents: {found['latents']}.", "",
              "| input | reject reason |", "|---|---|"]
    lines += [f"| `{name}` | {reason.replace('|', '/')[:160]} |" for name, reason in found["rejects"].items()]
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path, nargs="+", help="junit XML of earlier runs of the checks (default: run them now)")
    args = parser.parse_args(argv)
    junits = args.junit
    code = 0
    if not junits:
        FINDINGS.mkdir(parents=True, exist_ok=True)
        junits = [FINDINGS / "junit.xml"]
        code = run_checks(junits[0])
    results = outcomes(junits)
    sources = ", ".join(f"`{os.path.relpath(j, REPO)}`" for j in junits)
    lines = ["# Reliability", "", f"Written by `python bench/reliability_report.py` on {time.strftime('%Y-%m-%d')} from {sources}.", "",
             *checks_section(results), *determinism_section(), *kill_section(), *bad_input_section()]
    write_text(REPORT, "\n".join(lines))
    print(f"wrote {REPORT.relative_to(REPO)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
