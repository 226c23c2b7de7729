"""The evaluation's judge, trained outside the DAG: `python -m s2accompanist.training.base_judge`.

In the default profile FAD, CLAP score and CCS need an audio-text model, and the only one the DAG
trains, the reference CLAP (stage `refclap`), also tags the captions, ranks the segments kept for
SFT and guides nothing less than what is then scored: its scores partly measure itself. And being
retrained in every run, it moved with the CPU's arithmetic (the same commit's shaped-noise FAD was
0.873 on one machine, 1.103 on another). The judge is neither:
- a model of the reference CLAP's architecture trained on a synthetic corpus composed with its own
  seed (2000: neither the DAG's corpus, seed `seed`, nor the base components' corpus, 1000), so no
  song it learned from is a song the pipeline sees;
- its text side reads prompts as hashed words (`models.hashed_words`), not through the DiT's text
  encoder;
- pinned: its weights are versioned in data/judge/ with their sha256 in the report beside them,
  which the evaluation checks before it scores anything (`evaluation.benchmark.judge_embedder`);
  every machine scores with the same file, and `dvc repro` never retrains it.
The report also holds its held-out caption retrieval and tag accuracy, as the refclap stage
reports for the reference CLAP. Regenerate it with `make base-judge`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from ..checkpoints import file_sha256
from ..evaluation.benchmark import judge_report_path
from ..io import write_json
from ..models.hashed_words import HashedWords
from ..params import load_params
from ..results import machine
from .base_vae import build_base_corpus
from .reference_clap_stage import train_reference_clap

DEFAULT_OUT = Path("data/judge/judge.safetensors")
DEFAULT_CORPUS_SEED = 2000


def train_judge(out: Path, n_songs: int, corpus_seed: int, epochs: int, threads: int, workdir: Path) -> dict:
    params = load_params()
    refclap = {**params.refclap.model_dump(), "epochs": epochs, "checkpoint": str(out)}
    trainer = {**params.trainer.model_dump(), "num_threads": threads, "accelerator": "cpu"}
    sample_rate = params.audio.sample_rate
    torch.set_num_threads(threads)
    started = time.perf_counter()
    corpus_dir = build_base_corpus(workdir / f"corpus-{corpus_seed}", n_songs, corpus_seed, sample_rate)
    tracks = pd.read_parquet(corpus_dir / "tracks.parquet")
    sections = pd.read_parquet(corpus_dir / "sections.parquet")
    text = HashedWords()
    out.parent.mkdir(parents=True, exist_ok=True)
    held_out = train_reference_clap(refclap, trainer, tracks, sections, corpus_dir, sample_rate, corpus_seed,
                                    workdir / "judge_training.csv", text_encoder=text)
    report = {
        "file": str(out), "role": "the evaluation's judge (evaluate.embedder.backend: judge): FAD, CLAP score, CCS tag heads",
        "architecture": "reference CLAP (models/reference_clap.py)", "text_features": f"{text.backend} ({text.dim} buckets)",
        "sample_rate": sample_rate,
        "training": {k: refclap[k] for k in ("embed_dim", "crop_s", "epochs", "batch_size", "lr")},
        "corpus": {"generator": "s2accompanist synthetic", "seed": corpus_seed, "songs": n_songs,
                   "split_songs": tracks["split"].value_counts().to_dict()},
        "held_out": held_out,
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": {**machine(), "threads": threads},
        "command": f"python -m s2accompanist.training.base_judge --songs {n_songs} --corpus-seed {corpus_seed} "
                   f"--epochs {epochs} --threads {threads}",
        "sha256": file_sha256(out, length=64),
    }
    write_json(judge_report_path(out), report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--songs", type=int, default=200, help="songs in the judge's own corpus")
    parser.add_argument("--corpus-seed", type=int, default=DEFAULT_CORPUS_SEED)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("data/runs/base-judge"), help="scratch: the corpus and the run")
    args = parser.parse_args(argv)
    print(json.dumps(train_judge(args.out, args.songs, args.corpus_seed, args.epochs, args.threads, args.workdir), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
