"""The `leadsheet` stage: one lead sheet per curated track, and its frame-level targets.

`source: truth` takes the synthetic corpus's ground truth; `source: transcribe` transcribes the
working-rate audio (basic-pitch, chord and beat decoding), as real data needs. Targets are
computed over the whole track at the VAE's latent frame rate, so a training crop that starts on
a frame boundary slices them directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from ..progress import progress

from ..audio import load_audio
from ..io import atomic_path, write_json
from .targets import frame_targets
from .transcription import transcribe
from .validation import score_many


def write_targets(path: Path, targets: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        with tmp.open("wb") as handle:
            np.savez(handle, **targets)


def build_leadsheets(tracks: pd.DataFrame, raw_dir: Path, curated_dir: Path, out_dir: Path, source: str,
                     sample_rate: int, hop_samples: int) -> pd.DataFrame:
    """Write out_dir/<track_id>.json and out_dir/targets/<track_id>.npz; return a per-track summary."""
    frame_rate = sample_rate / hop_samples
    rows = []
    for track in progress(tracks.itertuples(), total=len(tracks), desc=f"lead sheets ({source})", unit="track"):
        audio = load_audio(curated_dir / "audio" / f"{track.track_id}.wav", sample_rate, 1)[0]
        if source == "truth":
            leadsheet = json.loads((raw_dir / track.leadsheet_path).read_text())
        else:
            leadsheet = transcribe(audio, sample_rate)
        leadsheet = {k: leadsheet[k] for k in ("beats", "downbeats", "chords", "melody")}
        write_json(out_dir / f"{track.track_id}.json", leadsheet)
        targets = frame_targets(leadsheet, len(audio) // hop_samples, frame_rate)
        write_targets(out_dir / "targets" / f"{track.track_id}.npz", targets)
        rows.append({"track_id": track.track_id, "frames": len(targets["melody"]), "beats": len(leadsheet["beats"]),
                     "chords": len(leadsheet["chords"]), "melody_notes": len(leadsheet["melody"])})
    return pd.DataFrame(rows)


def validate_transcription(tracks: pd.DataFrame, raw_dir: Path, curated_dir: Path, sample_rate: int) -> pd.DataFrame:
    """Transcribe the test split and score it against the ground-truth lead sheets (mir_eval)."""
    pairs = []
    for track in progress(tracks.itertuples(), total=len(tracks), desc="transcription check", unit="track"):
        audio = load_audio(curated_dir / "audio" / f"{track.track_id}.wav", sample_rate, 1)[0]
        pairs.append((track.track_id, json.loads((raw_dir / track.leadsheet_path).read_text()), transcribe(audio, sample_rate)))
    return score_many(pairs)
