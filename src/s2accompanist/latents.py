"""Pre-encoded latents: the `encode` stage's output and the DiT's training input.

Each curated track is encoded whole (posterior mean, chunked with overlap so memory stays flat)
and stored in safetensors shards of `SHARD_TRACKS` tracks; `index.parquet` says which shard holds
which track and how many frames it has. Segment structure stays in the curated segments table
and is turned into frame spans when the DiT dataset reads a window.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from .progress import progress

from .audio import load_audio
from .io import atomic_path, write_parquet

SHARD_TRACKS = 64


@torch.no_grad()
def encode_tracks(vae, track_ids: list[str], curated_dir: Path, out_dir: Path, sample_rate: int, channels: int,
                  chunk_s: float, overlap_s: float) -> pd.DataFrame:
    hop = vae.config.downsampling_ratio
    chunk_frames = max(1, round(chunk_s * sample_rate / hop))
    # The overlap must cover the networks' context for chunked coding to be exact.
    overlap_frames = max(vae.config.context_frames, round(overlap_s * sample_rate / hop))
    rows, shard, shard_index = [], {}, 0

    def flush():
        nonlocal shard, shard_index
        if shard:
            with atomic_path(out_dir / f"shard_{shard_index:04d}.safetensors") as tmp:
                save_file(shard, str(tmp))
            shard, shard_index = {}, shard_index + 1

    for track_id in progress(track_ids, desc="encode", unit="track"):
        audio = load_audio(curated_dir / "audio" / f"{track_id}.wav", sample_rate, channels)
        frames = audio.shape[-1] // hop
        mean, _ = vae.encode_chunked(torch.from_numpy(audio[:, :frames * hop])[None], chunk_frames, overlap_frames)
        shard[track_id] = mean[0].contiguous()
        rows.append({"track_id": track_id, "shard": f"shard_{shard_index:04d}.safetensors", "frames": int(mean.shape[-1])})
        if len(shard) == SHARD_TRACKS:
            flush()
    flush()
    index = pd.DataFrame(rows)
    latent_std = float(torch.cat([t.flatten() for t in load_latents(out_dir, index).values()]).std())
    index = index.assign(latent_std=latent_std, frame_rate_hz=sample_rate / hop)
    write_parquet(out_dir / "index.parquet", index)
    return index


def load_latents(latent_dir: Path, index: pd.DataFrame | None = None) -> dict[str, torch.Tensor]:
    """{track_id: (latent_dim, frames)} for every track in the index."""
    index = pd.read_parquet(latent_dir / "index.parquet") if index is None else index
    latents: dict[str, torch.Tensor] = {}
    for shard in sorted(index["shard"].unique()):
        latents.update(load_file(str(latent_dir / shard)))
    return latents
