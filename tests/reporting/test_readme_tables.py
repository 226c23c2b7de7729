"""The README's results block is replaced by the generated tables, and nothing else changes."""

import json

import pytest

from s2accompanist.reporting.readme import BEGIN, END, OPTIONAL_TABLES, TABLES, provenance, update_readme


def _tables(folder):
    folder.mkdir()
    for name in TABLES:
        (folder / f"{name}.md").write_text(f"**{name} table**\n\n| a |\n| --- |\n| 1 |\n")
    return folder


def test_the_block_is_replaced_and_the_rest_kept(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{BEGIN}\nold typed numbers 0.123\n{END}\nafter\n")
    update_readme(readme, _tables(tmp_path / "tables"), "default")
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n") and text.endswith(f"{END}\nafter\n")
    assert "old typed numbers" not in text
    assert all(f"**{name} table**" in text for name in TABLES) and "profile `default`" in text
    once = text
    update_readme(readme, tmp_path / "tables", "default")
    assert readme.read_text() == once, "regenerating from the same tables changes nothing"


def test_the_structure_table_is_added_when_the_run_wrote_one(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"{BEGIN}\n{END}\n")
    tables = _tables(tmp_path / "tables")
    update_readme(readme, tables, "default")
    assert "structure table" not in readme.read_text()
    for name in OPTIONAL_TABLES:
        (tables / f"{name}.md").write_text(f"**{name} table**\n")
    update_readme(readme, tables, "default")
    text = readme.read_text()
    assert all(f"**{name} table**" in text for name in OPTIONAL_TABLES)
    assert text.index("**baselines table**") < text.index("**structure table**")


def test_missing_markers_or_tables_are_refused(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no block\n")
    with pytest.raises(ValueError, match="results block"):
        update_readme(readme, _tables(tmp_path / "tables"), "default")
    readme.write_text(f"{BEGIN}\n{END}\n")
    with pytest.raises(FileNotFoundError, match="run `dvc repro` first"):
        update_readme(readme, tmp_path / "empty", "default")


def test_the_committed_readme_has_one_block():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1


def test_the_block_names_commit_machine_and_stale_stages_as_computed(tiny_dvc_project):
    root = tiny_dvc_project
    timings = root / "reports" / "timings" / "13_report.json"
    timings.parent.mkdir(parents=True)
    timings.write_text(json.dumps({"commit": "0123abcd", "machine": {"cpu": "Some CPU", "logical_cpus": 2, "torch_threads": 2,
                                                                     "torch_cpu_capability": "AVX2", "torch": "2.13.0+cpu"}}))
    for stage, commit in (("corpus", "0123abcd"), ("vae@plain", "0123abcd"), ("report", "4567ef01")):
        (timings.parent / f"{stage}.json").write_text(json.dumps({"stage": stage, "commit": commit}))
    fresh = provenance(root)
    assert "commit `0123abcd` (`report` rerun at `4567ef01`) on Some CPU" in fresh, fresh
    assert "AVX2 kernels" in fresh and "No stage was stale" in fresh
    (root / "code.py").write_text("print('v2')\n")
    stale = provenance(root)
    assert "**Stale**" in stale and "`make` (code.py modified)" in stale and "`copy`" not in stale
