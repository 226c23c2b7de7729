"""Instrumental extraction, the first curation step: a song in, its accompaniment out.

Backends (params: curate.separation.backend):

- `none`: the input is already instrumental and passes through unchanged.
- `demucs`: Hybrid Transformer Demucs (demucs 4.1.0) from a local model-zoo file, keeping every
  source except "vocals". The file is the one `demucs.states.load_model` reads: the pickled
  package {"klass", "args", "kwargs", "state", "training_args"} that demucs's own
  `serialize_model` + `save_with_checksum` write, e.g. htdemucs's single model
  `955717e8-8726e21a.th`. (The `htdemucs.yaml` of the model zoo is a bag naming that one file, so
  the file alone is the same model; multi-model bags such as htdemucs_ft are not supported.)

Loading differs from `demucs.pretrained.get_model` only in safety: the file is read with
`torch.load(weights_only=True)`, allowing demucs's model classes as the only code objects, and the
package is then handed to demucs's own `load_model`. A file whose name carries a checksum
(`<signature>-<sha256 prefix>.th`) is verified with demucs's `check_checksum` first.

Separation follows `demucs.api.Separator.separate_tensor`: convert to the model's rate and
channels, normalise by the mean and standard deviation of the mono mix, `apply_model` with the
model's own segment length, overlap 0.25 and no random shifts (so the output is deterministic),
de-normalise each source, then sum the non-vocal sources and convert back.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..audio import resample, to_channels
from ..checkpoints import CheckpointError, existing_file, file_sha256

PARAM = "curate.separation.checkpoint"
WHERE_FROM = ("a Demucs model-zoo file such as htdemucs's 955717e8-8726e21a.th "
              "(https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/955717e8-8726e21a.th; download it on a networked machine)")
VOCALS = "vocals"
# demucs.api's default overlap between consecutive segments.
OVERLAP = 0.25
_CHECKSUMMED_NAME = re.compile(r"^[0-9a-f]{8}-(?P<checksum>[0-9a-f]{8})\.th$")

Separator = Callable[[np.ndarray, int], np.ndarray]


def build_separator(separation: dict[str, Any], device: str | torch.device = "cpu") -> Separator:
    """The `curate.separation` backend as a function (audio (C, S) float32, sample_rate) -> (C, S)."""
    if separation["backend"] == "none":
        return keep_input
    if separation["backend"] == "demucs":
        return DemucsSeparator.load(separation["checkpoint"], device=device)
    raise ValueError(f"curate.separation.backend {separation['backend']!r} is not a separation backend; use one of ('none', 'demucs')")


def keep_input(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The `none` backend: the audio is already instrumental."""
    return audio


class DemucsSeparator:
    """A loaded Demucs model; calling it returns the accompaniment (every source but vocals)."""

    def __init__(self, model: torch.nn.Module, checkpoint: Path, checkpoint_sha256: str, device: str | torch.device = "cpu"):
        if VOCALS not in model.sources:
            raise CheckpointError(f"{PARAM}: {checkpoint} separates {model.sources}, which has no {VOCALS!r} source to drop; use {WHERE_FROM}")
        self.model = model.to(device).eval().requires_grad_(False)
        self.device = torch.device(device)
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256
        self.name = f"demucs ({checkpoint.name}, sha256 {checkpoint_sha256[:12]})"

    @classmethod
    def load(cls, checkpoint: str | os.PathLike | None, device: str | torch.device = "cpu") -> "DemucsSeparator":
        from demucs.states import load_model

        path = existing_file(checkpoint, PARAM, WHERE_FROM)
        package = read_demucs_package(path)
        try:
            model = load_model(package)
        except (TypeError, ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(f"{PARAM}: {path} is a demucs package whose model cannot be rebuilt from it: {err}; use {WHERE_FROM}") from err
        return cls(model, path, file_sha256(path), device)

    @property
    def sample_rate(self) -> int:
        return int(self.model.samplerate)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        sources = self.separate(audio, sample_rate)
        accompaniment = sum(stem for name, stem in sources.items() if name != VOCALS)
        return self._back_to_input(accompaniment, audio.shape, sample_rate)

    @torch.inference_mode()
    def separate(self, audio: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        """Every source Demucs predicts, at the model's rate and channel count."""
        from demucs.apply import apply_model

        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[1] == 0:
            raise ValueError(f"separation takes audio shaped (channels, samples) with samples > 0, got shape {audio.shape}")
        mix = torch.from_numpy(to_channels(resample(audio, sample_rate, self.sample_rate), self.model.audio_channels))
        reference = mix.mean(0)
        mean, std = reference.mean(), reference.std() + 1e-8
        out = apply_model(self.model, ((mix - mean) / std)[None].to(self.device), shifts=0, split=True, overlap=OVERLAP,
                          device=self.device)[0]
        out = (out * std.to(out.device) + mean.to(out.device)).cpu().numpy()
        return dict(zip(self.model.sources, out))

    def _back_to_input(self, audio: np.ndarray, shape: tuple[int, int], sample_rate: int) -> np.ndarray:
        channels, samples = shape
        audio = to_channels(resample(audio, self.sample_rate, sample_rate), channels)
        # Resampling there and back can leave the length off by a sample or two.
        if audio.shape[1] >= samples:
            return np.ascontiguousarray(audio[:, :samples])
        return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))


def read_demucs_package(path: Path) -> dict[str, Any]:
    """The package dict of a Demucs model-zoo file, read without unpickling arbitrary objects."""
    from demucs.repo import ModelLoadingError, check_checksum

    named = _CHECKSUMMED_NAME.match(path.name)
    if named:
        try:
            check_checksum(path, named["checksum"])
        except ModelLoadingError as err:
            raise CheckpointError(f"{PARAM}: {err}; the file is truncated or damaged; download it again: {WHERE_FROM}") from err
    try:
        with torch.serialization.safe_globals(_demucs_model_classes()):
            package = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError or EOFError for bad files
        raise CheckpointError(
            f"{PARAM}: {path} cannot be read as a Demucs model package with torch.load(weights_only=True) and demucs's model "
            f"classes allowed: {err}. Expected {WHERE_FROM}") from err
    missing = {"klass", "args", "kwargs", "state"} - set(package) if isinstance(package, dict) else {"a dict"}
    if missing:
        raise CheckpointError(f"{PARAM}: {path} is not a Demucs model package (missing {sorted(missing)}); expected {WHERE_FROM}")
    return package


def _demucs_model_classes() -> list[type]:
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    return [Demucs, HDemucs, HTDemucs]
