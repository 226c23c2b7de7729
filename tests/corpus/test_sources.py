"""The corpus stage's dispatch: every source writes the same three tables, rejects in the contract's columns."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from s2accompanist.audio import write_audio
from s2accompanist.corpus.sources import REJECT_COLUMNS, build_corpus, corpus_metrics


def corpus_params(repo_root, **overrides):
    params = yaml.safe_load((repo_root / "params.yaml").read_text())["corpus"]
    return {**params, **overrides}


def test_folder_source_writes_tables_with_an_absolute_root_kept_and_contract_rejects(repo_root, tmp_path):
    root = tmp_path / "audio"
    write_audio(root / "good.wav", 0.1 * np.sin(np.linspace(0, 800, 32000)).astype(np.float32), 16000)
    (root / "bad.wav").write_bytes(b"not audio at all")
    tables = build_corpus(corpus_params(repo_root, source="folder", audio_root=str(root)), seed=0, out_dir=tmp_path / "raw")
    assert len(tables["tracks"]) == 1 and tables["tracks"]["audio_path"].iloc[0] == str((root / "good.wav").resolve())
    assert list(tables["rejects"].columns) == REJECT_COLUMNS and len(tables["rejects"]) == 1
    for name in ("tracks", "sections", "rejects"):
        assert (tmp_path / "raw" / f"{name}.parquet").is_file()
    assert corpus_metrics(tables)["rejects"] == 1
    assert pd.read_parquet(tmp_path / "raw" / "rejects.parquet")["reason"].iloc[0].startswith("unreadable")


def test_a_root_inside_the_repository_is_stored_relative_so_tables_survive_a_move(repo_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_audio(tmp_path / "data" / "external" / "good.wav", 0.1 * np.sin(np.linspace(0, 800, 32000)).astype(np.float32), 16000)
    build_corpus(corpus_params(repo_root, source="folder", audio_root="data/external"), seed=0, out_dir=Path("data/raw"))
    stored = pd.read_parquet(tmp_path / "data" / "raw" / "tracks.parquet")["audio_path"].iloc[0]
    assert stored == "../external/good.wav"
    elsewhere = shutil.copytree(tmp_path / "data", tmp_path / "another-clone" / "data")
    assert (elsewhere / "raw" / stored).is_file()  # the readers' `raw_dir / audio_path` still finds it
