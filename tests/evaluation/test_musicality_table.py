"""The musicality table: per-system summaries with song-clustered intervals, paired differences, VAE ceilings."""

import json

import numpy as np
import pandas as pd
import pytest

from s2accompanist.checkpoints import save_checkpoint
from s2accompanist.evaluation.musicality_table import BACKENDS, paired_differences, reconstruct, summarize
from s2accompanist.models.vae import VAE, VAEConfig
from s2accompanist.reporting.report import musicality_tables


def per_item(system: str, tempo_kept: list[float], key_score: list[float]) -> pd.DataFrame:
    n = len(tempo_kept)
    return pd.DataFrame({"system": system, "id": [f"id_{i}" for i in range(n)], "track_id": [f"song_{i // 2}" for i in range(n)],
                         "tempo_kept": tempo_kept, "key_score": key_score, "notes_per_s": np.linspace(1, 2, n)})


@pytest.fixture
def items() -> pd.DataFrame:
    return pd.concat([
        per_item("reference audio (ceiling)", [1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 0.5, 1, 1, 1, 0.3, 1]),
        per_item("sft-full", [1, 1, 0, 1, 1, 1, np.nan, 0], [1, 0, 0, 1, 1, 0, 0, 1]),
        per_item("untrained-full", [0, 0, 0, 1, 0, 0, np.nan, 0], [0, 0, 0, 0, 1, 0, 0, 0]),
    ], ignore_index=True)


def test_summary_counts_what_it_scored_and_keeps_the_row_order(items):
    summary = summarize(items, 500, 0).set_index("system")
    assert list(summary.index) == ["reference audio (ceiling)", "sft-full", "untrained-full"]
    assert summary.loc["sft-full", "tempo_kept"] == pytest.approx(5 / 7)
    assert summary.loc["sft-full", "tempo_kept_n"] == 7 and summary.loc["sft-full", "n_songs"] == 4
    assert summary.loc["reference audio (ceiling)", "tempo_kept_low"] == 1.0
    assert summary.loc["sft-full", "tempo_kept_low"] < summary.loc["sft-full", "tempo_kept"] < summary.loc["sft-full", "tempo_kept_high"]
    assert "note_f" not in summary  # nobody had an original to compare with


def test_paired_differences_are_per_prompt_against_the_baseline(items):
    paired = paired_differences(items, "untrained-full", 500, 0).set_index(["system", "metric"])
    assert ("untrained-full", "tempo_kept") not in paired.index
    difference = paired.loc[("sft-full", "tempo_kept")]
    assert difference["difference"] == pytest.approx(4 / 7) and difference["n"] == 7  # the unscored prompt drops out
    assert difference["low"] <= difference["difference"] <= difference["high"]
    with pytest.raises(ValueError, match="baseline"):
        paired_differences(items, "no-such-system", 10, 0)


def test_reconstruction_keeps_each_clip_length(tmp_path):
    config = VAEConfig(in_channels=1, channels=4, c_mults=(1, 2), strides=(2, 4), latent_dim=4, sample_rate=16000)
    path = save_checkpoint(tmp_path / "vae.safetensors", VAE(config).state_dict(), {"kind": "s2accompanist.vae", "vae": config.to_dict()})
    clips = [np.random.default_rng(0).standard_normal(n).astype(np.float32) * 0.1 for n in (1000, 1603)]
    out = reconstruct(path, clips)
    assert [len(c) for c in out] == [1000, 1603] and all(np.isfinite(c).all() for c in out)
    with pytest.raises(Exception, match="missing_vae"):
        reconstruct(tmp_path / "missing_vae.safetensors", clips)


def test_report_writes_the_table_with_its_estimators(items, tmp_path):
    assert musicality_tables(tmp_path, tmp_path / "tables") is None  # nothing measured, nothing written
    summarize(items, 200, 0).to_parquet(tmp_path / "musicality.parquet")
    paired_differences(items, "untrained-full", 200, 0).to_parquet(tmp_path / "musicality_paired.parquet")
    (tmp_path / "musicality_backends.json").write_text(json.dumps(BACKENDS))
    table = musicality_tables(tmp_path, tmp_path / "tables")
    assert list(table["system"]) == ["reference audio (ceiling)", "sft-full", "untrained-full"]
    assert table.loc[1, "tempo kept"].endswith("(n=7)") and table.loc[1, "note F vs original"] == "n/a"
    text = (tmp_path / "tables" / "musicality.md").read_text()
    assert "madmom" in text and "basic-pitch" in text and "held-out songs" in text
    assert "minus untrained DiT" in (tmp_path / "tables" / "musicality_paired.md").read_text()
