"""The in-domain reference CLAP: a small contrastive audio-text model with concept-tag heads.

The embedded default profile cannot download LAION-CLAP or MuQ-MuLan, yet curation needs an
alignment grader and concept tagger, and evaluation needs an audio-text embedding space. This
model fills those roles; it is trained on the corpus's own captions (stage `refclap`): per section
where the corpus annotates sections, else per window of each track with the track's caption or tags.

Audio branch: log-mel spectrogram (torch STFT, librosa mel filterbank) -> residual conv blocks,
each halving frequency and time -> mean over frequency -> mean + max over time (so any length
from `min_seconds` up works) -> linear projection to `embed_dim`. Text branch: an MLP on frozen
384-d sentence embeddings (all-MiniLM-L6-v2, computed by the caller). Both sides are
L2-normalised; a learnable temperature scales their cosine similarities. Tag heads: one sigmoid
logit per entry of `tag_names`, read off the (unnormalised) audio projection so the tags live in
the same space the embedding does.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import librosa
import torch
from torch import nn
from torch.nn.functional import normalize

from ..checkpoints import CheckpointError, fitting, load_checkpoint

# Identifies files written by `ReferenceClapTrainingWrapper.export`.
EXPORT_KIND = "s2accompanist.reference_clap"
# CLIP's initial temperature and its cap on the logit scale (beyond 100 training destabilises).
INITIAL_TEMPERATURE = 0.07
MAX_LOGIT_SCALE = 100.0
# Floor of the mel power before the log: silence maps to a finite value.
LOG_FLOOR = 1e-10


@dataclass(frozen=True)
class ReferenceClapConfig:
    """Architecture and input format. `channels[i]` is the width of conv block i; every block
    halves both mel bins and frames, so `n_mels` must be divisible by 2 ** len(channels)."""

    tag_names: tuple[str, ...]
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 64
    channels: tuple[int, ...] = (16, 32, 64, 128)
    embed_dim: int = 128
    text_dim: int = 384
    text_hidden: int = 256
    min_seconds: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tag_names", tuple(str(t) for t in self.tag_names))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if not self.tag_names or len(set(self.tag_names)) != len(self.tag_names):
            raise ValueError(f"ReferenceClapConfig.tag_names must be non-empty and unique, got {list(self.tag_names)}")
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels", "embed_dim", "text_dim", "text_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"ReferenceClapConfig.{name} must be positive, got {getattr(self, name)}")
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"ReferenceClapConfig.channels must be positive widths, got {self.channels}")
        reduction = 2 ** len(self.channels)
        if self.n_mels % reduction:
            raise ValueError(
                f"ReferenceClapConfig.n_mels={self.n_mels} is not divisible by 2 ** len(channels) = {reduction}; "
                f"use a multiple of {reduction} or fewer blocks"
            )
        if self.min_frames > self.min_samples // self.hop_length + 1:
            raise ValueError(
                f"ReferenceClapConfig.min_seconds={self.min_seconds} gives fewer than {self.min_frames} frames "
                f"at hop {self.hop_length}; raise min_seconds or use fewer blocks"
            )

    @property
    def min_frames(self) -> int:
        """Frames the conv tower needs to leave at least one frame after its poolings."""
        return 2 ** len(self.channels)

    @property
    def min_samples(self) -> int:
        return max(self.n_fft, math.ceil(self.min_seconds * self.sample_rate))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tag_names"], data["channels"] = list(self.tag_names), list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ReferenceClapConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ReferenceClapConfig keys {unknown}; expected some of {sorted(known)}")
        return cls(**data)


class LogMelSpectrogram(nn.Module):
    """(B, S) waveform -> (B, 1, n_mels, frames) log mel power. Filterbank and window are
    rebuilt from the config, so they are non-persistent buffers, not checkpoint weights."""

    def __init__(self, config: ReferenceClapConfig):
        super().__init__()
        self.n_fft, self.hop_length = config.n_fft, config.hop_length
        filterbank = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels)
        self.register_buffer("filterbank", torch.from_numpy(filterbank).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(audio, self.n_fft, self.hop_length, window=self.window, center=True, return_complex=True)
        mel = torch.matmul(self.filterbank, spectrum.abs().pow(2))
        return torch.log(mel.clamp_min(LOG_FLOOR)).unsqueeze(1)


class ConvBlock(nn.Module):
    """Two 3x3 convs with a residual path, then 2x2 average pooling. GroupNorm rather than
    BatchNorm: per-clip statistics keep embeddings independent of batch composition."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        groups = math.gcd(8, out_channels)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.GroupNorm(groups, out_channels), nn.GELU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.GroupNorm(groups, out_channels),
        )
        self.skip = nn.Conv2d(in_channels, out_channels, 1)
        self.activation = nn.GELU()
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.activation(self.body(x) + self.skip(x)))


class AudioEncoder(nn.Module):
    """(B, S) waveform -> (B, embed_dim) unnormalised projection."""

    def __init__(self, config: ReferenceClapConfig):
        super().__init__()
        self.melspec = LogMelSpectrogram(config)
        widths = (1, *config.channels)
        self.blocks = nn.Sequential(*(ConvBlock(a, b) for a, b in zip(widths[:-1], widths[1:])))
        # Mean and max over time: the mean summarises texture, the max keeps sparse events (hits, fills).
        self.projection = nn.Linear(2 * config.channels[-1], config.embed_dim)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.melspec(audio)).mean(dim=2)
        pooled = torch.cat([features.mean(dim=-1), features.amax(dim=-1)], dim=-1)
        return self.projection(pooled)


class ReferenceClap(nn.Module):
    def __init__(self, config: ReferenceClapConfig):
        super().__init__()
        self.config = config
        self.audio_encoder = AudioEncoder(config)
        self.text_projection = nn.Sequential(
            nn.Linear(config.text_dim, config.text_hidden), nn.GELU(), nn.Linear(config.text_hidden, config.embed_dim),
        )
        self.tag_head = nn.Linear(config.embed_dim, len(config.tag_names))
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / INITIAL_TEMPERATURE)))

    @property
    def tag_names(self) -> tuple[str, ...]:
        return self.config.tag_names

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def logit_scale(self) -> torch.Tensor:
        return self.log_logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()

    def _check_audio(self, audio: torch.Tensor) -> None:
        if audio.ndim != 2:
            raise ValueError(f"audio must be (batch, samples) mono at {self.sample_rate} Hz, got shape {tuple(audio.shape)}")
        if audio.shape[-1] < self.config.min_samples:
            raise ValueError(
                f"audio of {audio.shape[-1]} samples ({audio.shape[-1] / self.sample_rate:.2f} s) is shorter than the "
                f"{self.config.min_samples} samples ({self.config.min_seconds} s at {self.sample_rate} Hz) the reference CLAP needs"
            )

    def audio_projection(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, embed_dim) before normalisation; shared by the embedding and the tag heads."""
        self._check_audio(audio)
        return self.audio_encoder(audio)

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, S) mono waveform at `sample_rate` -> (B, embed_dim) L2-normalised."""
        return normalize(self.audio_projection(audio), dim=-1)

    def embed_text(self, text_emb: torch.Tensor) -> torch.Tensor:
        """(B, text_dim) frozen sentence embeddings -> (B, embed_dim) L2-normalised."""
        if text_emb.ndim != 2 or text_emb.shape[-1] != self.config.text_dim:
            raise ValueError(f"text embeddings must be (batch, {self.config.text_dim}), got shape {tuple(text_emb.shape)}")
        return normalize(self.text_projection(text_emb), dim=-1)

    def tag_logits(self, audio: torch.Tensor) -> torch.Tensor:
        return self.tag_head(self.audio_projection(audio))

    def tag_probabilities(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, len(tag_names)) independent probabilities, in `tag_names` order."""
        return torch.sigmoid(self.tag_logits(audio))

    def embed_audio_with_tags(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`embed_audio` and `tag_probabilities` from one encoder pass (curation needs both per segment)."""
        projection = self.audio_projection(audio)
        return normalize(projection, dim=-1), torch.sigmoid(self.tag_head(projection))

    def forward(self, audio: torch.Tensor, text_emb: torch.Tensor) -> dict[str, torch.Tensor]:
        """One pass for training: both embeddings and the tag logits from a single audio encoding."""
        projection = self.audio_projection(audio)
        return {
            "audio": normalize(projection, dim=-1),
            "text": self.embed_text(text_emb),
            "tag_logits": self.tag_head(projection),
        }


def load_reference_clap(path: str | os.PathLike, param: str = "refclap.checkpoint") -> ReferenceClap:
    """Rebuild a ReferenceClap (eval mode) from a file written by `ReferenceClapTrainingWrapper.export`."""
    if not Path(path).is_file():
        raise CheckpointError(
            f"{param}: reference CLAP checkpoint {path} does not exist; the `refclap` stage writes it "
            "(run `dvc repro refclap`), or point this parameter at an exported reference CLAP"
        )
    state_dict, config = load_checkpoint(path, param)
    if config.get("kind") != EXPORT_KIND or "model" not in config:
        raise CheckpointError(
            f"{param}: {path} is not an exported reference CLAP (kind {config.get('kind')!r}, keys {sorted(config)}); "
            f"expected kind {EXPORT_KIND!r}"
        )
    with fitting(path, param, "a reference CLAP"):
        model = ReferenceClap(ReferenceClapConfig.from_dict(config["model"]))
        model.load_state_dict(state_dict)
    return model.eval()
