"""Borda rank ranges over resampled songs: a system better on every metric keeps rank 1, two
systems that differ only by noise share a range, and the ATTM table shows the ranges."""

import numpy as np
import pandas as pd

from s2accompanist.reporting.rank_intervals import borda_rank_intervals
from s2accompanist.reporting.report import attm_tables


def per_item(system: str, rng, songs, shift: float, clap: float, ccs: float) -> pd.DataFrame:
    n = len(songs)
    return pd.DataFrame({"system": system, "id": [f"p{i}" for i in range(n)], "song": songs, "split": "in_distribution",
                         "clap": clap + 0.05 * rng.standard_normal(n), "ccs": np.clip(ccs + 0.1 * rng.standard_normal(n), 0, 1),
                         "audio_embedding": list(rng.standard_normal((n, 4)) + shift)})


def frames():
    rng = np.random.default_rng(0)
    songs = np.repeat([f"song{i}" for i in range(25)], 3)
    items = pd.concat([per_item("best", rng, songs, 0.0, 0.5, 0.8),
                       per_item("twin a", rng, songs, 2.0, 0.2, 0.4), per_item("twin b", rng, songs, 2.0, 0.2, 0.4)])
    return items, rng.standard_normal((200, 4))


def test_a_clearly_better_system_keeps_its_rank_and_twins_share_theirs():
    items, reference = frames()
    ranges = borda_rank_intervals(items, reference, ["best", "twin a", "twin b"], n_boot=200, seed=0).set_index("system")
    assert (ranges.loc["best", "borda_rank_low"], ranges.loc["best", "borda_rank_high"]) == (1, 1)
    for twin in ("twin a", "twin b"):  # either can come second on a resample: not separable
        assert (ranges.loc[twin, "borda_rank_low"], ranges.loc[twin, "borda_rank_high"]) == (2, 3)


def test_the_attm_table_gives_our_rows_their_rank_range(tmp_path):
    items, reference = frames()
    items.to_parquet(tmp_path / "per_item.parquet")
    pd.DataFrame({"id": range(len(reference)), "audio_embedding": list(reference)}).to_parquet(tmp_path / "reference_embeddings.parquet")
    scores = pd.DataFrame({"system": ["best", "twin a", "twin b"], "fad_clap": [0.1, 4.0, 4.1], "clap_score": [0.5, 0.2, 0.21],
                           "ccs": [0.8, 0.4, 0.39], **{c: "test" for c in ("fad_backend", "clap_backend", "ccs_backend")}})
    table = attm_tables(scores, tmp_path, tmp_path, n_boot=100, seed=0)
    ours = table[table["origin"] == "ours"].set_index("system")
    assert ours.loc["best", "borda_rank_95"] == "1-1" and ours.loc["twin a", "borda_rank_95"] == "2-3"
    assert (table.loc[table["origin"] == "reported", "borda_rank_95"] == "").all()
    assert "not separable" in (tmp_path / "attm.md").read_text()
