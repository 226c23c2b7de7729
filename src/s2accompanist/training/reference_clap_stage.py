"""The `refclap` stage: train the in-domain reference CLAP on the corpus's true section captions.

Items are the non-silent sections of each song: the section's audio, the MiniLM embedding of
its ground-truth caption, and the song's genre / instrument / mood tags. Train on the train
split, validate on valid, report retrieval and tagging on test.
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

from ..audio import AudioError, load_audio
from ..models.reference_clap import ReferenceClapConfig
from .reference_clap import ReferenceClapDataset, ReferenceClapTrainingWrapper, retrieval_metrics, tag_metrics
from .trainer import build_trainer, export_curve, resume_path, run_directory

TAG_COLUMNS = {"genre": "genre", "instrument": "instrument", "mood/theme": "mood"}


def corpus_tag_names(tracks: pd.DataFrame) -> list[str]:
    """Every tag that some training song carries: a head for an unseen tag could not learn."""
    train = tracks[tracks["split"] == "train"]
    return sorted({tag for column in TAG_COLUMNS.values() for tags in train[column] for tag in tags})


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
        multi_hot = np.zeros(len(tag_names), dtype=np.float32)
        for column in TAG_COLUMNS.values():
            for tag in getattr(track, column):
                if tag in column_of:
                    multi_hot[column_of[tag]] = 1.0
        rows = sections[sections["track_id"] == track.track_id]
        if rows.empty:
            continue
        embeddings = text_encoder.encode(rows["caption"].tolist()).pooled.numpy()
        for row, embedding in zip(rows.itertuples(), embeddings):
            clip = audio[int(row.start_s * sample_rate):int(row.end_s * sample_rate)]
            if clip.size:
                items[track.split].append((clip, embedding, multi_hot))
    return items


def train_reference_clap(refclap: dict[str, Any], trainer_params: dict[str, Any], tracks: pd.DataFrame,
                         sections: pd.DataFrame, raw_dir: Path, sample_rate: int, seed: int,
                         plots_csv: Path) -> dict[str, Any]:
    from ..models.text_encoders import build_text_encoder

    tag_names = corpus_tag_names(tracks)
    items = section_items(tracks, sections, raw_dir, sample_rate, build_text_encoder("minilm"), tag_names)
    config = ReferenceClapConfig(tag_names=tuple(tag_names), sample_rate=sample_rate, embed_dim=refclap["embed_dim"])
    crop = int(refclap["crop_s"] * sample_rate)
    if not items.get("train"):
        raise ValueError(
            "the reference CLAP trains on the corpus's annotated sections (captions and tags), and this corpus has none in its "
            "train split (only the synthetic corpus provides them); for other corpora point refclap.checkpoint at a trained "
            "reference CLAP, or use curate.alignment.backend: laion_clap with evaluate.embedder.backend: clap_laion_music")
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
        "items": {k: len(v) for k, v in items.items()}, "tags": len(tag_names)}


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
