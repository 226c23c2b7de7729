"""The `refclap` stage: train the in-domain reference CLAP on the corpus's own captions.

Items are the non-silent sections of each song: the section's audio, the MiniLM embedding of
its ground-truth caption, and the song's genre / instrument / mood tags. A corpus without
annotated sections (jamendo, attm, folder ingests) gives instead a few windows of each whole
track, paired with the track's caption (or its tags as text). Train on the train split,
validate on valid, report retrieval and tagging on test; the metrics name the item source.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from ..progress import progress

from ..audio import AudioError, load_audio, rms_dbfs
from ..models.reference_clap import ReferenceClapConfig
from .reference_clap import ReferenceClapDataset, ReferenceClapTrainingWrapper, retrieval_metrics, tag_metrics
from .trainer import build_trainer, export_curve, resume_path, run_directory

TAG_COLUMNS = {"genre": "genre", "instrument": "instrument", "mood/theme": "mood"}
# A track window lasts about one musical section, the unit the model grades in curate, and never
# less than a training crop, so each epoch can still crop it somewhere new.
TRACK_WINDOW_S = 10.0
# Items live in memory; a cap keeps a long track from outweighing short ones and bounds the RAM.
MAX_WINDOWS_PER_TRACK = 3
# load_audio's silence threshold: a fade-out or a pause says nothing its caption describes.
SILENT_WINDOW_DBFS = -60.0


def corpus_tag_names(tracks: pd.DataFrame) -> list[str]:
    """Every tag that some training song carries: a head for an unseen tag could not learn."""
    train = tracks[tracks["split"] == "train"]
    return sorted({tag for column in TAG_COLUMNS.values() for tags in train[column] for tag in tags})


def reference_items(tracks: pd.DataFrame, sections: pd.DataFrame, raw_dir: Path, sample_rate: int, text_encoder,
                    tag_names: list[str], crop_s: float) -> tuple[str, dict[str, list]]:
    """(item source, {split: items}): annotated sections when the corpus has them, else track windows.

    Text and tags are checked before any audio is decoded, so a corpus that cannot train the
    model fails in seconds rather than after reading every file."""
    source = item_source(tracks, sections)
    if not tag_names:
        raise ValueError(
            "the reference CLAP learns genre / instrument / mood tags beside its embedding, and no track in the train split "
            "carries a tag of the MTG-Jamendo vocabulary; give the tracks tags (jamendo: the autotagging TSV; attm: the "
            "captions JSON; folder: a song.json sidecar beside each song) and rerun the corpus stage")
    if source == "sections":
        return source, section_items(tracks, sections, raw_dir, sample_rate, text_encoder, tag_names)
    window_s = max(TRACK_WINDOW_S, crop_s)
    return source, track_window_items(tracks, raw_dir, sample_rate, text_encoder, tag_names, window_s)


def item_source(tracks: pd.DataFrame, sections: pd.DataFrame) -> str:
    """The item source: "sections" when some section has a caption, else "track windows" when some track has text."""
    if has_section_captions(sections):
        return "sections"
    if any(track_text(track) for track in tracks.itertuples()):
        return "track windows"
    raise ValueError(
        f"the reference CLAP needs text paired with audio, and this corpus ({len(tracks)} tracks) has none: "
        "sections.parquet has no non-silent section with a caption, and no track in tracks.parquet has a caption or a "
        "genre / instrument / mood tag; give the tracks text (jamendo: an autotagging TSV whose rows carry tags; attm: "
        "the captions JSON; folder: a song.json sidecar with \"caption\" and tag lists beside each song) and rerun the "
        "corpus stage")


def has_section_captions(sections: pd.DataFrame) -> bool:
    """Whether some non-silent section has a caption (ingested corpora write an empty table)."""
    if "caption" not in sections or sections.empty:
        return False
    captions = sections.loc[sections["label"] != "silence", "caption"]
    return bool(captions.fillna("").astype(str).str.strip().ne("").any())


def track_text(track) -> str:
    """The track's caption; failing that its tags, those outside the vocabulary included
    (stored as family---tag), since a tag is still a word about the audio."""
    caption = str(getattr(track, "caption", "") or "").strip()
    if caption:
        return caption
    tags = [tag for column in TAG_COLUMNS.values() for tag in _listed(getattr(track, column, None))]
    tags += [tag.split("---")[-1] for tag in _listed(getattr(track, "unknown_tags", None))]
    return ", ".join(tags)


def _listed(values) -> list[str]:
    # Parquet gives list columns back as arrays, and None where a table never had the column.
    return [] if values is None else [str(value) for value in values]


def tag_multi_hot(track, column_of: dict[str, int]) -> np.ndarray:
    multi_hot = np.zeros(len(column_of), dtype=np.float32)
    for column in TAG_COLUMNS.values():
        for tag in getattr(track, column):
            if tag in column_of:
                multi_hot[column_of[tag]] = 1.0
    return multi_hot


def section_items(tracks: pd.DataFrame, sections: pd.DataFrame, raw_dir: Path, sample_rate: int, text_encoder,
                  tag_names: list[str]) -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """{split: [(audio, caption embedding, tag multi-hot), ...]} over non-silent sections."""
    column_of = {tag: i for i, tag in enumerate(tag_names)}
    items: dict[str, list] = {"train": [], "valid": [], "test": []}
    sections = sections[sections["label"] != "silence"]
    for track in progress(tracks.itertuples(), total=len(tracks), desc="refclap items", unit="track"):
        try:
            audio = load_audio(raw_dir / track.audio_path, sample_rate, 1)[0]
        except AudioError:
            continue  # the curate stage records bad audio as a reject; here it simply adds no item
        multi_hot = tag_multi_hot(track, column_of)
        rows = sections[sections["track_id"] == track.track_id]
        if rows.empty:
            continue
        embeddings = text_encoder.encode(rows["caption"].tolist()).pooled.numpy()
        for row, embedding in zip(rows.itertuples(), embeddings):
            clip = audio[int(row.start_s * sample_rate):int(row.end_s * sample_rate)]
            if clip.size:
                items[track.split].append((clip, embedding, multi_hot))
    return items


def track_window_items(tracks: pd.DataFrame, raw_dir: Path, sample_rate: int, text_encoder, tag_names: list[str],
                       window_s: float) -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """{split: [(window audio, track text embedding, tag multi-hot), ...]} over windows of whole
    tracks that have some text (`track_text`); every window of a track shares its text."""
    column_of = {tag: i for i, tag in enumerate(tag_names)}
    items: dict[str, list] = {"train": [], "valid": [], "test": []}
    for track in progress(tracks.itertuples(), total=len(tracks), desc="refclap items", unit="track"):
        text = track_text(track)
        if not text:
            continue
        try:
            audio = load_audio(raw_dir / track.audio_path, sample_rate, 1)[0]
        except AudioError:
            continue  # the curate stage records bad audio as a reject; here it simply adds no item
        windows = track_windows(audio, int(window_s * sample_rate))
        if windows:
            embedding = text_encoder.encode([text]).pooled.numpy()[0]
            multi_hot = tag_multi_hot(track, column_of)
            items[track.split].extend((window, embedding, multi_hot) for window in windows)
    return items


def track_windows(audio: np.ndarray, window: int) -> list[np.ndarray]:
    """Up to MAX_WINDOWS_PER_TRACK non-silent windows of `window` samples, one centred in each
    equal part of the track, so they spread over it and skip the edges where fades sit. A track
    shorter than one window is one item whole, as a short section is. Windows are copies, so the
    decoded track is freed once they are cut."""
    count = min(MAX_WINDOWS_PER_TRACK, audio.shape[0] // window)
    if count == 0:
        windows = [audio.copy()]
    else:
        part = audio.shape[0] // count
        starts = [i * part + (part - window) // 2 for i in range(count)]
        windows = [audio[start:start + window].copy() for start in starts]
    return [window for window in windows if rms_dbfs(window) >= SILENT_WINDOW_DBFS]


def train_reference_clap(refclap: dict[str, Any], trainer_params: dict[str, Any], tracks: pd.DataFrame,
                         sections: pd.DataFrame, raw_dir: Path, sample_rate: int, seed: int,
                         plots_csv: Path, text_encoder=None) -> dict[str, Any]:
    """Train, export to refclap["checkpoint"] and return held-out retrieval and tagging. Captions are
    read by `text_encoder` (anything with `encode(texts).pooled`, `text_dim` wide; MiniLM when None)."""
    from ..models.text_encoders import build_text_encoder

    tag_names = corpus_tag_names(tracks)
    text_encoder = text_encoder or build_text_encoder("minilm")
    source, items = reference_items(tracks, sections, raw_dir, sample_rate, text_encoder, tag_names, refclap["crop_s"])
    print(f"reference CLAP items: {source}, " + ", ".join(f"{split} {len(split_items)}" for split, split_items in items.items()))
    config = ReferenceClapConfig(tag_names=tuple(tag_names), sample_rate=sample_rate, embed_dim=refclap["embed_dim"])
    crop = int(refclap["crop_s"] * sample_rate)
    if not items.get("train"):
        raise ValueError(
            f"the reference CLAP found no {source} to train on in the train split: every train track was unreadable, "
            "silent or without text; check the corpus stage's rejects.parquet and the tracks' split column")
    train = ReferenceClapDataset(items["train"], crop, seed=seed)
    held_out = items["valid"] or items["train"]
    generator = torch.Generator().manual_seed(seed)
    loaders = dict(
        train_dataloaders=DataLoader(train, batch_size=refclap["batch_size"], shuffle=True, generator=generator, drop_last=len(train) > refclap["batch_size"]),
        val_dataloaders=DataLoader(ReferenceClapDataset(held_out, crop, seed=seed, random_crop=False), batch_size=64),
    )
    steps = refclap["epochs"] * max(1, len(loaders["train_dataloaders"]))
    run_dir = run_directory("refclap", {"refclap": refclap, "seed": seed, "sample_rate": sample_rate, "n_items": len(train)})
    wrapper = ReferenceClapTrainingWrapper(config.to_dict(), lr=refclap["lr"])
    trainer = build_trainer(trainer_params, max_steps=steps, run_dir=run_dir, log_every_n_steps=5,
                            max_epochs=refclap["epochs"], check_val_every_n_epoch=max(1, refclap["epochs"] // 5))
    trainer.fit(wrapper, **loaders, ckpt_path=resume_path(run_dir))
    export_curve(run_dir, plots_csv, ("train/loss", "val/loss"))
    wrapper.export(refclap["checkpoint"], training={"crop_s": refclap["crop_s"], "epochs": refclap["epochs"],
                                                   "items": {k: len(v) for k, v in items.items()}})
    shutil.rmtree(run_dir, ignore_errors=True)
    return evaluate_reference_clap(wrapper.model.eval(), items["test"] or held_out, crop, tag_names) | {
        "item_source": source, "items": {k: len(v) for k, v in items.items()}, "tags": len(tag_names)}


@torch.no_grad()
def evaluate_reference_clap(model, items, crop_samples: int, tag_names: list[str]) -> dict[str, Any]:
    """Caption retrieval and tag prediction on held-out sections (centre crops)."""
    dataset = ReferenceClapDataset(items, crop_samples, random_crop=False)
    batch = next(iter(DataLoader(dataset, batch_size=len(dataset))))
    audio = model.embed_audio(batch["audio"]).numpy()
    text = model.embed_text(batch["text_emb"]).numpy()
    probabilities = model.tag_probabilities(batch["audio"]).numpy()
    return {"retrieval": {k: round(float(v), 4) for k, v in retrieval_metrics(audio, text).items()},
            "tagging": {k: round(float(v), 4) for k, v in tag_metrics(probabilities, batch["tags"].numpy()).items()},
            "held_out_items": len(dataset)}
