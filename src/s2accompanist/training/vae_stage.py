"""The `vae` stage: train one VAE variant on curated audio with lead-sheet targets, then measure it.

Training examples are frame-aligned crops of the train split's curated tracks with the matching
slice of each track's frame-level targets. Afterwards, on the test split: reconstruction
(multi-resolution STFT distance, mel L1, SI-SDR) and linear probes on the frozen latent
(melody, chord, beat), so the semantic variant can be compared with the plain one.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from ..audio import load_audio
from ..models.leadsheet_heads import IGNORE_INDEX
from .trainer import build_trainer, export_curve, resume_path, run_directory


def load_track_audio(track_ids: list[str], curated_dir: Path, targets_dir: Path, sample_rate: int, channels: int,
                     hop: int) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
    """(track_id, audio (C, S) cut to whole latent frames, targets) for each track."""
    tracks = []
    for track_id in track_ids:
        audio = load_audio(curated_dir / "audio" / f"{track_id}.wav", sample_rate, channels)
        with np.load(targets_dir / f"{track_id}.npz") as stored:
            targets = {k: stored[k] for k in stored.files}
        frames = min(audio.shape[-1] // hop, len(targets["melody"]))
        tracks.append((track_id, audio[:, :frames * hop], {k: v[:frames] for k, v in targets.items()}))
    return tracks


class FrameAlignedCrops(Dataset):
    """`length` random crops of `crop_frames` latent frames per epoch, drawn from (seed, epoch, index)."""

    def __init__(self, tracks, crop_frames: int, hop: int, length: int, seed: int):
        self.tracks = [t for t in tracks if len(t[2]["melody"]) >= crop_frames]
        if not self.tracks:
            raise ValueError(f"no track is at least {crop_frames} latent frames long; lower vae.segment_s")
        self.crop_frames, self.hop, self.length, self.seed, self.epoch = crop_frames, hop, length, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        _, audio, targets = self.tracks[rng.integers(len(self.tracks))]
        start = int(rng.integers(len(targets["melody"]) - self.crop_frames + 1))
        window = slice(start, start + self.crop_frames)
        item = {"audio": torch.from_numpy(np.ascontiguousarray(audio[:, start * self.hop:(start + self.crop_frames) * self.hop]))}
        item.update({k: torch.from_numpy(np.ascontiguousarray(v[window])) for k, v in targets.items()})
        return item


def vae_config_from_params(vae: dict[str, Any], sample_rate: int, channels: int) -> dict[str, Any]:
    return {"in_channels": channels, "channels": vae["channels"], "c_mults": list(vae["c_mults"]), "strides": list(vae["strides"]),
            "latent_dim": vae["latent_dim"], "sample_rate": sample_rate}


def train_vae(vae: dict[str, Any], trainer_params: dict[str, Any], distill: bool, train_tracks, valid_tracks,
              sample_rate: int, channels: int, seed: int, out_path: Path, plots_csv: Path):
    from .vae import VAETrainingWrapper

    hop = math.prod(vae["strides"])
    crop_frames = max(1, round(vae["segment_s"] * sample_rate / hop))
    weights = {task: (float(w) if distill else 0.0) for task, w in vae["distill"].items()}
    config = vae_config_from_params(vae, sample_rate, channels)
    wrapper = VAETrainingWrapper(config, lr=vae["lr"], kl_weight=vae["kl_weight"], waveform_weight=vae["waveform_weight"],
                                 distill_weights=weights,
                                 adversarial=vae["adversarial"], ema_decay=vae["ema_decay"] or None, pretrained=vae["pretrained"])
    steps = vae["steps"]
    train = FrameAlignedCrops(train_tracks, crop_frames, hop, length=steps * vae["batch_size"], seed=seed)
    valid = FrameAlignedCrops(valid_tracks or train_tracks, crop_frames, hop, length=4 * vae["batch_size"], seed=seed + 1)
    run_dir = run_directory("vae", {"vae": vae, "distill": distill, "seed": seed, "sample_rate": sample_rate, "channels": channels})
    # Adversarial training steps two optimisers per batch, and Lightning counts both.
    max_steps = 2 * steps if vae["adversarial"] else steps
    trainer = build_trainer(trainer_params, max_steps=max_steps, run_dir=run_dir, val_check_interval=max(1, steps // 4),
                            check_val_every_n_epoch=None)
    trainer.fit(wrapper, DataLoader(train, batch_size=vae["batch_size"]), DataLoader(valid, batch_size=vae["batch_size"]),
                ckpt_path=resume_path(run_dir))
    curve = export_curve(run_dir, plots_csv, ("train/loss", "val/loss"))
    wrapper.export(out_path)
    shutil.rmtree(run_dir, ignore_errors=True)
    return wrapper.exported_vae.eval(), curve


@torch.no_grad()
def latents_of(vae, tracks, chunk_frames: int) -> list[np.ndarray]:
    """Posterior-mean latents (T, latent_dim) of whole tracks, encoded in overlapping chunks."""
    overlap = vae.config.context_frames
    return [vae.encode_chunked(torch.from_numpy(audio)[None], chunk_frames, overlap)[0][0].T.numpy() for _, audio, _ in tracks]


@torch.no_grad()
def reconstruction_metrics(vae, tracks, chunk_frames: int) -> dict[str, float]:
    """Mean over test tracks of multi-resolution STFT distance, mel L1 and SI-SDR (dB)."""
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    from ..models.losses import MelL1Loss, MultiResolutionSTFTLoss

    stft, mel = MultiResolutionSTFTLoss((2048, 1024, 512, 256, 128, 64)), MelL1Loss(vae.config.sample_rate)
    overlap = vae.config.context_frames
    scores = {"mrstft": [], "mel_l1": [], "si_sdr_db": []}
    for _, audio, _ in tracks:
        x = torch.from_numpy(audio)[None]
        mean, _ = vae.encode_chunked(x, chunk_frames, overlap)
        y = vae.decode_chunked(mean, chunk_frames, overlap)[..., : x.shape[-1]]
        scores["mrstft"].append(float(stft(y, x)))
        scores["mel_l1"].append(float(mel(y, x)))
        scores["si_sdr_db"].append(float(scale_invariant_signal_distortion_ratio(y, x).mean()))
    return {k: round(float(np.mean(v)), 4) for k, v in scores.items()}


def linear_probes(train_latents, train_tracks, test_latents, test_tracks, seed: int, max_frames: int = 20000) -> dict[str, float]:
    """Frame accuracy of logistic-regression probes on frozen latents: what the latent carries linearly."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def stack(latents, tracks, task):
        features = np.concatenate(latents)
        labels = np.concatenate([t[2][task][: len(z)] for z, t in zip(latents, tracks)])
        keep = labels != IGNORE_INDEX
        return features[keep], labels[keep].astype(np.int64)

    rng = np.random.default_rng(seed)
    results = {}
    for task in ("melody", "chord", "beat"):
        x_train, y_train = stack(train_latents, train_tracks, task)
        x_test, y_test = stack(test_latents, test_tracks, task)
        if len(x_train) > max_frames:
            chosen = rng.choice(len(x_train), max_frames, replace=False)
            x_train, y_train = x_train[chosen], y_train[chosen]
        if len(np.unique(y_train)) < 2 or not len(y_test):
            results[f"{task}_accuracy"] = float("nan")
            continue
        scaler = StandardScaler().fit(x_train)
        probe = LogisticRegression(max_iter=300).fit(scaler.transform(x_train), y_train)
        results[f"{task}_accuracy"] = round(float(probe.score(scaler.transform(x_test), y_test)), 4)
        # Majority-class accuracy: the floor a probe must beat to show the latent carries anything.
        results[f"{task}_majority"] = round(float(np.mean(y_test == np.bincount(y_train).argmax())), 4)
    return results


def split_tracks(segments: pd.DataFrame) -> dict[str, list[str]]:
    return {split: sorted(group["track_id"].unique()) for split, group in segments.groupby("split")}
