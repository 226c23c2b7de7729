"""The committed results: which files they are, that they match dvc.yaml and params.yaml, and staleness."""

import shutil
import subprocess
from pathlib import Path

import yaml

from s2accompanist.results import (committed_result_paths, expanded_stages, git_commit, is_run_result, lock_mismatches,
                                   machine, stage_outputs, stale_stages)


def test_foreach_stages_expand_with_their_items(repo_root):
    stages = expanded_stages(repo_root / "dvc.yaml")
    assert "vae@plain" in stages and "vae" not in stages
    assert "data/checkpoints/vae-plain.safetensors" in stages["vae@plain"]["outs"]
    assert "data/checkpoints/dit_sft-plain_vae.safetensors" in stages["generate@sft-plain_vae"]["deps"]


def test_results_for_git_are_the_uncached_outputs_and_the_lock(repo_root):
    paths = committed_result_paths(repo_root / "dvc.yaml")
    assert paths[0] == "dvc.lock"
    assert {"reports/metrics/evaluate.json", "reports/notebooks/05_vae-semantic.ipynb", "reports/tables", "reports/index.html"} <= set(paths)
    # Audio, checkpoints and the HTML renderings (which repeat the notebooks' figures) go through DVC.
    assert not any(p.startswith("data/") or p.endswith(".html") and "notebooks" in p for p in paths)


def test_run_results_are_told_from_code(repo_root):
    outputs = stage_outputs(repo_root / "dvc.yaml")
    for path in ("dvc.lock", "reports/tables/attm.md", "reports/notebooks/01_corpus.ipynb", "data/.gitignore",
                 "reports/notebooks/.gitignore", "data/raw/tracks.parquet"):
        assert is_run_result(path, outputs), path
    for path in (".gitignore", ".dvc/.gitignore", "dvc.yaml", "params.yaml", "reports/perf.md", "notebooks/01_corpus.ipynb",
                 "src/s2accompanist/results.py"):
        assert not is_run_result(path, outputs), path


def _lock_for(root: Path, params: dict) -> dict:
    return {"schema": "2.0", "stages": {name: {"cmd": entry["cmd"], "params": {"params.yaml": {
        key: _get(params, key) for key in (entry.get("params") or []) if isinstance(key, str)}}}
        for name, entry in expanded_stages(root / "dvc.yaml").items()}}


def _get(tree, key):
    for part in key.split("."):
        tree = tree[part]
    return tree


def test_lock_check_names_missing_stages_and_changed_params(repo_root, tmp_path):
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(repo_root / name, tmp_path / name)
    assert lock_mismatches(tmp_path) == ["dvc.lock is missing: no run is committed"]
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    lock = _lock_for(tmp_path, params)
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert lock_mismatches(tmp_path) == []
    del lock["stages"]["vae@plain"]
    lock["stages"]["vae@old"] = {"cmd": "x"}
    lock["stages"]["corpus"]["params"]["params.yaml"]["seed"] = params["seed"] + 1
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    problems = lock_mismatches(tmp_path)
    assert "stage vae@plain is in dvc.yaml but not in dvc.lock" in problems
    assert "stage vae@old is in dvc.lock but not in dvc.yaml" in problems
    assert any(p.startswith("corpus: param seed is") for p in problems), problems


def test_the_committed_run_matches_dvc_yaml_and_params(repo_root):
    """The repository carries its last default run; dvc.lock must describe this dvc.yaml and params.yaml.

    Failing here means params or stages changed after the committed run: run `make repro` and commit
    its results (README, "Versioned results"), or put the params back."""
    assert lock_mismatches(repo_root) == []


def test_stale_stages_are_those_whose_code_or_params_changed_not_those_not_pulled(tiny_dvc_project):
    root = tiny_dvc_project
    assert stale_stages(root) == {}
    (root / "out.txt").unlink()  # a clone that has not pulled: missing, not stale
    assert stale_stages(root) == {}
    (root / "out.txt").write_text("something else\n")  # an output, or a folder of them holding only DVC's .gitignore
    assert stale_stages(root) == {}
    (root / "code.py").write_text("print('v2')\n")
    (root / "params.yaml").write_text("n: 4\n")
    stale = stale_stages(root)
    assert set(stale) == {"make"} and "code.py modified" in stale["make"] and "param n modified" in stale["make"]


def test_machine_names_the_cpu_and_what_decides_its_arithmetic():
    record = machine()
    assert record["cpu"] and record["logical_cpus"] >= 1
    assert {"isa", "torch", "torch_threads", "torch_cpu_capability", "numpy"} <= set(record)


def test_the_recorded_commit_is_dirty_for_code_changes_not_for_rewritten_results(tiny_dvc_project):
    root = tiny_dvc_project
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "run"], cwd=root, check=True)
    clean = git_commit(root)
    assert clean and not clean.endswith("-dirty")
    (root / "copy.txt").write_text("a rerun rewrote this committed result\n")
    (root / "dvc.lock").write_text((root / "dvc.lock").read_text() + "\n")
    assert git_commit(root) == clean
    (root / "code.py").write_text("print('v2')\n")
    assert git_commit(root) == clean + "-dirty"
