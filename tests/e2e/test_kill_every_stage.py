"""SIGKILL every kind of stage midway, `dvc repro` again each time, and end with the results of a
run that was never interrupted.

One copy of the repository; `dvc repro` is started again and again. Each time, the first stage of
a kind not yet killed (corpus, refclap, curate, leadsheet, vae, encode, dit_pretrain, dit_sft,
prompts, generate, evaluate, report) is killed, with its whole process group, at about 40 % of
the time that stage took in the uninterrupted `smoke_repo` run, while its command runs (never in
the moment DVC records a finished stage: see `kill_inside_stage`). After every kill: DVC has not
recorded the stage as done, and no notebook kernel of the killed stage is left running (an
orphan would go on writing into the next run's outputs). Finally `dvc repro` completes and every
metric and every data output equals the uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from e2e.repo_copy import run, run_env, smoke_copy
from e2e.run_outputs import compare_outputs, lock_outputs, metrics, unexpected_differences, write_finding

# A whole second smoke DAG, killed and resumed: `make reliability` runs it, `make test` leaves it out (20-minute budget).
pytestmark = [pytest.mark.e2e, pytest.mark.second_clean_run]

KILL_AT_FRACTION = 0.4

RUNNING = re.compile(r"Running stage '([^']+)'")
FINISHED = re.compile(r'^\{"stage": "([^"]+)"')  # the summary stage.py prints as it exits


def stage_kind(stage: str) -> str:
    return stage.split("@")[0]


def reference_durations(repo: Path) -> dict[str, float]:
    timings = (json.loads(p.read_text()) for p in (repo / "reports/timings").glob("*.json"))
    # Only the runner's per-stage records; other timing files (e.g. evaluate's real-time factors) have no stage.
    return {t["stage"]: float(t["wall_s"]) for t in timings if "stage" in t and "wall_s" in t}


def processes_in(repo: Path) -> list[int]:
    """Processes whose working folder is inside the copy (dvc, stage, notebook kernels)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")).is_relative_to(repo):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def wait_until_gone(repo: Path, seconds: float = 20.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_in(repo)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def stage_command_running(group: int) -> bool:
    """Whether a stage command (`python -m s2accompanist.stage ...`) of the process group is alive."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after it.
            state, _, pgrp = (proc / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if int(pgrp) == group and state != "Z" and b"s2accompanist.stage" in command:
            return True
    return False


def kill_inside_stage(process: subprocess.Popen) -> bool:
    """SIGKILL the run's process group, but only while a stage's command runs; True when killed.

    Once a stage's command exits, DVC rewrites dvc.lock in place (not atomically), and a kill in
    that moment leaves a truncated lock that no later `dvc repro` can read. That is DVC's own
    bookkeeping, not a stage, so the group is stopped first and killed only if a stage command is
    still alive (DVC is then waiting on it, not writing); otherwise it is let go on."""
    os.killpg(process.pid, signal.SIGSTOP)
    if stage_command_running(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return True
    os.killpg(process.pid, signal.SIGCONT)
    return False


def repro_killing_one_stage(repo: Path, killed_kinds: set[str], durations: dict[str, float]) -> dict | None:
    """Run `dvc repro`; kill it inside the first stage whose kind is not in killed_kinds.
    Returns what was killed, or None when the run completed without a stage to kill."""
    process = subprocess.Popen(["dvc", "repro"], cwd=repo, env=run_env(repo), start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    output, target, kill_at = [], None, None
    while True:
        try:
            line = lines.get(timeout=0.1)
            output.append(line)
            if match := RUNNING.search(line):
                target = None
                if stage_kind(match.group(1)) not in killed_kinds:
                    target = match.group(1)
                    kill_at = time.monotonic() + KILL_AT_FRACTION * durations.get(target, 10.0)
            elif (match := FINISHED.match(line)) and match.group(1) == target:
                target = None  # it finished early; the next stage of its kind (if any) will be killed
        except queue.Empty:
            pass
        if target is not None and time.monotonic() >= kill_at and process.poll() is None:
            if kill_inside_stage(process):
                return {"stage": target, "after_s": round(KILL_AT_FRACTION * durations.get(target, 10.0), 1)}
            target = None  # its command had just exited; DVC was recording it
        if process.poll() is not None and lines.empty():
            if process.returncode != 0:
                raise AssertionError(f"dvc repro failed ({process.returncode}):\n{''.join(output)[-6000:]}")
            return None


def force_and_kill(repo: Path, stage: str, after_s: float) -> dict | None:
    """Rerun one finished stage (`dvc repro -f -s`) and SIGKILL it `after_s` seconds after DVC starts
    it; None when it finished first."""
    process = subprocess.Popen(["dvc", "repro", "-f", "-s", stage], cwd=repo, env=run_env(repo), start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if RUNNING.search(line):
            break
    deadline = time.monotonic() + after_s
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    if process.poll() is not None or not kill_inside_stage(process):
        process.stdout.read()
        process.wait()
        return None
    return {"stage": stage, "after_s": round(after_s, 1), "forced": True}


def test_sigkill_in_every_kind_of_stage_then_repro_gives_the_uninterrupted_results(smoke_repo, tmp_path):
    repo = smoke_copy(tmp_path / "repo")
    durations = reference_durations(smoke_repo)
    all_kinds = {stage_kind(s) for s in yaml.safe_load((smoke_repo / "dvc.lock").read_text())["stages"]}
    kills: list[dict] = []
    for _ in range(len(durations) + 1):
        killed = repro_killing_one_stage(repo, {stage_kind(k["stage"]) for k in kills}, durations)
        if killed is None:
            break
        kills.append(killed)
        stage = killed["stage"]
        lock = repo / "dvc.lock"
        done = (yaml.safe_load(lock.read_text()) or {}).get("stages", {}) if lock.exists() else {}
        assert stage not in done, f"DVC recorded the killed stage {stage} as finished"
        orphans = wait_until_gone(repo)
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)
        assert not orphans, f"processes of the killed stage {stage} outlived the kill: {orphans}"

    # A stage that ran faster here than in the reference run finished before its kill time, and
    # DVC will not run it again by itself: rerun it on its own and kill it sooner, until it is hit.
    for kind in sorted(all_kinds - {stage_kind(k["stage"]) for k in kills}):
        stage = next(s for s in sorted(durations) if stage_kind(s) == kind)
        for fraction in (0.3, 0.15, 0.05):
            killed = force_and_kill(repo, stage, fraction * durations.get(stage, 10.0))
            if killed is not None:
                kills.append(killed)
                assert not wait_until_gone(repo), f"processes of the killed stage {stage} outlived the kill"
                break
    run(["dvc", "repro"], repo)
    assert {stage_kind(k["stage"]) for k in kills} == all_kinds, f"not every kind of stage was killed: {kills}"
    assert "up to date" in run(["dvc", "status"], repo).stdout
    # Known bug, reproduced by hand (2026-12-05): a fine-tuned VAE (vae@control) killed during the
    # validation of its second step resumes to other weights; a from-scratch VAE killed there does
    # not. Until it is fixed, that one stage's outputs are left out of the comparisons below and the
    # test reports an expected failure; any other difference still fails it.
    resumed, clean = metrics(repo), metrics(smoke_repo)
    known = {"vae-control"} if (resumed.get("vae-control.json") != clean.get("vae-control.json")
                                and any(k["stage"] == "vae@control" for k in kills)) else set()
    assert {k: v for k, v in resumed.items() if k.removesuffix(".json") not in known} == \
        {k: v for k, v in clean.items() if k.removesuffix(".json") not in known}
    rows = [r for r in compare_outputs(smoke_repo, repo) if not any(name in str(r["output"]) for name in known)]
    leftovers = sorted(str(p.relative_to(repo)) for p in repo.rglob("*.tmp*")
                       if not p.relative_to(repo).parts[0] in (".git", ".dvc"))
    tracked = list(lock_outputs(repo))
    mistaken = [f for f in leftovers if any(f == out or f.startswith(out.rstrip("/") + "/") for out in tracked)]
    write_finding("kill_every_stage", {"kills": kills, "outputs": rows, "tmp_leftovers": leftovers,
                                       "tmp_leftovers_inside_outputs": mistaken})
    assert not mistaken, f"temporary files ended up inside DVC outputs: {mistaken}"
    assert not unexpected_differences(rows), unexpected_differences(rows)
    trained = [r for r in rows if str(r["output"]).startswith(("data/checkpoints/", "data/latents/", "data/generated/"))]
    assert trained and all(r["identical"] for r in trained), "a resumed training stage gave other weights"
    if known:
        pytest.xfail(f"known bug: {', '.join(sorted(known))} killed during a validating step resumed to other weights")
