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
from ..generation import GenerationRequest, RequestError, SegmentRequest, read_prompt_file, write_prompt_file

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


# Reference clips of the ATTM release: `<prompt id>.<suffix>` (the release's naming is not documented
# here, so every format the audio reader decodes is accepted).
REFERENCE_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")


def copy_attm_prompt_set(prompt_file: Path, reference_audio: Path, out_dir: Path, clip_s: float,
                         sample_rate: int, channels: int) -> pd.DataFrame:
    """Paper scale: validate the challenge prompt file, write it to out_dir/prompts.jsonl, and write
    each in-distribution prompt's reference clip to out_dir/reference/<id>.wav at `sample_rate` and
    `channels`, cut or padded with silence to the prompt's duration (its `duration`, else `clip_s`),
    where `evaluate` reads it. The reference clip of prompt `<id>` is `reference_audio/<id>.<ext>`, ext
    one of wav, flac, mp3, ogg (any case). Every prompt must name its split: one without is an error,
    as are a missing, doubled or unreadable reference clip."""
    from ..audio import AudioError, load_audio, write_audio

    for path, param in ((prompt_file, "evaluate.prompt_file"), (reference_audio, "evaluate.reference_audio")):
        if not path or not Path(path).exists():
            raise FileNotFoundError(f"{param}: {path} does not exist; it comes from the ATTM Grand Challenge organisers' release")
    reference_audio = Path(reference_audio)
    if not reference_audio.is_dir():
        raise NotADirectoryError(f"evaluate.reference_audio: {reference_audio} is not a folder; point it at the folder of reference clips")
    requests = read_prompt_file(prompt_file, clip_s)
    unlabelled = [r.id for r in requests if "split" not in r.metadata]
    if unlabelled:
        raise RequestError(f"evaluate.prompt_file: {prompt_file}: {len(unlabelled)} prompt(s) have no split ({_some(unlabelled)}); "
                           "label each in_distribution or out_of_distribution, or FAD cannot tell its reference set")
    references = [r for r in requests if r.metadata["split"] == "in_distribution"]
    clips = _reference_clips(reference_audio, [r.id for r in references])
    for request in references:
        path = clips[request.id]
        try:
            audio = load_audio(path, sample_rate, channels)
        except AudioError as err:
            raise AudioError(err.reason, f"evaluate.reference_audio: the reference clip of prompt '{request.id}' in {reference_audio} "
                                         f"cannot be used: {err}") from err
        length = int(round(request.duration_s * sample_rate))
        audio = np.pad(audio[:, :length], ((0, 0), (0, max(0, length - audio.shape[1]))))
        write_audio(out_dir / "reference" / f"{request.id}.wav", audio, sample_rate)
    write_prompt_file(out_dir / "prompts.jsonl", requests)
    return prompt_summary(requests)


def _reference_clips(folder: Path, ids: list[str]) -> dict[str, Path]:
    """The reference clip of each id in `folder` (`<id>.<ext>`, ext in REFERENCE_SUFFIXES); one
    missing, or given in two formats, is an error naming it."""
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in REFERENCE_SUFFIXES:
            by_stem.setdefault(path.stem, []).append(path)
    missing = [item for item in ids if item not in by_stem]
    if missing:
        raise FileNotFoundError(
            f"evaluate.reference_audio: {folder} has no reference clip for {len(missing)} in-distribution prompt(s) "
            f"({_some(missing)}); each needs <id>.wav (or .flac, .mp3, .ogg) there")
    doubled = {item: by_stem[item] for item in ids if len(by_stem[item]) > 1}
    if doubled:
        item, paths = next(iter(doubled.items()))
        raise ValueError(f"evaluate.reference_audio: {folder} holds {len(paths)} reference clips for prompt '{item}' "
                         f"({', '.join(p.name for p in paths)}); keep one")
    return {item: by_stem[item][0] for item in ids}


def _some(ids: list[str], shown: int = 10) -> str:
    names = ", ".join(f"'{item}'" for item in ids[:shown])
    return names + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def prompt_summary(requests: list[GenerationRequest]) -> pd.DataFrame:
    return pd.DataFrame([{"id": r.id, "split": r.metadata.get("split", ""), "prompt": r.prompt,
                          "n_segments": len(r.segments)} for r in requests])
