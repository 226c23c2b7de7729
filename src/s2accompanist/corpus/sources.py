"""The `corpus` stage's entry point: build or ingest the corpus named by params, and summarise it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import write_parquet
from .synthetic.build import build_synthetic_corpus
from .synthetic.config import SyntheticCorpusConfig

REJECT_COLUMNS = ["id", "stage", "reason"]  # the data contract: path or id, stage, reason
SECTION_COLUMNS = ["track_id", "section_index", "label", "start_s", "end_s", "caption"]


def build_corpus(corpus: dict[str, Any], seed: int, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Write tracks.parquet, sections.parquet and rejects.parquet under out_dir; return the frames."""
    out_dir = Path(out_dir)
    if corpus["source"] == "synthetic":
        config = SyntheticCorpusConfig(
            n_songs=corpus["n_songs"], seed=seed, sample_rate=corpus["render_sample_rate"],
            duration_s_min=corpus["duration_s_min"], duration_s_max=corpus["duration_s_max"],
            split_fractions=tuple(corpus["split_fractions"]), defect_fraction=corpus["defect_fraction"],
            defect_kinds=tuple(corpus["defect_kinds"]), renderer=corpus["renderer"],
            soundfont=corpus["soundfont"], write_stems=corpus["write_stems"],
        )
        tables = build_synthetic_corpus(config, out_dir)
        tables["rejects"] = pd.DataFrame(columns=REJECT_COLUMNS)
    else:
        # Real audio stays where it is; sections are unknown until curation estimates them.
        from .ingest import ingest_attm, ingest_folder, ingest_jamendo

        split_fractions = tuple(corpus["split_fractions"])
        if corpus["source"] == "jamendo":
            tracks, rejects = ingest_jamendo(corpus["metadata"], corpus["audio_root"], seed=seed, split_fractions=split_fractions)
        elif corpus["source"] == "attm":
            tracks, rejects = ingest_attm(corpus["audio_root"], corpus["metadata"], seed=seed, split_fractions=split_fractions)
        else:
            tracks, rejects = ingest_folder(corpus["audio_root"], seed=seed, split_fractions=split_fractions)
        tracks["audio_path"] = [audio_path_from_raw(corpus["audio_root"], p, out_dir) for p in tracks["audio_path"]]
        rejects = pd.DataFrame({"id": rejects["path"], "stage": rejects["stage"],
                                "reason": rejects["reason"] + ": " + rejects["detail"].astype(str)}, columns=REJECT_COLUMNS)
        tables = {"tracks": tracks, "sections": pd.DataFrame(columns=SECTION_COLUMNS), "rejects": rejects}
        write_parquet(out_dir / "tracks.parquet", tracks)
        write_parquet(out_dir / "sections.parquet", tables["sections"])
    write_parquet(out_dir / "rejects.parquet", tables["rejects"])
    return tables


def audio_path_from_raw(audio_root: str, relative: str, out_dir: Path) -> str:
    """Where readers (`out_dir / audio_path`) find a real track: relative to out_dir when
    `audio_root` is given relative to the repository (data/external/...), so the table stays right
    in any clone or copy that has the audio at the same place (`dvc pull`); absolute when the
    params name an absolute folder outside the repository."""
    if Path(audio_root).is_absolute():
        return str(Path(audio_root) / relative)
    return Path(os.path.relpath(Path(audio_root).resolve() / relative, Path(out_dir).resolve())).as_posix()


def corpus_metrics(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    tracks, sections, rejects = tables["tracks"], tables["sections"], tables["rejects"]
    metrics: dict[str, Any] = {
        "tracks": int(len(tracks)),
        "hours": round(float(tracks["duration_s"].sum()) / 3600, 4),
        "sections": int(len(sections)),
        "rejects": int(len(rejects)),
        "split": {k: int(v) for k, v in tracks["split"].value_counts().sort_index().items()},
    }
    if "defect" in tracks:
        defects = tracks.loc[tracks["defect"] != "", "defect"]
        metrics["defects"] = {k: int(v) for k, v in defects.value_counts().sort_index().items()}
    return metrics
