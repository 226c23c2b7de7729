"""The base autoencoder, trained outside the DAG: `python -m s2accompanist.training.base_vae`.

The paper fine-tunes an existing autoencoder (DiffRhythm's) instead of training one. The
default profile has no such file to download, so this pipeline makes one, once: it composes a
synthetic corpus of its own (its own seed, so none of its songs is a song the DAG's corpus
holds), trains the plain VAE of params.yaml's `vae` architecture on it with every distillation
weight 0, and writes the weights in the stable-audio-tools Oobleck format, the format the paper
profile's pretrained autoencoder comes in, so both reach the `vae` stage through the same loader
(`vae.pretrained`). A JSON report beside the file records its sha256, the settings, the wall
time, the machine and the reconstruction on the base corpus's held-out songs.

The file is versioned in git (a few MiB); the DAG never rewrites it. Regenerate it with
`make base-vae` (the settings below are the defaults it uses); `--steps` small is a quick check.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..checkpoints import file_sha256
from ..io import atomic_path, write_json
from ..models.oobleck_import import to_oobleck_state_dict
from ..params import load_params
from ..results import machine
from .vae_stage import load_track_audio, reconstruction_metrics, train_vae

DEFAULT_OUT = Path("data/base/vae-base.safetensors")
# Far from the DAG's `seed` (0 in every profile): the base corpus's songs are its own.
DEFAULT_CORPUS_SEED = 1000


def build_base_corpus(out_dir: Path, n_songs: int, seed: int, sample_rate: int) -> Path:
    """Compose and render the base corpus once (reused when `out_dir` already holds it)."""
    from ..corpus.synthetic.build import build_synthetic_corpus
    from ..corpus.synthetic.config import SyntheticCorpusConfig

    if (out_dir / "tracks.parquet").is_file():
        return out_dir
    config = SyntheticCorpusConfig(n_songs=n_songs, seed=seed, sample_rate=sample_rate, duration_s_min=20.0, duration_s_max=40.0,
                                   defect_fraction=0.0, write_stems=False)
    build_synthetic_corpus(config, out_dir)
    return out_dir


def base_tracks(corpus_dir: Path, sample_rate: int, channels: int, hop: int) -> dict[str, list]:
    """Whole songs by split, as (track_id, audio, {}) triples: the base trains on audio alone."""
    import pandas as pd

    from ..audio import load_audio

    tracks = pd.read_parquet(corpus_dir / "tracks.parquet")
    by_split: dict[str, list] = {"train": [], "valid": [], "test": []}
    for row in tracks.itertuples():
        audio = load_audio(corpus_dir / row.audio_path, sample_rate, channels)
        frames = audio.shape[-1] // hop
        by_split[row.split].append((row.track_id, audio[:, :frames * hop], {}))
    return by_split


def train_base_vae(out: Path, n_songs: int, corpus_seed: int, steps: int, threads: int, workdir: Path) -> dict:
    params = load_params()
    vae = params.vae.model_dump()
    trainer = {**params.trainer.model_dump(), "num_threads": threads, "accelerator": "auto"}
    sample_rate, channels = params.audio.sample_rate, params.audio.channels
    torch.set_num_threads(threads)
    hop = math.prod(vae["strides"])
    started = time.perf_counter()
    corpus_dir = build_base_corpus(workdir / "corpus", n_songs, corpus_seed, sample_rate)
    splits = base_tracks(corpus_dir, sample_rate, channels, hop)
    export = workdir / "vae-base-export.safetensors"
    model, curve, _ = train_vae(vae, trainer, False, splits["train"], splits["valid"], sample_rate, channels, corpus_seed, export,
                             workdir / "vae-base_training.csv", steps=steps)
    chunk_frames = max(1, round(10.0 * sample_rate / hop))
    report = {
        "file": str(out), "format": "stable-audio-tools Oobleck autoencoder (safetensors), loaded through vae.pretrained",
        "architecture": {k: vae[k] for k in ("channels", "c_mults", "strides", "latent_dim")},
        "sample_rate": sample_rate, "channels": channels,
        "training": {"steps": steps, "batch_size": vae["batch_size"], "segment_s": vae["segment_s"], "lr": vae["lr"],
                     "kl_weight": vae["kl_weight"], "waveform_weight": vae["waveform_weight"], "distillation": "off"},
        "corpus": {"generator": "s2accompanist synthetic", "seed": corpus_seed, "songs": n_songs,
                   "train_songs": len(splits["train"]), "held_out_songs": len(splits["test"])},
        "held_out_reconstruction": reconstruction_metrics(model, splits["test"] or splits["valid"], chunk_frames),
        "final_train_loss": next((row["train/loss"] for row in reversed(curve) if not math.isnan(row["train/loss"])), None),
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": {**machine(), "threads": threads},
        "command": f"python -m s2accompanist.training.base_vae --songs {n_songs} --corpus-seed {corpus_seed} --steps {steps} --threads {threads}",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file(to_oobleck_state_dict(model), str(tmp))
    report["sha256"] = file_sha256(out, length=64)
    write_json(out.with_suffix(".json"), report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--songs", type=int, default=200, help="songs in the base corpus")
    parser.add_argument("--corpus-seed", type=int, default=DEFAULT_CORPUS_SEED)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("data/runs/base-vae"), help="scratch: corpus and resumable run")
    args = parser.parse_args(argv)
    report = train_base_vae(args.out, args.songs, args.corpus_seed, args.steps, args.threads, args.workdir)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
