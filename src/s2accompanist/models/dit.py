"""Structure-guided diffusion transformer (DiT) over VAE latents, trained by rectified flow.

One token per latent frame. Each block: self-attention with rotary positions, cross-attention
to text tokens, and an MLP; self-attention and MLP are modulated adaLN-zero style by a global
vector (timestep + pooled text + total duration), cross-attention is pre-normed (PixArt-alpha).

Conditions (`forward`'s `conditions`, the key names of a training batch):
- `text_tokens` (B, L, text_dim), `text_mask` (B, L) bool, `text_pooled` (B, pooled_text_dim):
  the global caption from a frozen text encoder;
- `duration_s` (B,): total duration of the piece in seconds;
- `latent_mask` (B, T) bool, optional: valid (unpadded) frames; padded frames are never attended to;
- with `structure=True`: `segment_labels`, `segment_position`, `segment_tokens`,
  `segment_token_mask`, `frame_segment` as built by `structure.collate_structure`;
- with `rhythm=True`: `beat_phase`, `bar_phase`, `rhythm_known` (see `rhythm.py`), the beat grid
  as a per-frame embedding added to the frame tokens; absent, every item gets the null grid;
- with `key=True`: `key_index` (B,) long, the key the caption states (0..11 major from C, 12..23
  minor, -1 none; `generation.key_index`), as a learned embedding added to the global vector.
  It is part of the caption: dropped with the text, so text guidance weighs it too.

Structure enters twice: a per-frame (section label, position in section) embedding added to the
frame tokens, and the segment captions appended to the cross-attention keys behind a mask that
lets each frame read the global caption and only its own segment's caption.

Classifier-free guidance: `drop_text` replaces the global caption (tokens and pooled) with learned
null embeddings, `drop_structure` replaces the per-frame structure embedding with a learned null
and hides every segment caption; the two are independent, so guidance can weigh them apart.
`drop_rhythm` replaces the beat grid with its learned null; sampling keeps the grid in every
guidance term (it is not guided), training drops it so that the null means "no tempo stated".

`PAPER_DIT_CONFIG` (width 1024, 17 blocks, 16 heads, 64 latent channels, 2048 frames, about
95 s at 21.5 frames/s) has 401.1M parameters, within 0.3 % of the 402M reported for S2Accompanist.
The text width 768 (a T5-base-sized encoder) is our assumption; the paper's encoder is not stated.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ..checkpoints import fitting, load_checkpoint
from .rhythm import RhythmEmbedding
from .structure import SECTION_LABELS, StructureEmbedding, cross_attention_mask, sinusoidal_features

STRUCTURE_KEYS = ("segment_labels", "segment_position", "segment_tokens", "segment_token_mask", "frame_segment")
FOURIER_FEATURES = 256
N_KEYS = 24


@dataclass(frozen=True)
class DiTConfig:
    """Architecture of a DiT; `pooled_text_dim=None` means the pooled text embedding has `text_dim` too."""

    latent_dim: int
    width: int
    depth: int
    heads: int
    text_dim: int
    max_frames: int
    n_section_labels: int = len(SECTION_LABELS)
    structure: bool = True
    rhythm: bool = False
    key: bool = False
    mlp_ratio: float = 4.0
    pooled_text_dim: int | None = None
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("latent_dim", "width", "depth", "heads", "text_dim", "max_frames", "n_section_labels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"DiTConfig.{name} must be a positive integer, got {getattr(self, name)}")
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError(f"DiTConfig.width ({self.width}) must split into {self.heads} heads of even size for rotary embeddings")

    @property
    def pooled_dim(self) -> int:
        return self.text_dim if self.pooled_text_dim is None else self.pooled_text_dim

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DiTConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown DiTConfig keys {unknown}; expected some of {sorted(known)}")
        return cls(**data)


PAPER_DIT_CONFIG = DiTConfig(latent_dim=64, width=1024, depth=17, heads=16, text_dim=768, max_frames=2048)


def rotary_tables(n_frames: int, head_dim: int, base: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables (T, head_dim) for rotary position embeddings over frame indices."""
    frequencies = base ** (-torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    angles = torch.arange(n_frames, device=device, dtype=torch.float32)[:, None] * frequencies
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    rotated = torch.cat([-second, first], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], key_mask: torch.Tensor | None) -> torch.Tensor:
        batch, n_frames, width = x.shape
        q, k, v = self.qkv(x).view(batch, n_frames, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(batch, n_frames, width))


class CrossAttention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, n_frames, width = x.shape
        head_dim = width // self.heads
        q = self.q(x).view(batch, n_frames, self.heads, head_dim).transpose(1, 2)
        k, v = self.kv(context).view(batch, context.shape[1], 2, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
        return self.out(y.transpose(1, 2).reshape(batch, n_frames, width))


class DiTBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float):
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.self_norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.self_attention = SelfAttention(width, heads)
        self.cross_norm = nn.LayerNorm(width, eps=1e-6)
        self.cross_attention = CrossAttention(width, heads)
        self.mlp_norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        # adaLN-zero: starts at zero shift/scale/gate so every block begins as the identity.
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x, global_cond, rotary, frame_mask, context, context_mask):
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.modulation(global_cond).chunk(6, dim=-1)
        x = x + gate_a[:, None] * self.self_attention(modulate(self.self_norm(x), shift_a, scale_a), rotary, frame_mask)
        x = x + self.cross_attention(self.cross_norm(x), context, context_mask)
        return x + gate_m[:, None] * self.mlp(modulate(self.mlp_norm(x), shift_m, scale_m))


class FinalLayer(nn.Module):
    def __init__(self, width: int, latent_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.linear = nn.Linear(width, latent_dim)
        for layer in (self.modulation[1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
        shift, scale = self.modulation(global_cond).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


def fourier_mlp(width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(FOURIER_FEATURES, width), nn.SiLU(), nn.Linear(width, width))


class DiT(nn.Module):
    """Predicts the rectified-flow velocity (noise - x0) for latents x (B, latent_dim, T) at times t (B,)."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        width = config.width
        self.input_projection = nn.Linear(config.latent_dim, width)
        self.time_embedding = fourier_mlp(width)
        self.duration_embedding = fourier_mlp(width)
        self.pooled_projection = nn.Linear(config.pooled_dim, width)
        self.text_projection = nn.Sequential(nn.Linear(config.text_dim, width), nn.SiLU(), nn.Linear(width, width))
        # Learned stand-ins for a dropped caption (one token) and its pooled embedding.
        self.null_text_token = nn.Parameter(torch.randn(config.text_dim) * 0.02)
        self.null_text_pooled = nn.Parameter(torch.randn(config.pooled_dim) * 0.02)
        if config.structure:
            self.structure_embedding = StructureEmbedding(config.n_section_labels, width)
            self.null_structure = nn.Parameter(torch.zeros(width))
        if config.rhythm:
            self.rhythm_embedding = RhythmEmbedding(width)
            self.null_rhythm = nn.Parameter(torch.zeros(width))
        if config.key:
            # 24 keys and one null row (no key stated, or the caption dropped).
            self.key_embedding = nn.Embedding(N_KEYS + 1, width)
            nn.init.normal_(self.key_embedding.weight, std=0.02)
        self.blocks = nn.ModuleList(DiTBlock(width, config.heads, config.mlp_ratio) for _ in range(config.depth))
        self.final_layer = FinalLayer(width, config.latent_dim)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        conditions: Mapping[str, torch.Tensor],
        drop_text: torch.Tensor | bool = False,
        drop_structure: torch.Tensor | bool = False,
        drop_rhythm: torch.Tensor | bool = False,
    ) -> torch.Tensor:
        batch, _, n_frames = x.shape
        if n_frames > self.config.max_frames:
            raise ValueError(f"latents have {n_frames} frames, more than DiTConfig.max_frames={self.config.max_frames}; crop them or raise max_frames")
        drop_text = _per_item(drop_text, batch, x.device)
        drop_structure = _per_item(drop_structure, batch, x.device)

        text_tokens, text_mask, text_pooled = self._global_caption(conditions, drop_text)
        global_cond = (
            self.time_embedding(sinusoidal_features(t * 1000, FOURIER_FEATURES, max_period=10000.0))
            + self.duration_embedding(sinusoidal_features(conditions["duration_s"], FOURIER_FEATURES, max_period=1000.0))
            + self.pooled_projection(text_pooled)
        )
        if self.config.key:
            global_cond = global_cond + self.key_embedding(self._key_rows(conditions, drop_text, batch, x.device))
        tokens = self.input_projection(x.transpose(1, 2))
        if self.config.rhythm:
            tokens = tokens + self._rhythm(conditions, batch, n_frames, _per_item(drop_rhythm, batch, x.device), x.device)
        if self.config.structure:
            tokens, context, context_mask = self._add_structure(tokens, conditions, text_tokens, text_mask, drop_structure)
        else:
            context, context_mask = text_tokens, text_mask[:, None, :].expand(batch, n_frames, -1)
        context = self.text_projection(context)

        # Bool, never float: scaled_dot_product_attention would add a float mask to the scores.
        frame_mask = conditions["latent_mask"].bool() if "latent_mask" in conditions else None
        rotary = rotary_tables(n_frames, self.config.width // self.config.heads, self.config.rope_base, x.device)
        for block in self.blocks:
            tokens = block(tokens, global_cond, rotary, frame_mask, context, context_mask)
        return self.final_layer(tokens, global_cond).transpose(1, 2)

    def _global_caption(self, conditions: Mapping[str, torch.Tensor], drop_text: torch.Tensor):
        text_tokens, text_mask, text_pooled = conditions["text_tokens"], conditions["text_mask"].bool(), conditions["text_pooled"]
        # Applied even when nothing is dropped: the null embeddings stay in the autograd graph, which
        # DDP requires of every parameter at every step (else: "parameters that were not used").
        first_only = torch.zeros_like(text_mask)
        first_only[:, 0] = True
        dropped = drop_text[:, None]
        text_tokens = torch.where(dropped[..., None], self.null_text_token.to(text_tokens.dtype), text_tokens)
        text_mask = torch.where(dropped, first_only, text_mask)
        text_pooled = torch.where(dropped, self.null_text_pooled.to(text_pooled.dtype), text_pooled)
        return text_tokens, text_mask, text_pooled

    def _key_rows(self, conditions, drop_text, batch, device):
        index = conditions["key_index"].long() if "key_index" in conditions else torch.full((batch,), -1, device=device)
        if index.numel() and (index.max() >= N_KEYS or index.min() < -1):
            raise ValueError(f"key_index must lie in [-1, {N_KEYS}), got [{int(index.min())}, {int(index.max())}]")
        return torch.where((index < 0) | drop_text, N_KEYS, index)

    def _rhythm(self, conditions, batch, n_frames, drop_rhythm, device):
        if "beat_phase" in conditions:
            beat_phase, bar_phase = conditions["beat_phase"], conditions["bar_phase"]
            known = conditions["rhythm_known"].bool() if "rhythm_known" in conditions else torch.ones(batch, dtype=torch.bool, device=device)
        else:
            beat_phase = bar_phase = torch.zeros(batch, n_frames, device=device)
            known = torch.zeros(batch, dtype=torch.bool, device=device)
        # Computed even for items that get the null, so that every parameter is used at every step (DDP).
        rhythm = self.rhythm_embedding(beat_phase, bar_phase)
        use_grid = known & ~drop_rhythm
        return torch.where(use_grid[:, None, None], rhythm, self.null_rhythm.to(rhythm.dtype))

    def _add_structure(self, tokens, conditions, text_tokens, text_mask, drop_structure):
        batch, n_frames, _ = tokens.shape
        missing = [key for key in STRUCTURE_KEYS if key not in conditions]
        if missing:
            if not drop_structure.all():
                raise ValueError(f"this DiT has structure=True but the conditions lack {missing}; pass them or drop_structure=True")
            # Structure dropped everywhere: the null embedding and no segment captions.
            return tokens + self.null_structure, text_tokens, text_mask[:, None, :].expand(batch, n_frames, -1)
        structure = self.structure_embedding(conditions["segment_labels"], conditions["segment_position"])
        structure = torch.where(drop_structure[:, None, None], self.null_structure.to(structure.dtype), structure)
        segment_tokens = conditions["segment_tokens"]
        segment_token_mask = conditions["segment_token_mask"].bool() & ~drop_structure[:, None, None]
        context_mask = cross_attention_mask(text_mask, conditions["frame_segment"], segment_token_mask)
        context = torch.cat([text_tokens, segment_tokens.flatten(1, 2).to(text_tokens.dtype)], dim=1)
        return tokens + structure, context, context_mask


def _per_item(flag: torch.Tensor | bool, batch: int, device: torch.device) -> torch.Tensor:
    flag = torch.as_tensor(flag, dtype=torch.bool, device=device)
    return flag.expand(batch) if flag.ndim == 0 else flag


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def load_dit(path: str | os.PathLike, param: str = "dit.checkpoint") -> DiT:
    """Rebuild a DiT from a checkpoint written by `DiTTrainingWrapper.export` (config read from the file)."""
    state_dict, config = load_checkpoint(path, param)
    if "dit" not in config:
        raise ValueError(f"{param}: {path} holds no 'dit' config (keys: {sorted(config)}); it is not an exported DiT")
    with fitting(path, param, "a DiT"):
        dit = DiT(DiTConfig.from_dict(config["dit"]))
        dit.load_state_dict(state_dict)
    return dit.eval()
