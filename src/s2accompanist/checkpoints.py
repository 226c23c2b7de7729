"""Model checkpoints as safetensors files that carry their model config.

Loading never unpickles: weights come from safetensors, the config from the file's JSON
metadata. A truncated or foreign file raises `CheckpointError` naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open, save_file

from .io import atomic_path

CONFIG_KEY = "s2accompanist_config"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, or not one of ours."""


def save_checkpoint(path: str | os.PathLike, state_dict: dict[str, torch.Tensor], config: dict[str, Any]) -> Path:
    """Save weights with `config` (JSON-serialisable) in the file's metadata, atomically."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={CONFIG_KEY: json.dumps(config, sort_keys=True)})
    return Path(path)


def existing_file(path: str | os.PathLike | None, param: str, where_from: str) -> Path:
    """`path` as a Path if it is a file; otherwise a CheckpointError naming `param` and where the file comes from."""
    if path is None:
        raise CheckpointError(f"{param} is null; it must point at {where_from}")
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{param}: checkpoint file {path} does not exist; it comes from {where_from}")
    return path


def load_checkpoint(path: str | os.PathLike, param: str = "checkpoint") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return (state_dict, config). `param` names the params.yaml key that points here, for errors."""
    path = existing_file(path, param, "an s2accompanist training stage (`dvc repro` writes them to data/checkpoints/)")
    try:
        # One open handle for config and weights: a file replaced mid-load (a trainer re-exporting
        # it) then still gives both from the same version.
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state_dict = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{param}: {path} is not a readable safetensors checkpoint (truncated or foreign?): {err}") from err
    if CONFIG_KEY not in metadata:
        raise CheckpointError(f"{param}: {path} has no '{CONFIG_KEY}' metadata; it was not written by s2accompanist.save_checkpoint")
    try:
        config = json.loads(metadata[CONFIG_KEY])
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{param}: {path} has '{CONFIG_KEY}' metadata that is not JSON ({err}); the file was edited or is foreign") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{param}: {path} has a '{CONFIG_KEY}' that is a {type(config).__name__}, not a mapping; the file is foreign")
    return state_dict, config


@contextlib.contextmanager
def fitting(path: str | os.PathLike, param: str, what: str) -> Iterator[None]:
    """Around building `what` from a checkpoint's config and loading its weights: a config field the
    model lacks or does not know, or weights of other names or shapes, become a CheckpointError naming the file."""
    try:
        yield
    except (TypeError, ValueError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"{param}: {path} does not fit {what} (an older or edited checkpoint?): {err}") from err


def file_sha256(path: str | os.PathLike, length: int = 16) -> str:
    """Short content hash, recorded in sidecars and tables to name the exact checkpoint used."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]
