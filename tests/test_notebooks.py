"""Notebooks are committed clean, numbered, thin, and parameterised for papermill."""

import json

import pytest

from s2accompanist.stage import KERNEL_NAME


def _notebooks(repo_root):
    paths = sorted((repo_root / "notebooks").glob("*.ipynb"))
    assert paths, "no notebooks found"
    return paths


def test_notebooks_have_no_outputs_or_execution_counts(repo_root):
    for path in _notebooks(repo_root):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name} cell {index} has committed outputs"
                assert cell.get("execution_count") is None, f"{path.name} cell {index} has an execution count"


def test_notebooks_are_numbered_and_use_the_project_kernel(repo_root):
    numbers = []
    for path in _notebooks(repo_root):
        prefix, _, stage = path.stem.partition("_")
        assert prefix.isdigit() and len(prefix) == 2 and stage, path.name
        numbers.append(int(prefix))
        assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == KERNEL_NAME, path.name
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("index", range(13))
def test_each_notebook_has_a_parameters_cell_and_loads_its_stage_params(repo_root, index):
    path = _notebooks(repo_root)[index]
    cells = json.loads(path.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    stage = path.stem.partition("_")[2]
    source = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert f'stage_params("{stage}", params)' in source, f"{path.name} must start from stage_params(\"{stage}\", params)"
    assert "from s2accompanist" in source
