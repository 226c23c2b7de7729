"""A tiny corpus and a random-weight reference CLAP for tests that run the whole curation stage.

The reference CLAP is written in its real export format and loaded by the real code, in this
process and in worker processes alike; the text encoder is the bundled MiniLM (no download).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from curation_synth import abab_song

from s2accompanist.audio import write_audio
from s2accompanist.checkpoints import save_checkpoint
from s2accompanist.models.reference_clap import EXPORT_KIND, ReferenceClap, ReferenceClapConfig

SR = 8000
CURATE = {
    "segment_s_max": 30.0,
    "separation": {"backend": "none", "checkpoint": None},
    "segmentation": {"backend": "classical", "songformer_dir": None, "min_segment_s": 2.0},
    "captioning": {"backend": "facts", "checkpoint": None},
    "quality": {"backend": "signal", "checkpoint": None},
    "alignment": {"backend": "refclap", "checkpoint": None, "tokenizer": None},
    "grade": {"method": "rank_mean", "quality_weight": 0.5, "keep_fraction": 0.5},
}


def curate_params(**steps: dict) -> dict:
    """CURATE with curate.<step> entries updated, e.g. captioning={"checkpoint": "x"}."""
    params = copy.deepcopy(CURATE)
    for step, update in steps.items():
        params[step].update(update)
    return params


def write_refclap(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    config = ReferenceClapConfig(tag_names=("rock", "ambient", "piano", "drums", "happy", "calm"), sample_rate=SR,
                                 n_fft=256, hop_length=64, n_mels=16, channels=(4, 8), embed_dim=16, text_hidden=32,
                                 min_seconds=0.25)
    return save_checkpoint(path, ReferenceClap(config).state_dict(), {"kind": EXPORT_KIND, "model": config.to_dict()})


def write_corpus(raw_dir: Path, n_tracks: int = 3) -> pd.DataFrame:
    """n_tracks 8 s A-B-A-B songs at different levels, plus one silent file that curation must reject."""
    audio, _ = abab_song(section_s=2.0, sr=SR)
    rows = []
    for number in range(n_tracks):
        write_audio(raw_dir / f"t{number}.wav", (1.0 - 0.2 * number) * audio[None], SR)
        rows.append({"track_id": f"t{number}", "audio_path": f"t{number}.wav", "split": "train",
                     "caption": f"song {number} with piano"})
    write_audio(raw_dir / "quiet.wav", np.zeros((1, 4 * SR), dtype=np.float32), SR)
    rows.append({"track_id": "quiet", "audio_path": "quiet.wav", "split": "test", "caption": "nothing"})
    return pd.DataFrame(rows)
