"""`make base-judge`: a short run writes a judge the evaluation loads, and a report that pins it."""

import json
import shutil

from s2accompanist.checkpoints import file_sha256
from s2accompanist.evaluation.benchmark import build_embedder
from s2accompanist.params import load_params
from s2accompanist.training.base_judge import main
from s2accompanist.training.base_vae import DEFAULT_CORPUS_SEED as BASE_CORPUS_SEED


def test_a_short_judge_run_writes_a_pinned_judge_from_a_corpus_of_its_own(repo_root, tmp_path, monkeypatch):
    shutil.copy(repo_root / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "judge" / "judge.safetensors"
    assert main(["--songs", "20", "--epochs", "1", "--threads", "1", "--workdir", str(tmp_path / "work"), "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["sha256"] == file_sha256(out, length=64)
    assert report["corpus"]["seed"] not in (load_params().seed, BASE_CORPUS_SEED)  # no song the pipeline sees
    assert report["text_features"].startswith("hashed_words")
    assert {"retrieval", "tagging"} <= set(report["held_out"]) and report["held_out"]["held_out_items"] > 0
    judge = build_embedder({"backend": "judge", "checkpoint": str(out), "tokenizer": None}, refclap_checkpoint="unused")
    assert judge.embed_text(["a calm piano piece"]).shape == (1, load_params().refclap.embed_dim)
