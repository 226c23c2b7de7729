"""Choose the guidance scales by a sweep on training songs (the `guidance` stage).

Classifier-free guidance trades prompt adherence against everything else, and the right scales
depend on the model. The sweep generates clips with the paper's model (sft-full) at each
candidate (text, structure) pair in `generate.guidance`, for prompts built like the
benchmark's in-distribution ones but from *training* songs (the benchmark's come from valid and
test songs, so no benchmark song takes part in the choice), restricted to captions that state a
tempo so that every clip can be scored on it. Each candidate is scored on three criteria:

- tempo kept (`musicality`, madmom): the beat, which strong guidance was measured to wash out;
- CLAP score (the pipeline's reference CLAP, never the evaluation's judge, which must have no say
  in what it later scores): how well the clip follows its prompt;
- FAD (the same embedder) against the prompts' own windows of the songs, at this small n a biased
  figure, comparable across candidates because n is the same for each.

The chosen pair has the best mean rank over the three (ties: the weaker guidance). With one
candidate there is nothing to choose and nothing is generated.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..generation import GenerationRequest, requested_tempo
from .benchmark import Embedder
from .clap_score import paired_cosine
from .fad import frechet_distance
from .musicality_table import score_clips
from .prompts import in_distribution_prompts

# (column, direction): what the choice ranks candidates on.
CRITERIA = (("tempo_kept", "higher"), ("clap_score", "higher"), ("fad", "lower"))


def label(pair: Sequence[float]) -> str:
    return f"{pair[0]:g}/{pair[1]:g}"


def sweep_requests(raw_dir: Path, n: int, clip_s: float, seed: int, sample_rate: int,
                   channels: int) -> tuple[list[GenerationRequest], list[np.ndarray]]:
    """`n` windows of training songs whose caption states a tempo, and each window's audio (mono)."""
    from ..audio import load_audio

    tracks = pd.read_parquet(raw_dir / "tracks.parquet")
    sections = pd.read_parquet(raw_dir / "sections.parquet")
    stating = tracks[tracks["caption"].map(requested_tempo).notna()]
    if not (stating["split"] == "train").any():
        raise ValueError("no training song's caption states a tempo: the guidance sweep cannot score tempo; "
                         "give generate.guidance a single candidate to skip the sweep")
    requests = in_distribution_prompts(stating, sections, n, clip_s, seed, splits=("train",))
    requests = [dataclasses.replace(r, id=r.id.replace("id_", "sweep_"), metadata={**r.metadata, "split": "guidance_sweep"})
                for r in requests]
    paths = dict(zip(tracks["track_id"], tracks["audio_path"]))
    references = []
    for request in requests:
        audio = load_audio(raw_dir / paths[request.metadata["track_id"]], sample_rate, channels).mean(axis=0)
        start = int(request.metadata["offset_s"] * sample_rate)
        references.append(audio[start:start + int(clip_s * sample_rate)])
    return requests, references


def embed_at_rate(embedder: Embedder, clips: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """Audio embeddings of mono clips given at `sample_rate`, resampled to the embedder's rate."""
    import librosa

    if sample_rate != embedder.sample_rate:
        clips = [librosa.resample(c, orig_sr=sample_rate, target_sr=embedder.sample_rate) for c in clips]
    return embedder.embed_audio(clips)


def score_candidate(pair: Sequence[float], clips: list[np.ndarray], requests: list[GenerationRequest], sample_rate: int,
                    embedder: Embedder, reference_emb: np.ndarray, workers: int = 1) -> pd.DataFrame:
    """Per-clip musicality (`workers` processes) and CLAP score of one candidate's mono clips; FAD (one number) in every row."""
    per_item, _ = score_clips(label(pair), clips, requests, sample_rate, workers=workers)
    audio_emb = embed_at_rate(embedder, clips, sample_rate)
    per_item["clap_score"] = paired_cosine(audio_emb, embedder.embed_text([r.prompt for r in requests]))
    per_item["fad"] = frechet_distance(reference_emb, audio_emb)
    per_item["guidance_text"], per_item["guidance_structure"] = float(pair[0]), float(pair[1])
    return per_item


def summarize_sweep(per_item: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate, in sweep order: the criteria, key score and notes in key, the number of
    clips and each candidate's mean rank over CRITERIA (1 best)."""
    groups = per_item.groupby(["guidance_text", "guidance_structure"], sort=False)
    summary = groups[["tempo_kept", "key_score", "notes_in_key", "clap_score", "fad"]].mean().reset_index()
    ranks = pd.DataFrame({column: summary[column].rank(ascending=direction == "lower", method="average")
                          for column, direction in CRITERIA})
    return summary.assign(n_clips=groups.size().to_numpy(), mean_rank=ranks.mean(axis=1))


def choose(summary: pd.DataFrame) -> pd.Series:
    """The candidate with the best mean rank; ties go to the weaker guidance."""
    return summary.sort_values(["mean_rank", "guidance_text", "guidance_structure"]).iloc[0]
