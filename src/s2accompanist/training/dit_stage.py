"""The `dit_pretrain` and `dit_sft` stages: windows of pre-encoded tracks with their structure.

A training example is a window of `crop_s` seconds of one track's latent, scaled to unit
variance, with the track caption as the global text and, for a structure-conditioned model, the
curated segments inside the window (label, frame span, and their own caption), and for a
rhythm-conditioned model the beat grid of the window from the track's lead sheet (the leadsheet
stage's beats and downbeats), and for a key-conditioned model the key the track caption states.
Pretraining draws windows anywhere; SFT draws windows that start
at a selected (top-graded) segment.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from ..checkpoints import load_checkpoint, save_checkpoint
from ..generation import key_index, requested_key
from ..labels import SECTION_LABELS
from ..latents import load_latents
from ..models.rhythm import event_phases
from ..models.structure import Segment
from .trainer import build_trainer, export_curve, resume_path, run_directory


class CaptionBank:
    """Every caption encoded once by the frozen text encoder: text -> (tokens (L, D), pooled (D',))."""

    def __init__(self, text_encoder, captions: list[str], batch_size: int = 64):
        unique = sorted(set(captions))
        self.entries: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for start in range(0, len(unique), batch_size):
            chunk = unique[start:start + batch_size]
            encoding = text_encoder.encode(chunk)
            for i, text in enumerate(chunk):
                length = int(encoding.mask[i].sum())
                self.entries[text] = (encoding.tokens[i, :length].clone(), encoding.pooled[i].clone())
        self.token_dim, self.pooled_dim = text_encoder.token_dim, text_encoder.pooled_dim

    def __getitem__(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.entries[text]


class TrackWindows(Dataset):
    """`length` windows per epoch, each drawn from (seed, epoch, index) so reruns see the same data."""

    def __init__(self, latents: dict[str, torch.Tensor], segments: pd.DataFrame, captions: CaptionBank, rate: float,
                 crop_frames: int, latent_std: float, length: int, seed: int, structure: bool, selected_only: bool,
                 leadsheets: dict[str, dict] | None = None, key: bool = False):
        self.latents, self.captions, self.rate, self.leadsheets, self.key = latents, captions, rate, leadsheets, key
        self.crop_frames, self.latent_std, self.length, self.seed, self.structure = crop_frames, latent_std, length, seed, structure
        self.by_track = {track: rows.sort_values("start_s") for track, rows in segments.groupby("track_id") if track in latents}
        anchors = segments[segments["selected"]] if selected_only else segments
        self.anchors = anchors[anchors["track_id"].isin(self.by_track)][["track_id", "start_s"]].to_records(index=False)
        if not len(self.anchors):
            raise ValueError("no segment to draw training windows from" + (" (none is selected)" if selected_only else ""))
        self.selected_only, self.epoch = selected_only, 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        track_id, anchor_s = self.anchors[rng.integers(len(self.anchors))]
        latent = self.latents[track_id]
        total = latent.shape[-1]
        if self.selected_only:
            start = min(int(anchor_s * self.rate), max(0, total - self.crop_frames))
        else:
            start = int(rng.integers(max(1, total - self.crop_frames + 1)))
        window = latent[:, start:start + self.crop_frames] / self.latent_std
        rows = self.by_track[track_id]
        tokens, pooled = self.captions[rows["track_caption"].iloc[0]]
        item = {"latents": window, "text_tokens": tokens, "text_pooled": pooled, "duration_s": window.shape[-1] / self.rate}
        if self.structure:
            item["segments"] = window_segments(rows, start, window.shape[-1], self.rate, self.captions)
        if self.key:
            item["key_index"] = key_index(requested_key(rows["track_caption"].iloc[0]))
        if self.leadsheets is not None:
            item.update(window_rhythm(self.leadsheets.get(track_id), start, window.shape[-1], self.rate))
        return item


def window_rhythm(leadsheet: dict | None, start: int, frames: int, rate: float) -> dict[str, Any]:
    """Beat and bar phases of frames [start, start + frames) from a lead sheet's beats and downbeats;
    a track without a lead sheet or with fewer than two of either is marked unknown (the null grid)."""
    times = (start + np.arange(frames)) / rate
    beat = event_phases(times, (leadsheet or {}).get("beats", []))
    bar = event_phases(times, (leadsheet or {}).get("downbeats", []))
    if beat is None or bar is None:
        return {"beat_phase": torch.zeros(frames), "bar_phase": torch.zeros(frames), "rhythm_known": False}
    return {"beat_phase": torch.from_numpy(beat).float(), "bar_phase": torch.from_numpy(bar).float(), "rhythm_known": True}


def read_leadsheets(leadsheet_dir: Path, track_ids) -> dict[str, dict]:
    """The lead sheets of the given tracks that the leadsheet stage wrote (`<track_id>.json`)."""
    return {track: json.loads((leadsheet_dir / f"{track}.json").read_text())
            for track in sorted(set(track_ids)) if (leadsheet_dir / f"{track}.json").is_file()}


def window_segments(rows: pd.DataFrame, start: int, frames: int, rate: float, captions: CaptionBank) -> list[Segment]:
    """The curated segments overlapping frames [start, start + frames), in window coordinates."""
    segments = []
    for row in rows.itertuples():
        lo, hi = max(int(round(row.start_s * rate)) - start, 0), min(int(round(row.end_s * rate)) - start, frames)
        if hi > lo:
            segments.append(Segment(SECTION_LABELS.index(row.label), lo, hi, captions[row.caption][0]))
    return segments


def dit_config_from_params(dit: dict[str, Any], latent_dim: int, captions: CaptionBank, rate: float, structure: bool) -> dict[str, Any]:
    return {"latent_dim": latent_dim, "width": dit["width"], "depth": dit["depth"], "heads": dit["heads"],
            "text_dim": captions.token_dim, "pooled_text_dim": captions.pooled_dim,
            "max_frames": int(np.ceil(dit["max_s"] * rate)), "structure": structure, "rhythm": bool(dit["rhythm"]), "key": bool(dit["key"])}


def train_dit(stage: str, dit: dict[str, Any], run: dict[str, Any], trainer_params: dict[str, Any], latent_dir: Path,
              segments: pd.DataFrame, structure: bool, seed: int, out_path: Path, plots_csv: Path,
              init_from: Path | None = None, untrained_path: Path | None = None,
              leadsheet_dir: Path | None = None) -> dict[str, Any]:
    """Train one DiT variant and export its EMA weights with everything sampling needs to know.
    It starts from `init_from` (SFT: the pretrained variant), else from the base DiT `dit.pretrained`
    when that is set, else from random weights. With `untrained_path`, the random initial weights
    are exported there too, as the baseline to sample from.
    A rhythm-conditioned DiT (params dit.rhythm) reads its beat grids from `leadsheet_dir`."""
    from ..models.text_encoders import build_text_encoder
    from .dit import DiTTrainingWrapper, collate_dit_batch

    index = pd.read_parquet(latent_dir / "index.parquet")
    latents = load_latents(latent_dir, index)
    rate, latent_std = float(index["frame_rate_hz"].iloc[0]), float(index["latent_std"].iloc[0])
    text_encoder = build_text_encoder(dit["text_encoder"]["backend"], dit["text_encoder"]["checkpoint"])
    train_segments = segments[segments["split"] == "train"]
    captions = CaptionBank(text_encoder, train_segments["caption"].tolist() + train_segments["track_caption"].tolist())
    latent_dim = next(iter(latents.values())).shape[0]
    config = dit_config_from_params(dit, latent_dim, captions, rate, structure)
    wrapper = DiTTrainingWrapper(config, lr=run["lr"], warmup_steps=max(1, run["warmup_steps"]), total_steps=run["steps"],
                                 ema_decay=run["ema_decay"], structure_dropout=dit["structure_dropout"], unconditional_dropout=dit["unconditional_dropout"],
                                 rhythm_dropout=dit["rhythm_dropout"])
    def export(path: Path) -> None:
        wrapper.export(path)
        # Sampling needs more than the architecture: the latent scale and rate, and the text encoder.
        state, saved = load_checkpoint(path)
        save_checkpoint(path, state, {**saved, "latent_std": latent_std, "frame_rate_hz": rate,
                                      "text_encoder": dit["text_encoder"], "latents": latent_dir.name})

    # The untrained baseline is the random initialisation, exported before any starting weights load.
    if untrained_path is not None:
        export(untrained_path)
    start = {"start": "random initialisation"}
    if init_from is not None:
        state, _ = load_checkpoint(init_from, "dit_sft init (the dit_pretrain checkpoint)")
        wrapper.model.load_state_dict(state)
        wrapper.ema.shadow.load_state_dict(state)
        start = {"start": str(init_from)}
    elif dit.get("pretrained"):
        start = load_base_dit(wrapper, Path(dit["pretrained"]), config)
    leadsheets = None
    if config["rhythm"]:
        if leadsheet_dir is None or not Path(leadsheet_dir).is_dir():
            raise FileNotFoundError(f"dit.rhythm is true but the lead sheets are not at {leadsheet_dir}; run the leadsheet stage "
                                    "(`dvc repro leadsheet`) or set dit.rhythm: false")
        leadsheets = read_leadsheets(Path(leadsheet_dir), train_segments["track_id"])
    crop_frames = max(1, int(dit["crop_s"] * rate))
    windows = TrackWindows(latents, train_segments, captions, rate, crop_frames, latent_std, run["steps"] * run["batch_size"],
                           seed, structure, selected_only=stage == "dit_sft", leadsheets=leadsheets, key=config["key"])
    run_dir = run_directory(stage, {"dit": dit, "run": run, "structure": structure, "latents": str(latent_dir), "seed": seed})
    trainer = build_trainer(trainer_params, max_steps=run["steps"], run_dir=run_dir)
    trainer.fit(wrapper, DataLoader(windows, batch_size=run["batch_size"], collate_fn=collate_dit_batch),
                ckpt_path=resume_path(run_dir))
    curve = export_curve(run_dir, plots_csv, ("train/loss",))
    export(out_path)
    shutil.rmtree(run_dir, ignore_errors=True)
    losses = [row["train/loss"] for row in curve]
    return {"parameters": sum(p.numel() for p in wrapper.model.parameters()), "steps": run["steps"],
            "windows_from": "selected segments" if stage == "dit_sft" else "all segments",
            "train_segments": int(len(train_segments)), "selected_segments": int(train_segments["selected"].sum()),
            "final_loss": round(float(np.mean(losses[-5:])), 4) if losses else None, "structure": structure,
            "rhythm": config["rhythm"], "key": config["key"], "tracks_with_beat_grid": None if leadsheets is None else len(leadsheets),
            **start}


BASE_DIT_SOURCE = "`make base-dit` (python -m s2accompanist.training.base_dit), which versions it in data/base/"
# What a base DiT must share with the model it starts: anything else would change tensor shapes.
BASE_DIT_FIELDS = ("latent_dim", "width", "depth", "heads", "text_dim", "pooled_text_dim", "rhythm", "key")


def load_base_dit(wrapper, path: Path, config: dict[str, Any], param: str = "dit.pretrained") -> dict[str, Any]:
    """Start from a base DiT trained outside the DAG: every tensor whose name and shape the model
    shares with it (model and EMA alike). A model without the base's structure modules (the
    no_structure ablation) takes the rest and keeps nothing it lacks. Returns what was loaded."""
    from ..checkpoints import CheckpointError, existing_file

    state, saved = load_checkpoint(existing_file(path, param, BASE_DIT_SOURCE), param)
    base = saved.get("dit", {})
    differing = {field: (base.get(field), config[field]) for field in BASE_DIT_FIELDS if base.get(field) != config[field]}
    if differing:
        raise CheckpointError(f"{param}: {path} is a DiT of another architecture ({', '.join(f'{k}: {a} there, {b} here' for k, (a, b) in differing.items())}); "
                              f"regenerate it with {BASE_DIT_SOURCE} or set {param}: null to train from scratch")
    own = wrapper.model.state_dict()
    shared = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
    wrapper.model.load_state_dict(shared, strict=False)
    wrapper.ema.shadow.load_state_dict(shared, strict=False)
    return {"start": str(path), "tensors_from_base": len(shared), "tensors": len(own)}
