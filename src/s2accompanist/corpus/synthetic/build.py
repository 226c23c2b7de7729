"""Build the synthetic corpus: compose, render, damage a recorded few, write files and tables.

Song i draws only from random streams seeded by (seed, i, purpose), and its split from a hash of
(seed, track_id), so song i and its split are the same whatever n_songs is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ...audio import write_audio
from ...io import atomic_path, write_json, write_parquet
from ...progress import progress as progress_bar, progress_message
from .captions import section_caption, track_caption
from .composer import compose_song
from .config import SyntheticCorpusConfig
from .defects import damage_mix, vocal_part
from .midi import song_to_midi
from .renderer import draw_pans, render_stems, render_stems_fluidsynth, require_fluidsynth
from .song import Section, Song

SPLITS = ("train", "valid", "test")
# Purposes of the per-song random streams; fixed numbers so adding one never shifts the others.
_COMPOSE, _MIX, _CAPTION, _DEFECT, _DECOY = range(5)
_GOLDEN = 0.6180339887498949


def track_id(index: int) -> str:
    return f"syn_{index:05d}"


def split_of(seed: int, track: str, fractions: tuple[float, float, float]) -> str:
    """Split from a hash of (seed, track id): stable when the corpus grows."""
    digest = hashlib.sha256(f"{seed}:{track}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return SPLITS[0] if u < fractions[0] else SPLITS[1] if u < fractions[0] + fractions[1] else SPLITS[2]


def defect_of(config: SyntheticCorpusConfig, index: int) -> str:
    """The defect kind of song `index`, or "" for none.

    A golden-ratio sequence rather than coin flips: every prefix of the corpus holds close to
    `defect_fraction` defective songs, so even the 12-song smoke corpus gets some.
    """
    if not config.defect_kinds:
        return ""
    offset = np.random.default_rng([config.seed, _DEFECT]).random()
    u = (offset + index * _GOLDEN) % 1.0
    if u >= config.defect_fraction:
        return ""
    # u / defect_fraction is itself evenly spread over [0, 1), so the kinds come out balanced too.
    return config.defect_kinds[min(len(config.defect_kinds) - 1, int(u / config.defect_fraction * len(config.defect_kinds)))]


def build_synthetic_corpus(config: SyntheticCorpusConfig, out_dir: Path, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Write audio/, stems/, midi/, leadsheets/, tracks.parquet and sections.parquet under `out_dir`.

    Returns {"tracks": ..., "sections": ...}, the frames written to the two tables.
    """
    out_dir = Path(out_dir)
    if config.renderer == "fluidsynth":
        require_fluidsynth(config.soundfont)  # fail before composing anything
    track_rows, section_rows = [], []
    started = time.perf_counter()
    for index in progress_bar(range(config.n_songs), desc="synthetic corpus", unit="song", disable=not progress):
        track_row, song_sections = _build_song(config, index, out_dir)
        track_rows.append(track_row)
        section_rows.extend(song_sections)
    tracks = pd.DataFrame(track_rows)
    sections = pd.DataFrame(section_rows)
    write_parquet(out_dir / "tracks.parquet", tracks)
    write_parquet(out_dir / "sections.parquet", sections)
    if progress:
        progress_message(f"synthetic corpus: {config.n_songs} songs in {time.perf_counter() - started:.1f} s -> {out_dir}")
    return {"tracks": tracks, "sections": sections}


def _build_song(config: SyntheticCorpusConfig, index: int, out_dir: Path) -> tuple[dict, list[dict]]:
    track = track_id(index)
    song = compose_song(np.random.default_rng([config.seed, index, _COMPOSE]), index, config.duration_s_min, config.duration_s_max)
    defect = defect_of(config, index)
    parts = dict(song.parts)
    stem_instruments = dict(song.stem_instruments)
    if defect == "vocal_lead":
        parts["vocal"] = vocal_part(song)
        stem_instruments["vocal"] = "vocal"

    sr = config.sample_rate
    if config.renderer == "fluidsynth":
        stems = render_stems_fluidsynth(parts, stem_instruments, song.duration_s, sr, song.tempo_bpm, config.soundfont)
    else:
        pans = draw_pans(np.random.default_rng([config.seed, index, _MIX]), list(parts))
        stems = render_stems(parts, stem_instruments, song.duration_s, sr, pans)
    mix = sum(stems.values())
    defect_detail: dict = {}
    if defect in ("noise", "clipping", "bandlimit", "dropout"):
        mix, defect_detail = damage_mix(np.random.default_rng([config.seed, index, _DEFECT, 1]), defect, mix, sr)

    caption_rng = np.random.default_rng([config.seed, index, _CAPTION])
    described = _decoy_song(config, song) if defect == "caption_swap" else song
    if defect == "caption_swap":
        defect_detail = {"caption_from": f"a {described.mood} {described.genre} song in {described.key.label}"}
    caption = track_caption(caption_rng, described)
    section_captions = [section_caption(caption_rng, described, section) for section in _described_sections(song, described)]

    audio_path = f"audio/{track}.wav"
    write_audio(out_dir / audio_path, mix, sr)
    # Stems are FLAC (lossless, about half the size of WAV): the default corpus would be ~1 GB in WAV.
    if config.write_stems:
        for stem, audio in stems.items():
            write_audio(out_dir / "stems" / track / f"{stem}.flac", audio, sr)
    with atomic_path(out_dir / "midi" / f"{track}.mid") as tmp:
        song_to_midi(song, parts, stem_instruments).write(str(tmp))
    write_json(out_dir / "leadsheets" / f"{track}.json", _leadsheet(track, song, caption, section_captions, stem_instruments, defect, defect_detail))

    track_row = {
        "track_id": track,
        "audio_path": audio_path,
        "source": "synthetic",
        "duration_s": mix.shape[1] / sr,
        "sample_rate": sr,
        "split": split_of(config.seed, track, config.split_fractions),
        "genre": [song.genre],
        "instrument": song.instruments,
        "mood": [song.mood],
        "caption": caption,
        "license": "CC0 (synthetic)",
        "key": song.key.label,
        "tempo_bpm": float(song.tempo_bpm),
        "meter": song.meter,
        "defect": defect,
        "midi_path": f"midi/{track}.mid",
        "leadsheet_path": f"leadsheets/{track}.json",
    }
    section_rows = [
        {"track_id": track, "section_index": i, "label": s.label, "start_s": s.start_s, "end_s": s.end_s, "caption": section_captions[i]}
        for i, s in enumerate(song.sections)
    ]
    return track_row, section_rows


def _decoy_song(config: SyntheticCorpusConfig, song: Song) -> Song:
    """Another composed song of a different genre, whose captions a caption_swap borrows."""
    for attempt in range(100):
        decoy = compose_song(
            np.random.default_rng([config.seed, song.index, _DECOY, attempt]), song.index, config.duration_s_min, config.duration_s_max
        )
        if decoy.genre != song.genre and decoy.mood != song.mood:
            return decoy
    raise RuntimeError(f"found no decoy song of another genre and mood for song {song.index} in 100 attempts")


def _described_sections(song: Song, described: Song) -> list[Section]:
    """The song's sections as `described` plays them: itself, or for a caption swap the decoy's
    section of the same role (its arrangement and energy) under this song's label and timing."""
    if described is song:
        return song.sections
    by_label = {}
    for section in described.sections:
        by_label.setdefault(section.label, section)
    return [
        dataclasses.replace(by_label.get(own.label, described.sections[min(i, len(described.sections) - 1)]), label=own.label, start_s=own.start_s, end_s=own.end_s)
        for i, own in enumerate(song.sections)
    ]


def _leadsheet(track: str, song: Song, caption: str, section_captions: list[str], stem_instruments: dict, defect: str, defect_detail: dict) -> dict:
    def r(x: float) -> float:
        return round(float(x), 6)

    return {
        "track_id": track,
        "duration_s": r(song.duration_s),
        "tempo_bpm": song.tempo_bpm,
        "key": song.key.label,
        "meter": song.meter,
        "tags": {"genre": [song.genre], "instrument": song.instruments, "mood": [song.mood]},
        "stems": stem_instruments,
        "beats": [r(b) for b in song.beats],
        "downbeats": [r(b) for b in song.downbeats],
        "chords": [[r(c.start_s), r(c.end_s), c.label] for c in song.chords],
        "melody": [[r(n.start_s), r(n.end_s), n.pitch] for n in song.parts["lead"]],
        "sections": [
            {"label": s.label, "start_s": r(s.start_s), "end_s": r(s.end_s), "energy": r(s.energy), "caption": c}
            for s, c in zip(song.sections, section_captions)
        ],
        "caption": caption,
        "defect": {"kind": defect, **defect_detail},
    }
