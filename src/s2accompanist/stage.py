"""Run one DVC stage: `python -m s2accompanist.stage NAME [--variant KEY]`.

What every stage in dvc.yaml does, in order:
1. validate params.yaml against the schema; a bad file stops here, before any work;
2. execute the stage's notebook with papermill, injecting only the params keys the stage lists
   in dvc.yaml (and, for a `foreach` stage, its variant's settings);
3. write the executed notebook and its HTML rendering to reports/notebooks/, atomically;
4. write where the time went to reports/timings/ (kept apart from metrics, which must be
   identical between runs while timings never are), with the commit and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from .io import atomic_path, write_json, write_text
from .params import DVC_FILE, ParamsError, declared_params, load_params, select_keys
from .progress import STAGE_ENV
from .results import git_commit, machine

KERNEL_NAME = "s2accompanist"
NOTEBOOKS = Path("notebooks")
RENDERED = Path("reports/notebooks")
TIMINGS = Path("reports/timings")
# Tool noise that would otherwise land in every rendered notebook as red stderr boxes, silenced in
# the kernel's environment because it happens at import time, before a notebook's first line:
# tqdm.auto (imported by transformers) warns that a kernel without ipywidgets cannot draw widget
# bars, and transformers draws a bar for loading a few hundred kilobytes of weights.
KERNEL_QUIET_ENV = {
    "PYTHONWARNINGS": "ignore:IProgress not found:Warning",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}
# Inline figures at 72 dpi (the file says why).
MATPLOTLIBRC = Path(__file__).parent / "resources" / "matplotlibrc"


def notebook_for(stage: str) -> Path:
    """notebooks/NN_<stage>.ipynb: the one notebook a stage executes."""
    matches = sorted(NOTEBOOKS.glob(f"[0-9][0-9]_{stage}.ipynb"))
    if len(matches) != 1:
        raise FileNotFoundError(f"stage '{stage}' needs exactly one notebooks/NN_{stage}.ipynb, found {len(matches)}")
    return matches[0]


def variant_settings(stage: str, variant: str | None, dvc_file: str | Path = DVC_FILE) -> dict[str, Any] | None:
    """The `foreach` item of `stage@variant` in dvc.yaml, with its key as `name`."""
    stages = yaml.safe_load(Path(dvc_file).read_text())["stages"]
    if stage not in stages:
        raise ValueError(f"no stage '{stage}' in {dvc_file}; stages are: {', '.join(stages)}")
    entry = stages[stage]
    if "foreach" not in entry:
        if variant is not None:
            raise ValueError(f"stage '{stage}' has no variants, but --variant {variant} was given")
        return None
    items = entry["foreach"]
    if variant not in items:
        raise ValueError(f"stage '{stage}' has variants {', '.join(items)}; got --variant {variant}")
    item = items[variant]
    return {"name": variant, **(item if isinstance(item, dict) else {})}


def run_stage(stage: str, variant: str | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    params = load_params()
    settings = variant_settings(stage, variant)
    full_name = f"{stage}@{variant}" if variant else stage
    injected = {"params": select_keys(params, declared_params(full_name)), "variant": settings}

    notebook = notebook_for(stage)
    out_stem = notebook.stem + (f"-{variant}" if variant else "")
    executed = RENDERED / f"{out_stem}.ipynb"
    # A run killed mid-notebook leaves its temporary copy behind (atomic_path's naming); clear ours.
    for leftover in RENDERED.glob(f".{executed.name}.*.tmp.ipynb"):
        leftover.unlink(missing_ok=True)
    # The kernel imports this checkout's package even when the venv holds an install of another copy.
    src = str(Path("src").resolve())
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    # Progress bars in the kernel go to the terminal, not into the rendered notebook (progress.py).
    os.environ[STAGE_ENV] = full_name
    os.environ["MATPLOTLIBRC"] = str(MATPLOTLIBRC)
    for key, value in KERNEL_QUIET_ENV.items():  # PYTHONWARNINGS adds to filters the user set
        os.environ[key] = ",".join(filter(None, [os.environ.get(key), value])) if key == "PYTHONWARNINGS" else value

    import papermill

    with atomic_path(executed) as tmp:
        try:
            papermill.execute_notebook(
                str(notebook), str(tmp), parameters=injected, kernel_name=KERNEL_NAME,
                cwd=str(Path.cwd()), log_output=True, progress_bar=False,
            )
        except papermill.PapermillExecutionError as err:
            failed = RENDERED / f"{out_stem}.failed.ipynb"
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, failed)
            raise SystemExit(f"stage {full_name} failed in {notebook} (executed copy: {failed}):\n{err.ename}: {err.evalue}") from None
        render_html(tmp, RENDERED / f"{out_stem}.html")
    timings = {
        "stage": full_name,
        "notebook": str(notebook),
        "wall_s": round(time.perf_counter() - started, 2),
        # ru_maxrss of children is the kernel's peak resident memory (kilobytes on Linux).
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "profile": params.profile,
        # Where the committed results came from (results.py): the code's commit and the machine.
        "commit": git_commit(),
        "machine": machine(),
    }
    write_json(TIMINGS / f"{out_stem}.json", timings)
    return timings


def render_html(executed: Path, html_path: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    write_text(html_path, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage")
    parser.add_argument("--variant")
    args = parser.parse_args(argv)
    try:
        timings = run_stage(args.stage, args.variant)
    except (ParamsError, FileNotFoundError, ValueError) as err:
        print(f"stage {args.stage}: {err}", file=sys.stderr)
        return 2
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
