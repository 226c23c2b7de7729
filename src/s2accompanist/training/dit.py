"""Lightning training wrapper for the structure-guided DiT: rectified flow with logit-normal times.

A batch is a dict of tensors (B items, T latent frames, C latent channels, L caption tokens of
width D, S segments of at most Ls caption tokens):

    latents             (B, C, T) float   VAE latents (pre-encoded, see the `encode` stage)
    latent_mask         (B, T)    bool    valid frames; padding is False and carries no loss
    text_tokens         (B, L, D) float   global caption, frozen text encoder tokens
    text_mask           (B, L)    bool    valid caption tokens
    text_pooled         (B, D')   float   pooled caption embedding
    duration_s          (B,)      float   total duration of the piece in seconds
  with a structure-conditioned DiT (DiTConfig.structure), also (see `collate_structure`):
    segment_labels      (B, T)    long    section label index per frame, -1 outside every segment
    segment_position    (B, T)    float   position of the frame within its segment, in (0, 1)
    segment_tokens      (B, S, Ls, D)     each segment caption encoded on its own
    segment_token_mask  (B, S, Ls) bool
    frame_segment       (B, T)    long    index into S of each frame's segment, -1 outside
  with a rhythm-conditioned DiT (DiTConfig.rhythm), also (see `models/rhythm.py`):
    beat_phase, bar_phase (B, T) float  each frame's position in its beat and bar, in [0, 1)
    rhythm_known        (B,)      bool    False for items without a beat grid (they get the null)
  with a key-conditioned DiT (DiTConfig.key), also:
    key_index           (B,)      long    key the caption states (`generation.key_index`), -1 none

Loss: x_t = (1 - t) x0 + t noise, target velocity noise - x0, mean squared error over valid
frames, t = sigmoid(N(logit_normal_mean, logit_normal_std)) (SD3's logit-normal sampling).
Guidance is trained for the way it is used: each item draws one condition set among exactly the
branches the sampler evaluates (`sampling.guided_velocity`): everything kept, structure dropped
(probability `structure_dropout`), or text, key and structure all dropped (`unconditional_dropout`).
Independent text and structure drops would train the unconditional branch, which guidance
weights by 1 - guidance_text, on their product (1 % at 10 % each). The beat grid is dropped
apart from these (`rhythm_dropout`): it is not guided, and its null stands for "no tempo stated". Gradient clipping is the
Trainer's `gradient_clip_val`. EMA weights are updated after every optimiser step; `export`
writes them with the model config.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import lightning as L
import torch

from ..checkpoints import save_checkpoint
from ..models.dit import DiT, DiTConfig
from ..models.rhythm import RHYTHM_KEYS
from ..models.structure import Segment, collate_structure
from .ema import EMA

CONDITION_KEYS = ("latent_mask", "text_tokens", "text_mask", "text_pooled", "duration_s",
                  "segment_labels", "segment_position", "segment_tokens", "segment_token_mask", "frame_segment", *RHYTHM_KEYS, "key_index")


def collate_dit_batch(items: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad items into a batch dict (module docstring). Each item holds `latents` (C, T_i),
    `text_tokens` (L_i, D), `text_pooled` (D',), `duration_s` and optionally `segments`, a list of
    `Segment`s (structure tensors are built when any item has segments) and `beat_phase`,
    `bar_phase` (T_i,) with `rhythm_known` (rhythm tensors are built when any item has them) and
    `key_index` (-1 where an item has none)."""
    if not items:
        raise ValueError("collate_dit_batch needs at least one item")
    n_frames = max(item["latents"].shape[-1] for item in items)
    n_tokens = max(item["text_tokens"].shape[0] for item in items)
    channels, text_dim = items[0]["latents"].shape[0], items[0]["text_tokens"].shape[-1]
    batch = {
        "latents": torch.zeros(len(items), channels, n_frames),
        "latent_mask": torch.zeros(len(items), n_frames, dtype=torch.bool),
        "text_tokens": torch.zeros(len(items), n_tokens, text_dim),
        "text_mask": torch.zeros(len(items), n_tokens, dtype=torch.bool),
        "text_pooled": torch.stack([torch.as_tensor(item["text_pooled"], dtype=torch.float32) for item in items]),
        "duration_s": torch.tensor([float(item["duration_s"]) for item in items]),
    }
    for index, item in enumerate(items):
        frames, tokens = item["latents"].shape[-1], item["text_tokens"].shape[0]
        if tokens == 0:
            raise ValueError(f"item {index} has an empty caption (0 text tokens); every caption needs at least one token")
        batch["latents"][index, :, :frames] = item["latents"]
        batch["latent_mask"][index, :frames] = True
        batch["text_tokens"][index, :tokens] = item["text_tokens"]
        batch["text_mask"][index, :tokens] = True
    segment_lists: list[Sequence[Segment]] = [item.get("segments") or [] for item in items]
    if any(segment_lists):
        batch.update(collate_structure(segment_lists, n_frames))
    if any("beat_phase" in item for item in items):
        for key in ("beat_phase", "bar_phase"):
            batch[key] = torch.zeros(len(items), n_frames)
            for index, item in enumerate(items):
                if key in item:
                    batch[key][index, : item[key].shape[-1]] = torch.as_tensor(item[key], dtype=torch.float32)
        batch["rhythm_known"] = torch.tensor([bool(item.get("rhythm_known", "beat_phase" in item)) for item in items])
    if any("key_index" in item for item in items):
        batch["key_index"] = torch.tensor([int(item.get("key_index", -1)) for item in items])
    return batch


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate factor: linear warm-up to 1 over `warmup_steps`, then cosine decay to 0 at `total_steps`."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def rectified_flow_loss(
    model: DiT,
    batch: dict[str, torch.Tensor],
    times: torch.Tensor,
    noise: torch.Tensor,
    drop_text: torch.Tensor,
    drop_structure: torch.Tensor,
    drop_rhythm: torch.Tensor | bool = False,
) -> torch.Tensor:
    """Masked MSE between the predicted and the true velocity (noise - x0) at `times`."""
    x0 = batch["latents"]
    t = times[:, None, None]
    x_t = (1 - t) * x0 + t * noise
    conditions = {key: batch[key] for key in CONDITION_KEYS if key in batch}
    predicted = model(x_t, times, conditions, drop_text=drop_text, drop_structure=drop_structure, drop_rhythm=drop_rhythm)
    squared_error = (predicted - (noise - x0)).pow(2)
    mask = batch.get("latent_mask")
    if mask is None:
        return squared_error.mean()
    weights = mask[:, None, :].to(squared_error.dtype).expand_as(squared_error)
    return (squared_error * weights).sum() / weights.sum().clamp(min=1.0)


def draw_guidance_branches(batch_size: int, structure_dropout: float, unconditional_dropout: float,
                           device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(drop_text, drop_structure) per item, one draw each: the unconditional branch (both True) with
    probability `unconditional_dropout`, structure only dropped with `structure_dropout`, otherwise
    nothing dropped. Text is never dropped alone: no sampler branch asks for that."""
    u = torch.rand(batch_size, device=device)
    drop_text = u < unconditional_dropout
    drop_structure = u < unconditional_dropout + structure_dropout
    return drop_text, drop_structure


class DiTTrainingWrapper(L.LightningModule):
    """Owns the DiT, its EMA copy and the optimiser; `export(path)` saves the EMA weights for sampling."""

    def __init__(
        self,
        dit_config: dict[str, Any],
        lr: float = 5e-4,
        weight_decay: float = 0.01,
        warmup_steps: int = 50,
        total_steps: int = 600,
        ema_decay: float = 0.99,
        structure_dropout: float = 0.1,
        unconditional_dropout: float = 0.1,
        rhythm_dropout: float = 0.1,
        logit_normal_mean: float = 0.0,
        logit_normal_std: float = 1.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        for name, value in (("structure_dropout", structure_dropout), ("unconditional_dropout", unconditional_dropout),
                            ("rhythm_dropout", rhythm_dropout)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if structure_dropout + unconditional_dropout > 1.0:
            raise ValueError(f"structure_dropout + unconditional_dropout must not exceed 1, got {structure_dropout} + {unconditional_dropout}")
        if warmup_steps < 1 or total_steps < warmup_steps:
            raise ValueError(f"need 1 <= warmup_steps <= total_steps, got warmup_steps={warmup_steps}, total_steps={total_steps}")
        self.config = DiTConfig.from_dict(dit_config)
        self.model = DiT(self.config)
        self.ema = EMA(self.model, ema_decay)

    def forward(self, x: torch.Tensor, t: torch.Tensor, conditions: dict[str, torch.Tensor], **drops: Any) -> torch.Tensor:
        return self.model(x, t, conditions, **drops)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x0 = batch["latents"]
        batch_size, device = x0.shape[0], x0.device
        times = torch.sigmoid(torch.randn(batch_size, device=device) * self.hparams.logit_normal_std + self.hparams.logit_normal_mean)
        noise = torch.randn_like(x0)
        drop_text, drop_structure = draw_guidance_branches(batch_size, self.hparams.structure_dropout,
                                                           self.hparams.unconditional_dropout, device)
        # Drawn only for a rhythm model, so that a model without one sees the random stream it always did.
        drop_rhythm = torch.rand(batch_size, device=device) < self.hparams.rhythm_dropout if self.config.rhythm else False
        loss = rectified_flow_loss(self.model, batch, times, noise, drop_text, drop_structure, drop_rhythm)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size, sync_dist=False)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], batch_size=batch_size)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.ema.update(self.model)

    def configure_optimizers(self) -> dict[str, Any]:
        # Weight decay on matrices only; biases, norms and the learned null embeddings stay undecayed.
        decayed = [p for p in self.model.parameters() if p.ndim >= 2]
        undecayed = [p for p in self.model.parameters() if p.ndim < 2]
        optimizer = torch.optim.AdamW(
            [{"params": decayed, "weight_decay": self.hparams.weight_decay}, {"params": undecayed, "weight_decay": 0.0}],
            lr=self.hparams.lr, betas=(0.9, 0.99),
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, self.hparams.warmup_steps, self.hparams.total_steps)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def export(self, path: str | os.PathLike) -> Path:
        """Save the EMA weights with the DiT config, loadable by `models.dit.load_dit`."""
        return save_checkpoint(path, self.ema.shadow.state_dict(), {"dit": self.config.to_dict()})
