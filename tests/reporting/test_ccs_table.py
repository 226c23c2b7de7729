"""The CCS table: the reference clips as ceiling, the floors after the models, false alarms and margins beside CCS."""

import pandas as pd

from s2accompanist.reporting.report import ccs_table


def row(system: str, ccs: float, false_alarm: float | None = None, not_measurable: int = 0) -> dict:
    out = {"system": system, "ccs": ccs, "ccs_low": ccs - 0.1, "ccs_high": ccs + 0.1, "ccs_not_measurable": not_measurable,
           "ccs_backend": "tags"}
    if false_alarm is not None:
        out.update(ccs_false_alarm=false_alarm, ccs_false_alarm_low=false_alarm - 0.05, ccs_false_alarm_high=false_alarm + 0.05,
                   ccs_margin=ccs - false_alarm, ccs_margin_low=ccs - false_alarm - 0.1, ccs_margin_high=ccs - false_alarm + 0.1)
    return out


def test_rows_run_from_ceiling_through_models_to_floors_with_false_alarms(tmp_path):
    scores = pd.DataFrame([row("untrained-full", 0.36, 0.35), row("sft-full", 0.28, 0.1, 3),
                           row("reference audio (held-out songs)", 0.6, 0.05), row("baseline: noise shaped", 0.3, 0.3),
                           {"system": "baseline: real audio, training songs", "ccs": None}])
    table = ccs_table(scores, tmp_path)
    assert table["system"].tolist() == ["reference audio (held-out songs)", "sft-full", "untrained-full", "baseline: noise shaped"]
    assert table["kind"].tolist() == ["ceiling", "model", "floor", "floor"]
    assert table.set_index("system").loc["sft-full", "ccs_margin"].startswith("0.180 [")
    assert table.set_index("system").loc["sft-full", "not measurable"] == 3
    assert "fires whatever it hears" in (tmp_path / "ccs.md").read_text()  # the note says how to read a margin near 0
    assert ccs_table(pd.DataFrame([{"system": "x", "ccs": None}]), tmp_path / "none") is None
