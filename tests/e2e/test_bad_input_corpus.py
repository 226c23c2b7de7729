"""A folder corpus full of bad inputs goes through the DAG up to `encode`: nothing crashes, every
input ends exactly once as a processed item or as a reject with a reason, and the totals add up at
every stage (corpus -> curate -> leadsheet -> encode).

The bad inputs (bad_corpus.py) are those of the corpus issue: corrupt, empty, silent, NaN and Inf
samples, odd sample rates and channel counts (valid: must be processed), truncated files, too
short, sidecars that are not JSON, not UTF-8, or of the wrong types, and an audio file that
changes after the corpus stage accepted it (curate reads different bytes than ingest probed).
A params error (the issue's "wrong params") is covered by tests/reliability/test_params_fuzz.py.

The `refclap` stage is not run: it trains on the synthetic corpus's ground-truth sections, which a
folder corpus does not have (it stops with "ReferenceClapDataset got no items"). The smoke run's
reference CLAP stands in, as a model trained elsewhere would for real data, and the item-wise
stages run one by one (`dvc repro --single-item`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from e2e.bad_corpus import BAD, CHANGES_AFTER_INGEST, build_bad_corpus, change_after_ingest
from e2e.repo_copy import run, smoke_copy
from e2e.run_outputs import write_finding

pytestmark = pytest.mark.e2e


def use_folder_corpus(repo: Path, folder: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["corpus"].update(source="folder", audio_root=str(folder), metadata=None)
    # Real audio has no ground-truth lead sheets: transcribe them, with nothing to score against.
    params["leadsheet"].update(source="transcribe", validate_transcription=False)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def stem(reject_id: str) -> str:
    return Path(reject_id).stem


def track_level(rejects: pd.DataFrame, track_ids: set[str]) -> dict[str, str]:
    """{track id: reason} for rejects naming a whole track (not one of its segments)."""
    return {row.id: row.reason for row in rejects.itertuples() if row.id in track_ids}


@pytest.fixture(scope="module")
def bad_run(smoke_repo, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    inputs = build_bad_corpus(smoke_repo, root / "corpus")
    repo = smoke_copy(root / "repo")
    use_folder_corpus(repo, root / "corpus")
    run(["dvc", "repro", "corpus"], repo)
    change_after_ingest(root / "corpus")
    refclap = "data/checkpoints/refclap.safetensors"
    (repo / refclap).parent.mkdir(parents=True)
    shutil.copy(smoke_repo / refclap, repo / refclap)
    for stage in ("curate", "leadsheet", "vae@plain", "vae@semantic", "encode@semantic"):  # semantic fine-tunes plain
        run(["dvc", "repro", "--single-item", stage], repo)
    return repo, inputs


def test_every_input_is_accounted_for_at_every_stage(bad_run):
    repo, inputs = bad_run
    tracks = pd.read_parquet(repo / "data/raw/tracks.parquet")
    ingest_rejects = pd.read_parquet(repo / "data/raw/rejects.parquet")
    ingest_rejected = {stem(i): r for i, r in zip(ingest_rejects["id"], ingest_rejects["reason"])}
    assert len(tracks) + len(ingest_rejects) == len(inputs)
    assert sorted([*tracks["track_id"], *ingest_rejected]) == inputs, "an input is missing or counted twice at ingest"

    corpus_ids = set(tracks["track_id"])
    segments = pd.read_parquet(repo / "data/curated/segments.parquet")
    curate_rejects = pd.read_parquet(repo / "data/curated/rejects.parquet")
    curated = set(segments["track_id"])
    curate_rejected = track_level(curate_rejects, corpus_ids)
    assert curated.isdisjoint(curate_rejected), f"tracks both curated and rejected: {curated & set(curate_rejected)}"
    assert curated | set(curate_rejected) == corpus_ids, f"tracks lost at curate: {corpus_ids - curated - set(curate_rejected)}"
    assert {p.stem for p in (repo / "data/curated/audio").glob("*.wav")} == curated

    leadsheets = {p.stem for p in (repo / "data/leadsheets").glob("*.json")}
    assert leadsheets == curated, f"lead sheets for {sorted(leadsheets ^ curated)} do not match the curated tracks"
    latents = set(pd.read_parquet(repo / "data/latents/semantic/index.parquet")["track_id"])
    assert latents == curated, f"latents for {sorted(latents ^ curated)} do not match the curated tracks"

    rejected = {**ingest_rejected, **curate_rejected}
    assert all(isinstance(r, str) and r.strip() for r in rejected.values()), rejected
    assert curated.isdisjoint(ingest_rejected) and len(curated) + len(rejected) == len(inputs)
    expected_rejects = BAD | {CHANGES_AFTER_INGEST}
    assert set(rejected) == expected_rejects, (
        f"rejected but good: {sorted(set(rejected) - expected_rejects)}; processed but bad: {sorted(expected_rejects - set(rejected))}")
    write_finding("bad_input_corpus", {
        "inputs": len(inputs), "ingest": {"tracks": len(tracks), "rejects": len(ingest_rejected)},
        "curate": {"tracks": len(curated), "rejects": len(curate_rejected)}, "leadsheets": len(leadsheets), "latents": len(latents),
        "rejects": {k: rejected[k] for k in sorted(rejected)},
    })
