"""Audiobox Aesthetics (audiobox-aesthetics 0.0.4) from a local checkpoint: the `audiobox`
quality backend, scoring Content Enjoyment (CE), Content Usefulness (CU), Production Complexity
(PC) and Production Quality (PQ).

The package's `infer` module imports torchaudio at its top, and torchaudio cannot be installed
here, so this adapter never imports it. It uses the package's model code (`AesMultiOutput`,
`Normalize`) and repeats the few lines of `AesPredictor` around it:

- loading: `torch.load` of the original `checkpoint.pt` (`state_dict` with `model.` prefixes,
  `model_cfg`, `target_transform` = {axis: {"mean", "std"}}), here with `weights_only=True`
  (the package's torch.load gets the same default from torch >= 2.6);
- audio: resampled to 16 kHz, then averaged to mono (the package's order). We resample with soxr
  where the package uses torchaudio's sinc resampler, so input at other rates scores slightly
  differently than through the package; 16 kHz input scores identically;
- windows: 10 s windows with a 10 s hop, the last one zero-padded and masked; each clip's score
  is the window scores (mapped back through `target_transform`) averaged with weights equal to
  the fraction of the window that holds audio.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..audio import resample
from ..checkpoints import CheckpointError, existing_file, file_sha256

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 10 * SAMPLE_RATE
AXES = ("CE", "CU", "PC", "PQ")
# The `model_cfg` entries the package passes to AesMultiOutput (audiobox_aesthetics.infer).
MODEL_CFG_KEYS = (
    "proj_num_layer",
    "proj_ln",
    "proj_act_fn",
    "proj_dropout",
    "nth_layer",
    "use_weighted_layer_sum",
    "precision",
    "normalize_embed",
    "output_dim",
)
WHERE_FROM = (
    "checkpoint.pt from https://huggingface.co/facebook/audiobox-aesthetics "
    "(or https://dl.fbaipublicfiles.com/audiobox-aesthetics/checkpoint.pt), downloaded on a networked machine"
)


class AudioboxAesthetics:
    """A loaded Audiobox Aesthetics predictor: `score` gives CE / CU / PC / PQ per clip."""

    def __init__(self, model: torch.nn.Module, target_transform: dict[str, dict[str, float]], checkpoint: Path, checkpoint_sha256: str):
        from audiobox_aesthetics.model.aes import Normalize

        self.model = model.eval().requires_grad_(False)
        self.normalizers = {axis: Normalize(mean=target_transform[axis]["mean"], std=target_transform[axis]["std"]) for axis in AXES}
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256

    @classmethod
    def load(cls, checkpoint: str | os.PathLike | None, param: str, device: str | torch.device = "cpu") -> "AudioboxAesthetics":
        """Load the original-format `checkpoint`; `param` (e.g. `curate.quality.checkpoint`) names
        the params key that points at it, for errors."""
        from audiobox_aesthetics.model.aes import AesMultiOutput

        path = existing_file(checkpoint, param, WHERE_FROM)
        state_dict, model_cfg, target_transform = read_audiobox_checkpoint(path, param)
        model = AesMultiOutput(**{key: model_cfg[key] for key in MODEL_CFG_KEYS}, target_transform=target_transform)
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as err:
            raise CheckpointError(f"{param}: the weights in {path} do not fit AesMultiOutput with its own model_cfg {model_cfg}: {err}") from err
        return cls(model.to(device), target_transform, path, file_sha256(path))

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @torch.inference_mode()
    def score(self, clips: Sequence[np.ndarray], sample_rate: int, batch_size: int = 8) -> list[dict[str, float]]:
        """Score each clip in `clips` (each (samples,) or (channels, samples), at `sample_rate`);
        a (N, samples) array is N mono clips. Returns one {CE, CU, PC, PQ} dict per clip."""
        if len(clips) == 0:
            raise ValueError("score takes at least one clip, got none")
        windows, masks, weights, clip_ids = [], [], [], []
        for clip_id, clip in enumerate(clips):
            mono = _mono_16k(clip, sample_rate, clip_id)
            for start in range(0, mono.shape[0], WINDOW_SAMPLES):
                piece = mono[start : start + WINDOW_SAMPLES]
                window = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
                window[: piece.shape[0]] = piece
                windows.append(window)
                masks.append(np.arange(WINDOW_SAMPLES) < piece.shape[0])
                weights.append(piece.shape[0] / WINDOW_SAMPLES)
                clip_ids.append(clip_id)
        window_scores = {axis: [] for axis in AXES}
        device = next(self.model.parameters()).device
        for first in range(0, len(windows), batch_size):
            batch = {
                "wav": torch.from_numpy(np.stack(windows[first : first + batch_size])[:, None]).to(device),
                "mask": torch.from_numpy(np.stack(masks[first : first + batch_size])[:, None]).to(device),
            }
            predictions = self.model(batch)
            for axis in AXES:
                window_scores[axis].append(self.normalizers[axis].inverse(predictions[axis]).float().cpu())
        weights_t = torch.tensor(weights)
        clip_ids_t = torch.tensor(clip_ids)
        per_axis = {axis: torch.cat(window_scores[axis]) for axis in AXES}
        results = []
        for clip_id in range(len(clips)):
            selected = clip_ids_t == clip_id
            clip_weights = weights_t[selected]
            results.append({axis: float((per_axis[axis][selected] * clip_weights).sum() / clip_weights.sum()) for axis in AXES})
        return results


def read_audiobox_checkpoint(path: Path, param: str) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, dict[str, float]]]:
    """(state_dict without the `model.` prefix, model_cfg, target_transform) of an original checkpoint."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError or EOFError for bad files
        raise CheckpointError(f"{param}: {path} cannot be read with torch.load(weights_only=True): {err}; expected {WHERE_FROM}") from err
    missing = [key for key in ("state_dict", "model_cfg", "target_transform") if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise CheckpointError(f"{param}: {path} lacks {missing}; it is not an audiobox-aesthetics checkpoint, which is {WHERE_FROM}")
    model_cfg, target_transform = checkpoint["model_cfg"], checkpoint["target_transform"]
    missing_cfg = [key for key in MODEL_CFG_KEYS if key not in model_cfg]
    missing_axes = [axis for axis in AXES if not {"mean", "std"} <= set(target_transform.get(axis, {}))]
    if missing_cfg or missing_axes:
        raise CheckpointError(f"{param}: {path} has model_cfg without {missing_cfg} or target_transform without mean/std for {missing_axes}; expected {WHERE_FROM}")
    state_dict = {key.removeprefix("model."): value for key, value in checkpoint["state_dict"].items()}
    return state_dict, model_cfg, target_transform


def _mono_16k(clip: np.ndarray, sample_rate: int, clip_id: int) -> np.ndarray:
    clip = np.asarray(clip, dtype=np.float32)
    if clip.ndim not in (1, 2) or clip.shape[-1] == 0:
        raise ValueError(f"clip {clip_id} must be shaped (samples,) or (channels, samples) with samples > 0, got shape {clip.shape}")
    if not np.isfinite(clip).all():
        raise ValueError(f"clip {clip_id} contains NaN or infinite samples")
    return resample(clip, sample_rate, SAMPLE_RATE).mean(axis=0)
