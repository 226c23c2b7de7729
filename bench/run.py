"""`make bench`: run every bench/bench_*.py and write reports/perf.md.

Each benchmark module defines `run() -> list[dict]` with keys name, value, unit and note. Numbers
are measurements on this machine (described at the top of the report); tests never assert them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from s2accompanist.io import write_text  # noqa: E402


def machine() -> str:
    from s2accompanist.results import machine as machine_record

    record = machine_record()
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{record['cpu']}, {record['logical_cpus']} cores ({record.get('torch_cpu_capability')} kernels), "
            f"{memory_gb:.0f} GiB RAM; Python {record['python']}, torch {record.get('torch')}, {record['os']}")


KEPT_MARKER = "The other sections are kept from the earlier report, whose header said:"


def provenance_lines(earlier_header: str) -> list[str]:
    """The earlier header's own lines without its title, unquoted, each once: a partial run's header
    quoted the one before it, and re-quoting that nested one level deeper on every partial run."""
    lines = []
    for line in earlier_header.splitlines()[1:]:
        line = line.strip()
        while line.startswith(">"):
            line = line[1:].strip()
        if line and line != KEPT_MARKER and line not in lines:
            lines.append(line)
    return lines


def earlier_sections(report: Path) -> dict[str, str]:
    """The `## name` sections of an existing perf.md, by name, each with its text up to the next one."""
    if not report.is_file():
        return {}
    parts = report.read_text().split("\n## ")[1:]
    return {part.split("\n", 1)[0].strip(): "## " + part.rstrip() + "\n" for part in parts}


def main(only: list[str]) -> int:
    """Every benchmark, or with names (e.g. bench_stage_timings) only those: their sections are
    replaced in the existing reports/perf.md and the others kept as they were measured."""
    os.chdir(REPO)
    report = REPO / "reports/perf.md"
    kept = earlier_sections(report) if only else {}
    earlier = (report.read_text().split("\n## ")[0] if kept else "").strip()
    header = f"# Performance\n\nWritten by `make bench` on {time.strftime('%Y-%m-%d')}.\n\nMachine: {machine()}\n"
    if kept:  # the kept sections say where and when they were measured: the earlier header's lines, quoted once
        header = (f"# Performance\n\nSections {', '.join(only)} written by `make bench` on {time.strftime('%Y-%m-%d')} on: "
                  f"{machine()}\n\n{KEPT_MARKER}\n\n" + "\n".join("> " + line for line in provenance_lines(earlier)) + "\n")
    sections = [header]
    for path in sorted((REPO / "bench").glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and path.stem not in only:
            if name in kept:
                sections.append(kept[name])
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"running {path.stem} ...", flush=True)
        rows = module.run()
        lines = [f"## {name}\n", (module.__doc__ or "").strip() + "\n",
                 "| measurement | value | unit | note |", "|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['value']} | {r['unit']} | {r.get('note', '')} |" for r in rows]
        sections.append("\n".join(lines) + "\n")
    # Whole-command timings (the README's two commands from a fresh clone) take too long for every
    # `make bench`; they are measured by hand with the command given there and kept beside the code.
    by_hand = REPO / "bench" / "measured_by_hand.md"
    if by_hand.is_file():
        sections.append(by_hand.read_text())
    write_text(REPO / "reports/perf.md", "\n".join(sections))
    print("wrote reports/perf.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
