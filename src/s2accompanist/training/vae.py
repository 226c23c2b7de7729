"""Training wrapper for the semantic-aware VAE: reconstruction + KL + lead-sheet distillation (+ GAN).

A batch is a dict: "audio" (B, C, S) float, and optionally the frame-level lead-sheet targets
"melody", "chord" (B, T) long and "beat", "downbeat" (B, T) float, with T = S // ratio (see
`models.leadsheet_heads` for their vocabulary). Audio is cropped to T * ratio samples.

With `adversarial=True` the wrapper optimises manually: per batch one critic step (hinge loss)
then one generator step (reconstruction + hinge + feature matching). Lightning counts both as
optimizer steps, so `trainer.global_step` advances by 2 per batch and `max_steps` must be
twice the number of batches wanted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.nn.functional import l1_loss

from ..checkpoints import save_checkpoint
from ..models.leadsheet_heads import TASKS, LeadsheetHeads, distillation_losses
from ..models.losses import (
    MelL1Loss,
    MultiResolutionSTFTLoss,
    MultiScaleSTFTDiscriminator,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_hinge_loss,
    kl_divergence,
)
from ..models.oobleck_import import load_oobleck_weights
from ..models.vae import VAE, VAEConfig, load_vae
from .ema import EMA

# Identifies files written by `export`, so the encode stage can refuse something else.
EXPORT_KIND = "s2accompanist.vae"


class VAETrainingWrapper(L.LightningModule):
    def __init__(
        self,
        vae_config: dict[str, Any],
        lr: float = 3e-4,
        betas: tuple[float, float] = (0.8, 0.99),
        kl_weight: float = 1e-4,
        waveform_weight: float = 0.0,
        stft_weight: float = 1.0,
        mel_weight: float = 1.0,
        distill_weights: dict[str, float] | None = None,
        head_channels: int = 64,
        adversarial: bool = False,
        adversarial_weight: float = 0.1,
        feature_matching_weight: float = 5.0,
        stft_fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64, 32),
        discriminator_fft_sizes: tuple[int, ...] = (2048, 1024, 512),
        mel_fft: int = 1024,
        ema_decay: float | None = None,
        pretrained: str | None = None,
        init_checkpoint: str | None = None,
        gradient_clip_val: float | None = None,
    ):
        """`distill_weights` maps "melody" / "chord" / "beat" to weights (0 or absent: off);
        `ema_decay` None or 0 disables EMA; `pretrained` is a local stable-audio-tools Oobleck
        .safetensors to start from; `init_checkpoint` a VAE written by `export` (the base a
        fine-tune starts from). At most one of the two. `gradient_clip_val` clips the norm of
        both optimisers' gradients in adversarial (manual) optimisation, where Lightning refuses to
        clip itself; without a discriminator the Trainer's own clipping applies and this is unused."""
        super().__init__()
        self.save_hyperparameters()
        self.config = VAEConfig.from_dict(vae_config)
        self.vae = VAE(self.config)
        if pretrained is not None and init_checkpoint is not None:
            raise ValueError("give pretrained (an Oobleck file) or init_checkpoint (our export), not both")
        if pretrained is not None:
            load_oobleck_weights(self.vae, pretrained)
        if init_checkpoint is not None:
            base = load_vae(init_checkpoint, "init_checkpoint")
            if base.config != self.config:
                raise ValueError(f"init_checkpoint {init_checkpoint} holds a VAE with config {base.config}; this run needs {self.config}")
            self.vae.load_state_dict(base.state_dict())
        self.distill_weights = {task: float(weight) for task, weight in (distill_weights or {}).items()}
        unknown = sorted(set(self.distill_weights) - set(TASKS))
        if unknown:
            raise ValueError(f"unknown distill_weights {unknown}; expected some of {TASKS}")
        distilling = any(weight != 0.0 for weight in self.distill_weights.values())
        self.heads = LeadsheetHeads(self.config.latent_dim, head_channels) if distilling else None
        self.stft_loss = MultiResolutionSTFTLoss(tuple(stft_fft_sizes))
        self.mel_loss = MelL1Loss(self.config.sample_rate, n_fft=mel_fft, hop=mel_fft // 4)
        self.discriminator = MultiScaleSTFTDiscriminator(self.config.in_channels, tuple(discriminator_fft_sizes)) if adversarial else None
        self.ema = EMA(self.vae, ema_decay) if ema_decay else None
        self.automatic_optimization = not adversarial

    @property
    def exported_vae(self) -> VAE:
        """The weights `export` writes and validation scores: the EMA copy when enabled."""
        return self.ema.shadow if self.ema is not None else self.vae

    def _audio(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        audio = batch["audio"]
        frames = audio.shape[-1] // self.config.downsampling_ratio
        if frames == 0:
            raise ValueError(f"audio of {audio.shape[-1]} samples is shorter than one latent frame ({self.config.downsampling_ratio} samples)")
        return audio[..., : frames * self.config.downsampling_ratio]

    def _losses(self, vae: VAE, batch: dict[str, torch.Tensor], sample_posterior: bool) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Weighted generator-side losses (without the GAN terms), the audio and its reconstruction."""
        audio = self._audio(batch)
        output = vae(audio, sample_posterior=sample_posterior)
        losses = {
            "stft": self.stft_loss(output.reconstruction, audio),
            "mel": self.mel_loss(output.reconstruction, audio),
            "kl": kl_divergence(output.mean, output.std),
            # Only a time-domain term pins the phase: spectral losses alone give waveforms whose
            # SI-SDR is near -60 dB however good their spectrograms are.
            "waveform": l1_loss(output.reconstruction, audio),
        }
        total = (self.hparams.stft_weight * losses["stft"] + self.hparams.mel_weight * losses["mel"]
                 + self.hparams.kl_weight * losses["kl"] + self.hparams.waveform_weight * losses["waveform"])
        if self.heads is not None:
            distill = distillation_losses(self.heads, output.latent, batch, self.distill_weights)
            losses.update({f"distill_{task}": value for task, value in distill.items() if task != "total"})
            total = total + distill["total"]
        losses["loss"] = total
        return losses, audio, output.reconstruction

    def _log_losses(self, stage: str, losses: dict[str, torch.Tensor], batch_size: int) -> None:
        for name, value in losses.items():
            self.log(f"{stage}/{name}", value.detach(), prog_bar=name == "loss", batch_size=batch_size)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        losses, audio, reconstruction = self._losses(self.vae, batch, sample_posterior=True)
        if self.discriminator is None:
            self._log_losses("train", losses, audio.shape[0])
            return losses["loss"]

        generator_optimizer, discriminator_optimizer = self.optimizers()
        critic_loss = discriminator_hinge_loss(self.discriminator(audio), self.discriminator(reconstruction.detach()))
        discriminator_optimizer.zero_grad()
        self.manual_backward(critic_loss)
        self._clip(discriminator_optimizer)
        discriminator_optimizer.step()

        with torch.no_grad():
            real_outputs = self.discriminator(audio)
        fake_outputs = self.discriminator(reconstruction)
        losses["adversarial"] = generator_hinge_loss(fake_outputs)
        losses["feature_matching"] = feature_matching_loss(real_outputs, fake_outputs)
        losses["loss"] = losses["loss"] + self.hparams.adversarial_weight * losses["adversarial"] + self.hparams.feature_matching_weight * losses["feature_matching"]
        generator_optimizer.zero_grad()
        self.manual_backward(losses["loss"])
        self._clip(generator_optimizer)
        generator_optimizer.step()
        losses["discriminator"] = critic_loss
        self._log_losses("train", losses, audio.shape[0])
        return None

    def _clip(self, optimizer) -> None:
        if self.hparams.gradient_clip_val:
            self.clip_gradients(optimizer, gradient_clip_val=self.hparams.gradient_clip_val, gradient_clip_algorithm="norm")

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update(self.vae)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        # The posterior mean makes validation deterministic.
        losses, audio, _ = self._losses(self.exported_vae, batch, sample_posterior=False)
        self._log_losses("val", losses, audio.shape[0])

    def configure_optimizers(self):
        generator_parameters = list(self.vae.parameters()) + (list(self.heads.parameters()) if self.heads is not None else [])
        generator_optimizer = torch.optim.AdamW(generator_parameters, lr=self.hparams.lr, betas=tuple(self.hparams.betas))
        if self.discriminator is None:
            return generator_optimizer
        discriminator_optimizer = torch.optim.AdamW(self.discriminator.parameters(), lr=self.hparams.lr, betas=tuple(self.hparams.betas))
        return [generator_optimizer, discriminator_optimizer]

    def export(self, path: str | os.PathLike) -> Path:
        """Write the VAE (EMA weights when enabled) with its config; `models.vae.load_vae` reads it back."""
        config = {
            "kind": EXPORT_KIND,
            "vae": self.config.to_dict(),
            "ema": self.ema is not None,
            "distill_weights": self.distill_weights,
            "pretrained": self.hparams.pretrained,
            "init_checkpoint": self.hparams.init_checkpoint,
        }
        return save_checkpoint(path, self.exported_vae.state_dict(), config)
