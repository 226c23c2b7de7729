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
