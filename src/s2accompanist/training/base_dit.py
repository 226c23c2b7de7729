"""The base DiT, trained outside the DAG: `python -m s2accompanist.training.base_dit`.

Measured on the default corpus: the `dit_pretrain` stage's 300 steps from random weights leave a
DiT whose clips have no notes (basic-pitch finds 1.3 onsets/s against 8.3 in the reference, and
their key is at chance), while 2500 steps of the same model give visible partials and a key score
four times higher. The default budget cannot pay for 2500 steps per ablation variant, so, as the
paper starts from a pretrained autoencoder, the default starts every variant's pretraining from a
base DiT made once by this pipeline and versioned in `data/base/` (`dit.pretrained`).

The base learns from the base corpus that `make base-vae` composes (its own seed: none of its songs
is a song of the DAG's corpus), in the latent space of the base autoencoder, with the conditions
the DAG's DiT takes: track caption, key, the corpus's own sections and section captions, and the
beat grid of its lead sheets. It is the `full` architecture; the `no_structure` variant takes every
tensor but the structure modules. A JSON report beside the file records its sha256, the settings,
the corpus, the loss, the wall time, the machine and the command.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from ..checkpoints import file_sha256
from ..io import write_json
from ..latents import encode_tracks
from ..params import load_params
from ..results import machine
from .base_vae import DEFAULT_CORPUS_SEED, build_base_corpus
from .dit_stage import train_dit

DEFAULT_OUT = Path("data/base/dit-base.safetensors")


def base_segments(corpus_dir: Path) -> pd.DataFrame:
    """The corpus's annotated sections in the curated segments' layout (none is "selected": the
    base pretrains on every window)."""
    tracks = pd.read_parquet(corpus_dir / "tracks.parquet")[["track_id", "split", "caption"]]
    sections = pd.read_parquet(corpus_dir / "sections.parquet")
    segments = sections.merge(tracks.rename(columns={"caption": "track_caption"}), on="track_id", validate="many_to_one")
    return segments.assign(selected=False)


def train_base_dit(out: Path, corpus_dir: Path, n_songs: int, corpus_seed: int, steps: int, threads: int, workdir: Path) -> dict:
    params = load_params()
    if params.vae.pretrained is None:
        raise ValueError("vae.pretrained is null: the base DiT learns the base autoencoder's latent space; run `make base-vae` first")
    dit = {**params.dit.model_dump(), "pretrained": None}
    run = {**params.dit_pretrain.model_dump(), "steps": steps, "ema_decay": 0.999}
    run["warmup_steps"] = min(run["warmup_steps"], steps)
    trainer = {**params.trainer.model_dump(), "num_threads": threads, "accelerator": "auto"}
    sample_rate, channels = params.audio.sample_rate, params.audio.channels
    torch.set_num_threads(threads)
    started = time.perf_counter()
    corpus_dir = build_base_corpus(corpus_dir, n_songs, corpus_seed, sample_rate)
    segments = base_segments(corpus_dir)
    train_tracks = sorted(segments.loc[segments["split"] == "train", "track_id"].unique())

    from ..models.oobleck_import import load_oobleck_weights
    from ..models.vae import VAE, VAEConfig
    from .vae_stage import vae_config_from_params

    # Encoded once per base autoencoder (its hash names the folder), then reused by reruns.
    latent_dir = workdir / f"latents-{file_sha256(params.vae.pretrained)}"
    if not (latent_dir / "index.parquet").is_file():
        vae = load_oobleck_weights(VAE(VAEConfig.from_dict(vae_config_from_params(params.vae.model_dump(), sample_rate, channels))),
                                   params.vae.pretrained).eval()
        latent_dir.mkdir(parents=True, exist_ok=True)
        encode_tracks(vae, train_tracks, corpus_dir, latent_dir, sample_rate, channels, params.encode.chunk_s, params.encode.overlap_s)
    metrics = train_dit("dit_base", dit, run, trainer, latent_dir, segments, True, corpus_seed, out,
                        workdir / "dit-base_training.csv", leadsheet_dir=corpus_dir / "leadsheets")
    report = {
        "file": str(out), "format": "s2accompanist DiT checkpoint (safetensors with its config), loaded through dit.pretrained",
        "architecture": {k: dit[k] for k in ("width", "depth", "heads", "max_s", "rhythm", "key")} | {"structure": True},
        "text_encoder": dit["text_encoder"], "latents": f"base autoencoder {params.vae.pretrained}",
        "training": {k: run[k] for k in ("steps", "batch_size", "lr", "warmup_steps", "ema_decay")} | {"crop_s": dit["crop_s"]},
        "corpus": {"generator": "s2accompanist synthetic", "seed": corpus_seed, "songs": n_songs, "train_songs": len(train_tracks),
                   "sections": "the corpus's annotated sections and their captions (no curation)"},
        "parameters": metrics["parameters"], "final_train_loss": metrics["final_loss"],
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": {**machine(), "threads": threads},
        "command": f"python -m s2accompanist.training.base_dit --songs {n_songs} --corpus-seed {corpus_seed} --steps {steps} --threads {threads}",
        "sha256": file_sha256(out, length=64),
    }
    write_json(out.with_suffix(".json"), report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--corpus-dir", type=Path, default=Path("data/runs/base-vae/corpus"),
                        help="the base corpus; `make base-vae` composes the same one (same seed and songs), built here if missing")
    parser.add_argument("--songs", type=int, default=200, help="songs in the base corpus")
    parser.add_argument("--corpus-seed", type=int, default=DEFAULT_CORPUS_SEED)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("data/runs/base-dit"), help="scratch: latents and resumable run")
    args = parser.parse_args(argv)
    report = train_base_dit(args.out, args.corpus_dir, args.songs, args.corpus_seed, args.steps, args.threads, args.workdir)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
