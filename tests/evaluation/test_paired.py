"""Ablation factors as paired differences: a shifted system is told apart from its twin, an
identical one is not, and FAD is paired on the same resampled songs."""

import numpy as np
import pandas as pd

from s2accompanist.evaluation.paired import ablation_differences, fad_difference, verdict

FACTORS = (("the factor", "without", "with"),)


def per_item(system: str, embeddings: np.ndarray, clap: np.ndarray, songs: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"system": system, "id": [f"p{i}" for i in range(len(songs))], "song": songs, "split": "in_distribution",
                         "clap": clap, "ccs": np.clip(clap, 0, 1), "audio_embedding": list(embeddings)})


def test_a_factor_that_moves_the_clips_is_separable_and_a_null_one_is_not():
    rng = np.random.default_rng(0)
    songs = np.repeat([f"song{i}" for i in range(20)], 3)
    reference = rng.normal(size=(200, 4))
    base = rng.normal(size=(60, 4))
    clap = rng.uniform(0.2, 0.4, 60)
    moved = ablation_differences(pd.concat([per_item("without", base, clap, songs),
                                            per_item("with", base + 1.5, clap + 0.1, songs)]), reference, 200, 0, factors=FACTORS)
    fad = moved.set_index("metric").loc["fad_clap"]
    assert fad["difference"] > 0 and fad["low"] > 0 and fad["verdict"] == "worse"
    assert np.isclose(fad["difference"], fad["with_value"] - fad["without_value"])
    clap_row = moved.set_index("metric").loc["clap_score"]
    assert np.isclose(clap_row["difference"], 0.1) and clap_row["verdict"] == "better"
    assert (moved["n_songs"] == 20).all()

    same = ablation_differences(pd.concat([per_item("without", base, clap, songs), per_item("with", base, clap, songs)]),
                                reference, 200, 0, factors=FACTORS)
    assert (same["difference"] == 0).all() and (same["verdict"] == "no difference").all()


def test_missing_systems_are_skipped_and_fad_pairs_the_same_songs():
    rng = np.random.default_rng(1)
    songs = np.repeat(np.arange(10).astype(str), 2)
    emb = rng.normal(size=(20, 3))
    assert ablation_differences(per_item("with", emb, np.zeros(20), songs), emb, 50, 0, factors=FACTORS).empty
    # Both systems equal up to noise much smaller than the song spread: the paired interval is far
    # narrower than either FAD's own song-to-song spread.
    result = fad_difference(emb + 1e-3 * rng.normal(size=emb.shape), emb, rng.normal(size=(100, 3)), songs, 200, 0)
    assert result["high"] - result["low"] < 0.05 and result["n_clusters"] == 10


def test_verdict_reads_the_direction_of_the_metric():
    assert verdict(-0.1, -0.2, -0.05, direction=-1) == "better"  # FAD fell
    assert verdict(-0.1, -0.2, -0.05, direction=1) == "worse"
    assert verdict(0.1, -0.01, 0.2, direction=1) == "not separable"
    assert verdict(-1e-9, -2e-9, -1e-10, direction=-1) == "no difference"


def test_the_ccs_margin_is_paired_where_the_detector_gives_one_and_left_out_where_it_does_not():
    rng = np.random.default_rng(2)
    songs = np.repeat([f"song{i}" for i in range(10)], 2)
    emb, clap = rng.normal(size=(20, 3)), rng.uniform(0.2, 0.4, 20)
    without, with_ = per_item("without", emb, clap, songs), per_item("with", emb, clap, songs)
    # Same coverage, but the variant without the factor has a tagger firing on everything: only the margin tells them apart.
    without["ccs_margin"], with_["ccs_margin"] = without["ccs"] - 0.5, with_["ccs"] - 0.1
    rows = ablation_differences(pd.concat([without, with_]), emb, 200, 0, factors=FACTORS).set_index("metric")
    assert rows.loc["ccs", "verdict"] == "no difference"
    assert np.isclose(rows.loc["ccs_margin", "difference"], 0.4) and rows.loc["ccs_margin", "verdict"] == "better"
    without["ccs_margin"] = np.nan  # a judge: no false alarms, no margin
    assert "ccs_margin" not in set(ablation_differences(pd.concat([without, with_]), emb, 50, 0, factors=FACTORS)["metric"])
