"""The ablation_paired table: one row per factor and metric, the difference with its interval and
verdict, both systems named with their values; absent when the evaluate stage wrote nothing."""

import pandas as pd

from s2accompanist.reporting.report import ablation_paired_table


def test_table_names_both_systems_the_interval_and_the_backend(tmp_path):
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir()
    assert ablation_paired_table(evaluation, tmp_path / "tables", "refclap") is None
    pd.DataFrame([{"factor": "structure guidance and segment captions", "without": "sft-no_structure", "with": "sft-full",
                   "metric": "fad_clap", "without_value": 0.4, "with_value": 0.21, "difference": -0.19, "low": -0.25,
                   "high": -0.12, "n": 80, "n_songs": 25, "verdict": "better"}]).to_parquet(evaluation / "ablation_paired.parquet")
    table = ablation_paired_table(evaluation, tmp_path / "tables", "refclap (in-domain reference CLAP)")
    assert table.iloc[0]["with minus without"].startswith("-0.19") and "[-0.25" in table.iloc[0]["with minus without"]
    markdown = (tmp_path / "tables" / "ablation_paired.md").read_text()
    assert "sft-no_structure: 0.400" in markdown and "sft-full: 0.210" in markdown
    assert "80 / 25" in markdown and "refclap (in-domain reference CLAP)" in markdown and "held-out songs" in markdown


def test_fad_scale_reads_each_fad_against_the_floor_and_the_ceiling(tmp_path):
    import numpy as np

    from s2accompanist.reporting.report import fad_scale_table

    rows = [("sft-full", 0.30, np.nan), ("baseline: real audio, other windows of the held-out songs", 0.10, np.nan),
            ("baseline: noise shaped to the reference spectrum", 0.90, np.nan)]
    scores = pd.DataFrame([{"system": s, "fad_clap": f, "fad_clap_low": f - 0.05, "fad_clap_high": f + 0.05, "fad_clap_inf": i,
                            "fad_n_eval": 80, "fad_n_ref": 80, "embedding_dims": 128, "fad_backend": "refclap"} for s, f, i in rows])
    assert fad_scale_table(scores[scores["system"] != rows[1][0]], tmp_path) is None  # no floor, no scale
    table = fad_scale_table(scores, tmp_path).set_index("system")
    assert table.loc["sft-full", "above the floor"] == "+0.200" and table.loc["sft-full", "floor to ceiling"] == "0.25"
    assert table.loc[rows[2][0], "floor to ceiling"] == "1.00" and table.loc["sft-full", "FAD-infinity"] == "n/a"
    assert "80 clips against 80 reference clips in 128 dimensions" in (tmp_path / "fad_scale.md").read_text()
