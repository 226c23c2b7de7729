"""Load a pretrained stable-audio-tools Oobleck autoencoder (local .safetensors) into our `VAE`.

stable-audio-tools builds its encoder and decoder as flat `nn.Sequential`s, so its keys are
positional; ours are named. With D = len(strides), blocks counted i = 0..D-1 (decoder blocks
from the deepest, as both implementations order them) and residual units r = 0, 1, 2:

    stable-audio-tools                      s2accompanist
    encoder.layers.0                        encoder.input_conv
    encoder.layers.{i+1}.layers.{r}         encoder.blocks.{i}.residuals.{r}
    encoder.layers.{i+1}.layers.3           encoder.blocks.{i}.act
    encoder.layers.{i+1}.layers.4           encoder.blocks.{i}.downsample
    encoder.layers.{D+1}                    encoder.output_act
    encoder.layers.{D+2}                    encoder.output_conv
    decoder.layers.0                        decoder.input_conv
    decoder.layers.{i+1}.layers.0           decoder.blocks.{i}.act
    decoder.layers.{i+1}.layers.1           decoder.blocks.{i}.upsample
    decoder.layers.{i+1}.layers.{r+2}       decoder.blocks.{i}.residuals.{r}
    decoder.layers.{D+1}                    decoder.output_act
    decoder.layers.{D+2}                    decoder.output_conv
    (inside a residual unit) layers.0/1/2/3 act_in / conv_dilated / act_out / conv_pointwise

Parameters: `weight_g` / `weight_v` (the old `torch.nn.utils.weight_norm`) or
`parametrizations.weight.original0` / `original1` (the new one) both become our
`parametrizations.weight.original0` / `original1`; `bias`, Snake `alpha` / `beta` keep their names.

Files may carry a prefix before `encoder.` (`autoencoder.` in a training-wrapper checkpoint,
`pretransform.model.` in a diffusion checkpoint); it is detected and keys outside it (a
discriminator, a diffusion model) are ignored. The bottleneck of an Oobleck VAE has no weights.

Not checkable from weights, so check it in the model config: `use_snake: true`, and
`final_tanh: false` in the decoder (ours has no output tanh), as in Stable Audio Open.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from .vae import VAE, VAEConfig

_OLD_WEIGHT_NORM = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}


class OobleckImportError(ValueError):
    """A file is not a stable-audio-tools Oobleck autoencoder matching the requested config."""


def oobleck_module_mapping(config: VAEConfig) -> dict[str, str]:
    """Module-path mapping stable-audio-tools -> s2accompanist for `config` (the table above)."""
    depth = len(config.strides)
    mapping = {
        "encoder.layers.0": "encoder.input_conv",
        f"encoder.layers.{depth + 1}": "encoder.output_act",
        f"encoder.layers.{depth + 2}": "encoder.output_conv",
        "decoder.layers.0": "decoder.input_conv",
        f"decoder.layers.{depth + 1}": "decoder.output_act",
        f"decoder.layers.{depth + 2}": "decoder.output_conv",
    }
    unit_parts = {0: "act_in", 1: "conv_dilated", 2: "act_out", 3: "conv_pointwise"}
    for i in range(depth):
        encoder_block, decoder_block = f"encoder.layers.{i + 1}.layers", f"decoder.layers.{i + 1}.layers"
        mapping[f"{encoder_block}.3"] = f"encoder.blocks.{i}.act"
        mapping[f"{encoder_block}.4"] = f"encoder.blocks.{i}.downsample"
        mapping[f"{decoder_block}.0"] = f"decoder.blocks.{i}.act"
        mapping[f"{decoder_block}.1"] = f"decoder.blocks.{i}.upsample"
        for r in range(3):
            for position, part in unit_parts.items():
                mapping[f"{encoder_block}.{r}.layers.{position}"] = f"encoder.blocks.{i}.residuals.{r}.{part}"
                mapping[f"{decoder_block}.{r + 2}.layers.{position}"] = f"decoder.blocks.{i}.residuals.{r}.{part}"
    return mapping


def convert_oobleck_state_dict(source: dict[str, torch.Tensor], config: VAEConfig, origin: str = "state dict") -> dict[str, torch.Tensor]:
    """Rename a stable-audio-tools Oobleck state dict to our `VAE`'s keys; `origin` names it in errors."""
    prefix = _detect_prefix(source, origin)
    modules = oobleck_module_mapping(config)
    converted: dict[str, torch.Tensor] = {}
    for key in sorted(source):
        if not key.startswith(prefix):
            continue
        module, _, param = key[len(prefix) :].rpartition(".")
        if param in ("original0", "original1") and module.endswith(".parametrizations.weight"):
            module, param = module[: -len(".parametrizations.weight")], f"parametrizations.weight.{param}"
        if module not in modules:
            raise OobleckImportError(
                f"{origin}: key '{key}' has no counterpart in an Oobleck VAE with strides {config.strides}; "
                "is the file for another architecture or another number of strides?"
            )
        converted[f"{modules[module]}.{_OLD_WEIGHT_NORM.get(param, param)}"] = source[key]
    return converted


def load_oobleck_weights(vae: VAE, path: str | os.PathLike, param: str = "vae.pretrained") -> VAE:
    """Load a stable-audio-tools Oobleck autoencoder from local safetensors into `vae`, in place."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{param}: {path} does not exist; point it at a local .safetensors export of a stable-audio-tools "
            "Oobleck autoencoder (e.g. Stable Audio Open's VAE), or set it to null to train from scratch"
        )
    try:
        source = load_file(str(path))
    except Exception as err:  # safetensors raises its own error type for foreign files
        raise OobleckImportError(f"{param}: {path} is not a readable safetensors file ({err}); convert a .ckpt with safetensors.torch.save_file") from err
    converted = convert_oobleck_state_dict(source, vae.config, origin=f"{param}: {path}")
    expected = vae.state_dict()
    missing = sorted(set(expected) - set(converted))
    if missing:
        raise OobleckImportError(f"{param}: {path} lacks weights for '{missing[0]}' ({len(missing)} missing in all)")
    for key, tensor in converted.items():
        if tensor.shape != expected[key].shape:
            raise OobleckImportError(
                f"{param}: {path}: '{key}' has shape {tuple(tensor.shape)}, the config {vae.config} needs {tuple(expected[key].shape)}"
            )
    vae.load_state_dict(converted)
    return vae


def to_oobleck_state_dict(vae: VAE) -> dict[str, torch.Tensor]:
    """Our `VAE`'s weights under stable-audio-tools Oobleck keys (new-style weight norm): the
    inverse of `convert_oobleck_state_dict`, so a base trained here is stored in the format the
    paper profile's pretrained autoencoder comes in, and both load through the same code."""
    to_theirs = {ours: theirs for theirs, ours in oobleck_module_mapping(vae.config).items()}
    converted = {}
    for key, tensor in vae.state_dict().items():
        module, _, param = key.rpartition(".")
        if module.endswith(".parametrizations.weight"):
            module, param = module[: -len(".parametrizations.weight")], f"parametrizations.weight.{param}"
        converted[f"{to_theirs[module]}.{param}"] = tensor.detach().contiguous().cpu()
    return converted


def _detect_prefix(source: dict[str, torch.Tensor], origin: str) -> str:
    anchors = [m.group(1) for key in source if (m := re.match(r"^(|.*\.)encoder\.layers\.0\.", key))]
    if not anchors:
        first = next(iter(sorted(source)), "<empty>")
        raise OobleckImportError(f"{origin}: no 'encoder.layers.0.' key found (first key: '{first}'); not a stable-audio-tools Oobleck autoencoder")
    return min(anchors, key=len)
