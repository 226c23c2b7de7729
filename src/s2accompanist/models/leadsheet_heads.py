"""Semantic distillation heads: predict frame-level lead-sheet targets from the VAE latent.

Training the VAE with these heads pushes melody, harmony and rhythm into the latent the DiT
models (the paper's "semantic-aware VAE"). The heads are discarded after training.

Frame-level target vocabulary, one value per latent frame (T = samples // downsampling ratio):
- melody: `melody_class(midi)`: MIDI 36..95 -> 0..59, `MELODY_UNVOICED` (60) for no melody note.
- chord: `chord_class(root, quality)`: root pitch class 0..11 (C = 0) x `CHORD_QUALITIES`
  -> root * 7 + quality index (0..83); `NO_CHORD` (84).
- beat, downbeat: 1.0 on the frame nearest a beat / downbeat, else 0.0.
A frame whose target is unknown holds `IGNORE_INDEX` (-100) in every target; such frames add
nothing to the loss.

What the heads are taught is coarser than that vocabulary, because a 16-channel latent frame of
16 ms cannot be expected to hold an exact MIDI note or one of 85 chords (probes of the earlier
heads, taught the full vocabulary, stayed at the majority class for chords):
- melody: pitch class of the top note, or unvoiced (`melody_pitch_class`: 13 classes); the
  octave is left to the decoder;
- chord: root and major / minor by the third (`chord_root_majmin`: 25 classes, mir_eval's
  "majmin" reduction; sevenths, diminished and augmented fold into it);
- beat, downbeat: the spike widened to +-1 frame (+-16 ms at the default frame rate) and the
  rare positives weighted up to balance the negatives (about 3 % of frames are beats).
The vae stage's probes read the same reductions, so they measure what the heads teach.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits, cross_entropy

MELODY_MIDI_LOW, MELODY_MIDI_HIGH = 36, 95
MELODY_UNVOICED = MELODY_MIDI_HIGH - MELODY_MIDI_LOW + 1
N_MELODY_CLASSES = MELODY_UNVOICED + 1
# Triads and the three common sevenths: what a lead sheet of pop / jazz-lite instrumentals names.
CHORD_QUALITIES = ("maj", "min", "dim", "aug", "maj7", "min7", "7")
NO_CHORD = 12 * len(CHORD_QUALITIES)
N_CHORD_CLASSES = NO_CHORD + 1
IGNORE_INDEX = -100
TASKS = ("melody", "chord", "beat")
N_MELODY_PITCH_CLASSES = 13  # 12 pitch classes + unvoiced
N_CHORD_MAJMIN_CLASSES = 25  # 12 roots x (maj, min) + no chord
_MINOR_QUALITIES = tuple(CHORD_QUALITIES.index(q) for q in ("min", "dim", "min7"))  # a minor third
BEAT_WIDTH_FRAMES = 1  # a beat target covers its frame and this many frames each side


def melody_class(midi: int | None) -> int:
    """Melody class of a MIDI note number (None = unvoiced); notes outside 36..95 fold by octaves into range."""
    if midi is None:
        return MELODY_UNVOICED
    while midi < MELODY_MIDI_LOW:
        midi += 12
    while midi > MELODY_MIDI_HIGH:
        midi -= 12
    return midi - MELODY_MIDI_LOW


def chord_class(root: int | None, quality: str | None = None) -> int:
    """Chord class of a root pitch class (0..11) and a quality in `CHORD_QUALITIES`; root None = no chord."""
    if root is None:
        return NO_CHORD
    if quality not in CHORD_QUALITIES:
        raise ValueError(f"unknown chord quality {quality!r}; map it to one of {CHORD_QUALITIES} first")
    return (root % 12) * len(CHORD_QUALITIES) + CHORD_QUALITIES.index(quality)


def melody_pitch_class(melody):
    """Melody classes (`melody_class`) -> pitch class 0..11 (MIDI 36 is a C), 12 unvoiced; IGNORE_INDEX kept.
    Works on numpy arrays and torch tensors alike."""
    voiced = (melody != IGNORE_INDEX) & (melody != MELODY_UNVOICED)
    reduced = melody * 0 + 12
    reduced[voiced] = melody[voiced] % 12  # MELODY_MIDI_LOW = 36 is a multiple of 12
    reduced[melody == IGNORE_INDEX] = IGNORE_INDEX
    return reduced


def chord_root_majmin(chord):
    """Chord classes (`chord_class`) -> root * 2 + (1 if minor), 24 no chord; IGNORE_INDEX kept."""
    known = (chord != IGNORE_INDEX) & (chord != NO_CHORD)
    reduced = chord * 0 + 24
    root, quality = chord[known] // len(CHORD_QUALITIES), chord[known] % len(CHORD_QUALITIES)
    minor = sum((quality == q) * 1 for q in _MINOR_QUALITIES)
    reduced[known] = root * 2 + minor
    reduced[chord == IGNORE_INDEX] = IGNORE_INDEX
    return reduced


def widen_events(activation: torch.Tensor, width: int = BEAT_WIDTH_FRAMES) -> torch.Tensor:
    """(B, T) 0/1 spikes -> 1 within `width` frames of a spike; IGNORE_INDEX frames kept as they are."""
    ignored = activation == IGNORE_INDEX
    spikes = torch.where(ignored, torch.zeros_like(activation), activation).float()
    widened = torch.nn.functional.max_pool1d(spikes[:, None], 2 * width + 1, stride=1, padding=width)[:, 0]
    return torch.where(ignored, activation.float(), widened)


def frame_head(latent_dim: int, hidden: int, n_outputs: int) -> nn.Module:
    """Two 3-tap convs (2 frames of context each side) and a classifier: small, so the latent must carry the information."""
    return nn.Sequential(
        nn.Conv1d(latent_dim, hidden, 3, padding=1),
        nn.GELU(),
        nn.Conv1d(hidden, hidden, 3, padding=1),
        nn.GELU(),
        nn.Conv1d(hidden, n_outputs, 1),
    )


class LeadsheetHeads(nn.Module):
    """Latent (B, latent_dim, T) -> logits: melody pitch class (B, 13, T), chord root and major/minor
    (B, 25, T), beat (B, 2, T) [beat, downbeat]."""

    def __init__(self, latent_dim: int, hidden: int = 64):
        super().__init__()
        self.melody = frame_head(latent_dim, hidden, N_MELODY_PITCH_CLASSES)
        self.chord = frame_head(latent_dim, hidden, N_CHORD_MAJMIN_CLASSES)
        self.beat = frame_head(latent_dim, hidden, 2)

    def forward(self, latent: torch.Tensor, tasks: tuple[str, ...] = TASKS) -> dict[str, torch.Tensor]:
        return {task: getattr(self, task)(latent) for task in tasks}


def distillation_losses(
    heads: LeadsheetHeads, latent: torch.Tensor, targets: dict[str, torch.Tensor], weights: dict[str, float]
) -> dict[str, torch.Tensor]:
    """Per-task losses and their weighted sum under "total".

    A task runs only if its weight is non-zero and its target is in `targets` ("beat" needs
    "beat" and uses "downbeat" when present), so a zero weight (the ablation) costs nothing and
    sends no gradient to that head. Targets are (B, T) in the stored vocabulary (long classes for
    melody / chord, 0/1 floats for beat / downbeat; `IGNORE_INDEX` marks unknown frames) and are
    reduced here to what the heads are taught (the module docstring).
    """
    unknown = sorted(set(weights) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown distillation weights {unknown}; expected some of {TASKS}")
    active = tuple(t for t in TASKS if weights.get(t, 0.0) != 0.0 and t in targets)
    for task in active:
        if targets[task].shape != (latent.shape[0], latent.shape[-1]):
            raise ValueError(
                f"'{task}' target has shape {tuple(targets[task].shape)}, expected (batch, latent frames) = {(latent.shape[0], latent.shape[-1])}"
            )
    logits = heads(latent, active)
    losses = {}
    for task in active:
        if task == "beat":
            downbeat = targets.get("downbeat")
            losses[task] = _beat_loss(logits[task], widen_events(targets["beat"]), None if downbeat is None else widen_events(downbeat))
        elif task == "melody":
            losses[task] = _class_loss(logits[task], melody_pitch_class(targets[task].long()))
        else:
            losses[task] = _class_loss(logits[task], chord_root_majmin(targets[task].long()))
    losses["total"] = sum((weights[t] * losses[t] for t in active), latent.new_zeros(()))
    return losses


def _class_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if not (target != IGNORE_INDEX).any():
        # cross_entropy would return NaN (0 / 0); a batch with no labels just teaches nothing.
        return logits.sum() * 0.0
    return cross_entropy(logits, target.long(), ignore_index=IGNORE_INDEX)


def _beat_loss(logits: torch.Tensor, beat: torch.Tensor, downbeat: torch.Tensor | None) -> torch.Tensor:
    channels = [(logits[:, 0], beat)] + ([(logits[:, 1], downbeat)] if downbeat is not None else [])
    logits_known = torch.cat([lg[tg != IGNORE_INDEX] for lg, tg in channels])
    targets_known = torch.cat([tg[tg != IGNORE_INDEX] for _, tg in channels]).float()
    if targets_known.numel() == 0:
        return logits.sum() * 0.0
    # Positives weighted by the batch's negative-to-positive ratio: unweighted, answering "no beat"
    # everywhere is nearly optimal and teaches the latent nothing.
    positives = targets_known.sum()
    pos_weight = ((targets_known.numel() - positives) / positives.clamp(min=1.0)).clamp(min=1.0)
    return binary_cross_entropy_with_logits(logits_known, targets_known, pos_weight=pos_weight)
