"""A folder corpus (the `folder` source: audio files with optional JSON sidecars) that mixes good
tracks with every kind of bad input named in the corpus issue, for the bad-input DAG test.

Good tracks are the smoke run's synthetic renders, with their tags and caption as sidecars.
Each bad file is named after what is wrong with it. Files that are valid audio in an unusual
form (odd sample rate, channel count, container) must be processed, not rejected.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from s2accompanist.audio import load_audio

# Stems (track ids) of the inputs that must end as rejects; every other input must be processed.
BAD = {
    "corrupt_bytes", "empty_file", "zero_length", "silent", "nan_samples", "inf_samples", "truncated_mp3",
    "too_short", "sidecar_not_json", "sidecar_wrong_types", "sidecar_not_utf8",
}
# A good file at ingest that is overwritten with garbage after the corpus stage accepted it:
# the audio changes between the probe and the full read, so it must be rejected later, at curate.
CHANGES_AFTER_INGEST = "changes_after_ingest"


def _sidecar(track: pd.Series) -> dict:
    return {"caption": track["caption"], **{k: list(track[k]) for k in ("genre", "instrument", "mood")}}


def _write(folder: Path, stem: str, audio: np.ndarray, rate: int, suffix: str = ".wav", subtype: str | None = None,
           sidecar: dict | bytes | None = None) -> None:
    sf.write(folder / f"{stem}{suffix}", audio, rate, subtype=subtype)
    if isinstance(sidecar, dict):
        (folder / f"{stem}.json").write_text(json.dumps(sidecar))
    elif isinstance(sidecar, bytes):
        (folder / f"{stem}.json").write_bytes(sidecar)


def build_bad_corpus(smoke_repo: Path, folder: Path, n_good: int = 8) -> list[str]:
    """Write the corpus into `folder`; return every input's id (file stem)."""
    folder.mkdir(parents=True)
    tracks = pd.read_parquet(smoke_repo / "data/raw/tracks.parquet").sort_values("track_id")
    good = tracks.head(n_good)
    for _, track in good.iterrows():
        audio, rate = sf.read(smoke_repo / "data/raw" / track["audio_path"], dtype="float32", always_2d=True)
        _write(folder, track["track_id"], audio, rate, sidecar=_sidecar(track))
    # Good music in unusual but valid forms, from one more synthetic track.
    spare = tracks.iloc[n_good]
    mono = load_audio(smoke_repo / "data/raw" / spare["audio_path"], 16_000, 1)[0]
    stereo_96k = load_audio(smoke_repo / "data/raw" / spare["audio_path"], 96_000, 2).T
    _write(folder, "odd_rate_7350", load_audio(smoke_repo / "data/raw" / spare["audio_path"], 7350, 1)[0], 7350)
    _write(folder, "six_channels", np.tile(mono[:, None], (1, 6)) * 0.5, 16_000)
    _write(folder, "stereo_96k_flac", stereo_96k, 96_000, suffix=".flac")
    _write(folder, "no_sidecar", mono, 16_000)
    _write(folder, CHANGES_AFTER_INGEST, mono, 16_000)

    (folder / "corrupt_bytes.wav").write_bytes(b"RIFF" + np.random.default_rng(1).bytes(20_000))
    (folder / "empty_file.wav").write_bytes(b"")
    _write(folder, "zero_length", np.zeros((0, 1), np.float32), 16_000)
    _write(folder, "silent", np.zeros((16_000 * 8, 2), np.float32), 16_000)
    with_nan = mono.copy()
    with_nan[1000] = np.nan
    _write(folder, "nan_samples", with_nan, 16_000, subtype="FLOAT")
    with_inf = mono.copy()
    with_inf[-1000] = np.inf
    _write(folder, "inf_samples", with_inf, 16_000, subtype="DOUBLE")
    # Cut-off files. A WAV cut short is still valid audio (libsndfile reads what is there): processed.
    # An MP3 whose header promises more frames than it holds: rejected as truncated.
    for stem, suffix in (("truncated_wav", ".wav"), ("truncated_mp3", ".mp3")):
        _write(folder, stem, mono, 16_000, suffix=suffix)
        whole = (folder / f"{stem}{suffix}").read_bytes()
        (folder / f"{stem}{suffix}").write_bytes(whole[: len(whole) // 3])
    _write(folder, "too_short", mono[:400], 16_000)
    _write(folder, "sidecar_not_json", mono, 16_000, sidecar=b'{"caption": "cut off')
    _write(folder, "sidecar_wrong_types", mono, 16_000, sidecar={"caption": 7, "genre": "rock"})
    _write(folder, "sidecar_not_utf8", mono, 16_000, sidecar=b'{"caption": "caf\xe9"}')
    # Not audio, so not an input at all: must be neither processed nor rejected.
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a picture")
    (folder / "notes.txt").write_text("liner notes")
    return sorted(p.stem for p in folder.iterdir() if p.suffix in (".wav", ".flac", ".mp3"))


def change_after_ingest(folder: Path) -> None:
    """Overwrite the accepted file in place with bytes that are not audio (same size, no header)."""
    path = folder / f"{CHANGES_AFTER_INGEST}.wav"
    path.write_bytes(np.random.default_rng(2).bytes(path.stat().st_size))
