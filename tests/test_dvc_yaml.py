"""dvc.yaml is consistent with the notebooks, params.yaml and the stage runner."""

import re

import pytest
import yaml

from s2accompanist.params import declared_params
from s2accompanist.profiles import flatten
from s2accompanist.stage import notebook_for

DESIGN_ORDER = ["corpus", "refclap", "curate", "leadsheet", "vae", "encode", "dit_pretrain", "dit_sft",
                "prompts", "guidance", "generate", "evaluate", "report"]


@pytest.fixture
def stages(repo_root):
    return yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]


def test_stages_follow_the_design_order(stages):
    assert list(stages) == DESIGN_ORDER


def test_each_stage_runs_its_own_notebook_listed_in_deps(stages):
    for name, entry in stages.items():
        body = entry.get("do", entry)
        notebook = notebook_for(name)
        assert str(notebook) in body["deps"], f"{name}: {notebook} missing from deps"
        assert body["cmd"].startswith(f"python -m s2accompanist.stage {name}"), name
        if "foreach" in entry:
            assert "--variant ${key}" in body["cmd"], name


def test_every_listed_params_key_exists(repo_root, stages):
    tree = yaml.safe_load((repo_root / "params.yaml").read_text())
    flat = flatten(tree)
    for name in stages:
        for key in declared_params(name):
            assert key in tree or key in flat or any(k.startswith(key + ".") for k in flat), f"{name}: params key {key} not in params.yaml"


def test_every_src_dependency_exists(repo_root, stages):
    for name, entry in stages.items():
        for dep in entry.get("do", entry)["deps"]:
            if dep.startswith(("src/", "notebooks/")):
                assert (repo_root / dep).exists(), f"{name}: dependency {dep} does not exist"


def test_rendered_notebooks_timings_and_metrics_are_declared(stages):
    for name, entry in stages.items():
        body = entry.get("do", entry)
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in body["outs"]]
        stem = notebook_for(name).stem + ("-${key}" if "foreach" in entry else "")
        for path in (f"reports/notebooks/{stem}.ipynb", f"reports/notebooks/{stem}.html", f"reports/timings/{stem}.json"):
            assert path in outs, f"{name}: {path} not declared in outs"
        for metric in body.get("metrics", []):
            assert re.fullmatch(r"reports/metrics/[\w${}.-]+\.json", next(iter(metric))), metric
