"""Benchmark prompt sets: ATTM's file at paper scale, or one built from held-out synthetic songs.

The synthetic set mirrors ATTM's shape: in-distribution prompts are the ground-truth captions of
held-out (valid/test) songs, each with a 10 s window of that song as its reference clip and the
song's sections inside the window as structure; out-of-distribution prompts name tag combinations
that never occur together in the training split, and have no reference clip.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from ..corpus.synthetic.captions import GENRE_WORDS, instrument_words
from ..io import write_json
from ..generation import GenerationRequest, SegmentRequest, read_prompt_file, write_prompt_file

OOD_TEMPLATES = (
    "A {mood} {genre} track played on {instruments}.",
    "{genre} music with {instruments}, {mood} in feel.",
    # Not "an instrumental {genre} piece": "instrumental pop" and "instrumental rock" are tags of their own.
    "A {genre} instrumental, {mood}, featuring {instruments}.",
)


def in_distribution_prompts(tracks: pd.DataFrame, sections: pd.DataFrame, n: int, clip_s: float, seed: int,
                            splits: tuple[str, ...] = ("valid", "test")) -> list[GenerationRequest]:
    """Windows of songs of `splits` (the benchmark: held-out songs): the track caption as prompt,
    its sections in the window as segments."""
    held_out = tracks[tracks["split"].isin(splits) & (tracks["duration_s"] >= clip_s)]
    if held_out.empty:
        raise ValueError(f"no {'/'.join(splits)} song is at least {clip_s} s long; make the corpus larger or generate.clip_s shorter")
    rng = np.random.default_rng(seed)
    by_track = {track_id: group.sort_values("start_s") for track_id, group in sections.groupby("track_id")}
    order = held_out.sort_values("track_id").to_dict("records")
    requests = []
    for index in range(n):
        track = order[index % len(order)]
        start = float(np.round(rng.uniform(0.0, track["duration_s"] - clip_s), 2))
        segments = []
        for row in by_track.get(track["track_id"], pd.DataFrame()).itertuples():
            lo, hi = max(row.start_s, start), min(row.end_s, start + clip_s)
            if hi - lo >= 0.5:
                segments.append(SegmentRequest(row.label, round(lo - start, 3), round(hi - start, 3), row.caption))
        requests.append(GenerationRequest(
            id=f"id_{index:03d}", prompt=track["caption"], duration_s=clip_s, segments=tuple(segments),
            metadata={"split": "in_distribution", "track_id": track["track_id"], "offset_s": start,
                      "concepts": {"genre": list(track["genre"]), "instrument": list(track["instrument"]),
                                   "mood/theme": list(track["mood"])}},
        ))
    return requests


def out_of_distribution_prompts(tracks: pd.DataFrame, n: int, clip_s: float, seed: int) -> list[GenerationRequest]:
    """Genre x mood pairs that no training song has, with instruments drawn from the corpus, written
    in words as the corpus's own captions write them ("electric piano", "hip-hop"), never as tag
    tokens: the concepts stay the canonical tags, in the metadata."""
    train = tracks[tracks["split"] == "train"]
    genres = sorted({g for gs in tracks["genre"] for g in gs})
    moods = sorted({m for ms in tracks["mood"] for m in ms})
    instruments = sorted({i for is_ in tracks["instrument"] for i in is_})
    seen = {(g, m) for gs, ms in zip(train["genre"], train["mood"]) for g in gs for m in ms}
    unseen = [pair for pair in itertools.product(genres, moods) if pair not in seen]
    if n and not unseen:
        raise ValueError("every genre x mood pair occurs in training; no out-of-distribution prompt can be built")
    rng = np.random.default_rng(seed + 1)
    requests = []
    for index in range(n):
        genre, mood = unseen[rng.integers(len(unseen))]
        chosen = sorted(rng.choice(instruments, size=min(2, len(instruments)), replace=False).tolist())
        template = OOD_TEMPLATES[index % len(OOD_TEMPLATES)]
        requests.append(GenerationRequest(
            id=f"ood_{index:03d}", prompt=_sentence(template.format(mood=mood, genre=GENRE_WORDS.get(genre, genre),
                                                                     instruments=instrument_words(chosen))),
            duration_s=clip_s,
            metadata={"split": "out_of_distribution", "concepts": {"genre": [genre], "instrument": chosen, "mood/theme": [mood]}},
        ))
    return requests


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def build_synthetic_prompt_set(raw_dir: Path, out_dir: Path, n_in: int, n_out: int, clip_s: float, seed: int,
                               sample_rate: int, channels: int) -> pd.DataFrame:
    """Write out_dir/prompts.jsonl and one reference clip per in-distribution prompt; return a summary."""
    from ..audio import load_audio, write_audio

    tracks = pd.read_parquet(raw_dir / "tracks.parquet")
    sections = pd.read_parquet(raw_dir / "sections.parquet")
    requests = in_distribution_prompts(tracks, sections, n_in, clip_s, seed) + out_of_distribution_prompts(tracks, n_out, clip_s, seed)
    paths = dict(zip(tracks["track_id"], tracks["audio_path"]))
    for request in requests:
        if request.metadata["split"] != "in_distribution":
            continue
        audio = load_audio(raw_dir / paths[request.metadata["track_id"]], sample_rate, channels)
        start = int(request.metadata["offset_s"] * sample_rate)
        write_audio(out_dir / "reference" / f"{request.id}.wav", audio[:, start:start + int(clip_s * sample_rate)], sample_rate)
    write_prompt_file(out_dir / "prompts.jsonl", requests)
    return prompt_summary(requests)


def training_song_windows(raw_dir: Path, n: int, clip_s: float, sample_rate: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """`n` mono windows of the training split's songs, spread over the songs (one per song in a seeded
    order, then round again), at seeded offsets that never repeat a window: real music of the corpus
    that is not the reference set, for the FAD floor. (The held-out songs have too little audio
    beside their own prompt windows for a second set of as many.) Returns the windows and their songs."""
    from ..audio import load_audio

    tracks = pd.read_parquet(raw_dir / "tracks.parquet")
    train = tracks[tracks["split"] == "train"]
    if train.empty:
        raise ValueError(f"{raw_dir / 'tracks.parquet'} has no training songs to take the FAD floor from")
    rng = np.random.default_rng(seed + 2)
    order = rng.permutation(len(train))
    length = int(clip_s * sample_rate)
    used: dict[str, list[float]] = {}
    windows, songs = [], []
    for position in range(n * 4):
        if len(windows) == n:
            break
        row = train.iloc[order[position % len(order)]]
        audio = load_audio(raw_dir / row["audio_path"], sample_rate, 1)[0]
        starts = [t for t in np.arange(0.0, (len(audio) - length) / sample_rate + 1e-9, clip_s)
                  if t not in used.get(row["track_id"], [])]
        if not starts:
            continue
        start = float(starts[rng.integers(len(starts))])
        used.setdefault(row["track_id"], []).append(start)
        windows.append(audio[int(round(start * sample_rate)):][:length])
        songs.append(row["track_id"])
    if len(windows) < n:
        raise ValueError(f"the training songs hold only {len(windows)} distinct {clip_s:g} s windows; the FAD floor needs {n}")
    return windows, songs


def copy_attm_prompt_set(prompt_file: Path, reference_audio: Path, out_dir: Path, clip_s: float) -> pd.DataFrame:
    """Paper scale: validate the challenge prompt file and point at the reference clips."""
    for path, param in ((prompt_file, "evaluate.prompt_file"), (reference_audio, "evaluate.reference_audio")):
        if not path or not Path(path).exists():
            raise FileNotFoundError(f"{param}: {path} does not exist; it comes from the ATTM Grand Challenge organisers' release")
    requests = read_prompt_file(prompt_file, clip_s)
    write_prompt_file(out_dir / "prompts.jsonl", requests)
    write_json(out_dir / "reference_audio.json", {"path": str(Path(reference_audio).resolve())})
    return prompt_summary(requests)


def prompt_summary(requests: list[GenerationRequest]) -> pd.DataFrame:
    return pd.DataFrame([{"id": r.id, "split": r.metadata.get("split", ""), "prompt": r.prompt,
                          "n_segments": len(r.segments)} for r in requests])
