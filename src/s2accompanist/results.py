"""The results a run leaves in git: which files they are, whether they still match the code, where they came from.

The repository carries its last default run (`dvc.lock` and every `cache: false` output of
dvc.yaml: metrics, plots, timings, tables, figures, the listening page, the rendered notebooks),
the way DVC's example-get-started does. Cached outputs (audio, checkpoints, latents) travel
through the DVC remote instead. This module answers three questions about those files:
- which paths are results (so copies for tests can leave them out, and tests can check them);
- whether the committed `dvc.lock` still describes dvc.yaml and params.yaml, and which stages
  `dvc status` finds stale;
- on what machine a run was made (recorded in every stage's timings, shown by `compare`).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LOCK_FILE = "dvc.lock"
PARAMS_FILE = "params.yaml"
# Instruction sets that change which kernels torch and the BLAS pick, hence the arithmetic.
_ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


@dataclass(frozen=True)
class Output:
    stage: str   # the expanded name, e.g. "vae@plain"
    path: str
    cached: bool  # False: `cache: false`, kept in git; True: in the DVC cache and remote


def _substitute(text: str, key: str, item: Any) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "key":
            return key
        if name == "item":
            return str(item)
        node = item
        for part in name.removeprefix("item.").split("."):
            node = node[part]
        return str(node)

    return re.sub(r"\$\{\s*([\w.]+)\s*\}", value, text)


def expanded_stages(dvc_file: str | Path = "dvc.yaml") -> dict[str, dict[str, Any]]:
    """dvc.yaml's stages with every `foreach` expanded to `name@key`, `${key}`/`${item.x}` filled in."""
    stages = yaml.safe_load(Path(dvc_file).read_text())["stages"]
    expanded: dict[str, dict[str, Any]] = {}
    for name, entry in stages.items():
        if "foreach" not in entry:
            expanded[name] = entry
            continue
        for key, item in entry["foreach"].items():
            text = yaml.safe_dump(entry["do"], sort_keys=False)
            expanded[f"{name}@{key}"] = yaml.safe_load(_substitute(text, key, item))
    return expanded


def stage_outputs(dvc_file: str | Path = "dvc.yaml") -> list[Output]:
    """Every outs / metrics / plots entry of every stage, with whether DVC caches it."""
    outputs = []
    for stage, entry in expanded_stages(dvc_file).items():
        for section in ("outs", "metrics", "plots"):
            for item in entry.get(section, []):
                path, options = (item, {}) if isinstance(item, str) else next(iter(item.items()))
                outputs.append(Output(stage, path, bool((options or {}).get("cache", True))))
    return outputs


def committed_result_paths(dvc_file: str | Path = "dvc.yaml") -> list[str]:
    """What a run leaves for git: dvc.lock and every `cache: false` output."""
    return [LOCK_FILE, *sorted({o.path for o in stage_outputs(dvc_file) if not o.cached})]


def is_run_result(relative_path: str, outputs: list[Output]) -> bool:
    """True for a file a run writes: dvc.lock, anything inside one of `outputs` (`stage_outputs`),
    or a .gitignore DVC wrote beside a cached output (every .gitignore but the repository's own)."""
    path = Path(relative_path)
    if relative_path == LOCK_FILE or (path.name == ".gitignore" and path.parent != Path(".") and path.parts[0] != ".dvc"):
        return True
    return any(path == Path(o.path) or Path(o.path) in path.parents for o in outputs)


def _dotted(tree: dict[str, Any], key: str) -> Any:
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def lock_mismatches(root: str | Path = ".") -> list[str]:
    """Why the committed dvc.lock does not describe this dvc.yaml and params.yaml (empty: it does).

    Checks the stage list (each dvc.yaml stage, `foreach` expanded, is in the lock and nothing
    else is) and every param value the lock recorded against params.yaml. Code changes are what
    `stale_stages` (DVC's own hashing) reports."""
    root = Path(root)
    lock_path = root / LOCK_FILE
    if not lock_path.is_file():
        return [f"{LOCK_FILE} is missing: no run is committed"]
    locked = (yaml.safe_load(lock_path.read_text()) or {}).get("stages", {})
    declared = expanded_stages(root / "dvc.yaml")
    params = yaml.safe_load((root / PARAMS_FILE).read_text())
    problems = [f"stage {name} is in dvc.yaml but not in {LOCK_FILE}" for name in declared if name not in locked]
    problems += [f"stage {name} is in {LOCK_FILE} but not in dvc.yaml" for name in locked if name not in declared]
    for name, entry in locked.items():
        for key, value in (entry.get("params") or {}).get(PARAMS_FILE, {}).items():
            try:
                current = _dotted(params, key)
            except KeyError:
                problems.append(f"{name}: {LOCK_FILE} records param {key}, which {PARAMS_FILE} no longer has")
                continue
            if current != value:
                problems.append(f"{name}: param {key} is {current!r} in {PARAMS_FILE}, the committed run used {value!r}")
    return problems


def dvc_executable() -> str:
    """The DVC of this Python's environment (the venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.is_file() else "dvc"


def stale_stages(root: str | Path = ".") -> dict[str, list[str]]:
    """Stages whose code, params or command changed since `dvc.lock` was written, with what changed.

    From `dvc status --json`, counting only what the pipeline does not make itself: code, params,
    commands and external inputs. Outputs, and dependencies that are other stages' outputs, are
    left out: in a clone that has not run `dvc pull` they are absent or hold only DVC's .gitignore,
    and where an upstream stage really changed, that stage is stale by its own code or params."""
    result = subprocess.run([dvc_executable(), "status", "--json"], cwd=root, capture_output=True, text=True, check=True)
    status = json.loads(result.stdout or "{}")
    produced = [Path(o.path) for o in stage_outputs(Path(root) / "dvc.yaml")]

    def made_by_the_pipeline(path: str) -> bool:
        path = Path(path)
        return any(path == out or path in out.parents or out in path.parents for out in produced)

    stale: dict[str, list[str]] = {}
    for stage, entries in status.items():
        reasons = []
        for entry in entries:
            if isinstance(entry, str):  # "changed command", "always changed"
                reasons.append(entry)
                continue
            for kind, changes in entry.items():
                if kind == "changed outs":
                    continue  # outputs are what a run writes, not why it would rerun
                for path, how in changes.items():
                    if isinstance(how, dict):  # a params file: {key: "modified" | "new" | "deleted"}
                        reasons += [f"param {key} {change}" for key, change in how.items()]
                    elif not made_by_the_pipeline(path):
                        reasons.append(f"{path} {how}")
        if reasons:
            stale[stage] = reasons
    return stale


def git_commit(root: str | Path = ".") -> str | None:
    """The checked-out commit, with "-dirty" when tracked files other than run results differ from
    it (a run rewrites the committed results as it goes; that is not a change of the code); None
    outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    outputs = stage_outputs(Path(root) / "dvc.yaml") if (Path(root) / "dvc.yaml").is_file() else []
    dirty = [line[3:] for line in changed.splitlines() if line.strip() and not is_run_result(line[3:].strip('"'), outputs)]
    return commit + ("-dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """What decides the arithmetic of a run: CPU, its instruction sets, threads, library builds."""
    cpu, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    record: dict[str, Any] = {
        "cpu": cpu,
        "isa": [flag for flag in _ISA_FLAGS if flag in flags],
        "logical_cpus": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import numpy
        import torch

        record.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                      torch_cpu_capability=torch.backends.cpu.get_cpu_capability(), numpy=numpy.__version__)
    except ImportError:
        pass
    record["thread_env"] = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                         "OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY", "MKL_CBWR") if k in os.environ}
    return record


def copy_results(source: str | Path, destination: str | Path = ".") -> list[str]:
    """Copy a finished run's results (dvc.lock, the `cache: false` outputs and the .gitignore files
    DVC wrote) from another checkout, e.g. a fresh clone that ran `make repro`, into this one."""
    source, destination = Path(source), Path(destination)
    if not (source / LOCK_FILE).is_file():
        raise FileNotFoundError(f"{source / LOCK_FILE} is missing: run `make repro` in {source} first")
    copied = []
    names = [*committed_result_paths(source / "dvc.yaml"),
             *(str(p.relative_to(source)) for folder in ("data", "reports") for p in (source / folder).rglob(".gitignore"))]
    for name in names:
        origin, target = source / name, destination / name
        if origin.is_dir():
            if target.exists():
                shutil.rmtree(target)  # a stale file of an older run must not survive
            shutil.copytree(origin, target)
        elif origin.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
        else:
            continue
        copied.append(name)
    return copied


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="The committed results of a run: copy them from a finished checkout, or check them.")
    sub = parser.add_subparsers(dest="command", required=True)
    copy = sub.add_parser("copy-from", help="copy a finished run's results from another checkout into this one")
    copy.add_argument("source")
    sub.add_parser("check", help="does dvc.lock match dvc.yaml and params.yaml, and which stages are stale")
    args = parser.parse_args(argv)
    if args.command == "copy-from":
        copied = copy_results(args.source)
        print(f"copied {len(copied)} results from {args.source}; now `make readme-tables` and commit them")
        return 0
    problems, stale = lock_mismatches(), stale_stages()
    for problem in problems:
        print(f"dvc.lock: {problem}")
    for stage, reasons in stale.items():
        print(f"stale: {stage}: {', '.join(reasons)}")
    if not problems and not stale:
        print("the committed run matches dvc.yaml, params.yaml and the code")
    return 1 if problems or stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
