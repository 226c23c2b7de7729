"""The beat grid as a DiT condition: where each latent frame falls inside its beat and its bar.

Tempo stated in words ("at 125 BPM") reaches a small DiT only through a sentence embedding, where
a number is nearly invisible: measured on the embedded default, a DiT conditioned on text and
sections alone kept the requested tempo no more often than its untrained weights. Given the
beat grid itself, frame by frame, the DiT only has to learn where onsets go relative to it.

Conditions (the key names of a DiT batch):
- `beat_phase`, `bar_phase` (B, T) float in [0, 1): position of each frame inside its beat and bar;
- `rhythm_known` (B,) bool: False where no grid is known (a prompt that states no tempo, a track
  without beats), which gets the learned null embedding, as does a dropped grid.

Training takes the grid from the lead sheet's beats and downbeats (`event_phases`); generation
builds a steady grid at the tempo the prompt states (`grid_phases`), in 4/4 from the clip's start.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

RHYTHM_KEYS = ("beat_phase", "bar_phase", "rhythm_known")


def event_phases(frame_times: np.ndarray, events: np.ndarray) -> np.ndarray | None:
    """Phase in [0, 1) of each time between consecutive event times (beats or downbeats), continued
    at the first and last inter-event interval outside them; None with fewer than two events."""
    events = np.asarray(events, dtype=np.float64)
    if len(events) < 2:
        return None
    frame_times = np.asarray(frame_times, dtype=np.float64)
    position = np.interp(frame_times, events, np.arange(len(events), dtype=np.float64))
    before, after = frame_times < events[0], frame_times > events[-1]
    position[before] = (frame_times[before] - events[0]) / (events[1] - events[0])
    position[after] = len(events) - 1 + (frame_times[after] - events[-1]) / (events[-1] - events[-2])
    return np.mod(position, 1.0)


def grid_phases(n_frames: int, frame_rate: float, bpm: float, beats_per_bar: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Beat and bar phases of a steady grid at `bpm` whose first downbeat is frame 0."""
    if bpm <= 0 or beats_per_bar < 1:
        raise ValueError(f"a beat grid needs a positive tempo and beats per bar, got {bpm} BPM and {beats_per_bar}")
    beats = np.arange(n_frames) / frame_rate * bpm / 60.0
    return np.mod(beats, 1.0), np.mod(beats / beats_per_bar, 1.0)


class RhythmEmbedding(nn.Module):
    """Per-frame embedding of (beat phase, bar phase): the first `harmonics` cos/sin harmonics of
    each phase through a small MLP, added to the DiT's frame tokens like the section embedding."""

    def __init__(self, width: int, harmonics: int = 4):
        super().__init__()
        self.register_buffer("harmonics", torch.arange(1, harmonics + 1, dtype=torch.float32), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(4 * harmonics, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, beat_phase: torch.Tensor, bar_phase: torch.Tensor) -> torch.Tensor:
        features = []
        for phase in (beat_phase, bar_phase):
            angles = 2 * math.pi * phase.float()[..., None] * self.harmonics
            features += [torch.cos(angles), torch.sin(angles)]
        return self.mlp(torch.cat(features, dim=-1))
