"""Reference CLAP training: loss, seeded crops, an overfit to retrieval, export round trip, metrics,
and the stage's items for a corpus without annotated sections."""

import math
from types import SimpleNamespace

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from s2accompanist.audio import write_audio
from s2accompanist.checkpoints import load_checkpoint
from s2accompanist.corpus.sources import build_corpus
from s2accompanist.models.reference_clap import EXPORT_KIND, ReferenceClapConfig, load_reference_clap
from s2accompanist.training.reference_clap import (
    ReferenceClapDataset,
    ReferenceClapTrainingWrapper,
    contrastive_loss,
    retrieval_metrics,
    same_caption_mask,
    tag_metrics,
)
from s2accompanist.training.reference_clap_stage import (
    MAX_WINDOWS_PER_TRACK,
    TRACK_WINDOW_S,
    corpus_tag_names,
    item_source,
    reference_items,
)

RATE = 8000
TAGS = ("tonal", "noisy", "percussive")
CONFIG = ReferenceClapConfig(
    tag_names=TAGS, sample_rate=RATE, n_fft=256, hop_length=64, n_mels=16, channels=(8, 16),
    embed_dim=16, text_hidden=32, min_seconds=0.25,
)


def synthetic_items(seconds: float = 1.5) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Four acoustically distinct clips, each with its own random caption embedding and tags."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    clicks = np.zeros_like(t)
    clicks[:: RATE // 8] = 1.0
    clips = {
        "sine": (0.5 * np.sin(2 * np.pi * 440 * t), [1, 0, 0]),
        "noise": (0.3 * rng.standard_normal(t.size), [0, 1, 0]),
        "clicks": (clicks, [0, 0, 1]),
        "low_sine_clicks": (0.5 * np.sin(2 * np.pi * 110 * t) + clicks, [1, 0, 1]),
    }
    return [(audio, rng.standard_normal(384), np.array(tags, dtype=np.float32)) for audio, tags in clips.values()]


def wrapper() -> ReferenceClapTrainingWrapper:
    torch.manual_seed(0)
    return ReferenceClapTrainingWrapper(CONFIG.to_dict(), lr=1e-2)


def fit(module, dataset, epochs, **loaders):
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=epochs, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, deterministic=True,
        check_val_every_n_epoch=epochs,
    )
    trainer.fit(module, DataLoader(dataset, batch_size=len(dataset), shuffle=True, generator=torch.Generator().manual_seed(0)), **loaders)
    return trainer


def test_contrastive_loss_prefers_matching_pairs_and_merges_repeated_captions():
    text = torch.nn.functional.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    eye = torch.eye(4, dtype=torch.bool)
    matched = contrastive_loss(text, text, torch.tensor(10.0), eye)
    shuffled = contrastive_loss(text.roll(1, dims=0), text, torch.tensor(10.0), eye)
    assert matched < shuffled
    # Two clips sharing one caption: the target splits between them, so the loss floor is log(2) there.
    repeated = torch.cat([text[:1], text[:1], text[2:]])
    mask = same_caption_mask(repeated)
    assert mask[0, 1] and mask[1, 0] and not mask[0, 2]
    loss = contrastive_loss(repeated, repeated, torch.tensor(1000.0), mask)
    assert loss.item() == pytest.approx(0.5 * math.log(2), abs=1e-3)


def test_crops_are_seeded_per_epoch_and_index():
    audio = np.arange(1000, dtype=np.float32)
    items = [(audio, np.zeros(384), np.zeros(3))] * 2
    dataset = ReferenceClapDataset(items, crop_samples=300, seed=5)
    first = [dataset[i]["audio"][0].item() for i in range(2)]
    assert first == [ReferenceClapDataset(items, 300, seed=5)[i]["audio"][0].item() for i in range(2)]
    assert first[0] != first[1]  # the index enters the seed
    assert first != [ReferenceClapDataset(items, 300, seed=6)[i]["audio"][0].item() for i in range(2)]
    dataset.set_epoch(1)
    assert first != [dataset[i]["audio"][0].item() for i in range(2)]
    assert all(dataset[i]["audio"].shape == (300,) for i in range(2))
    centre = ReferenceClapDataset(items, 300, random_crop=False)[0]["audio"]
    assert centre[0].item() == 350.0
    short = ReferenceClapDataset([(np.arange(4), np.zeros(384), np.zeros(3))], 10)[0]["audio"]
    assert short.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_dataset_names_bad_items():
    good = (np.zeros(100), np.zeros(384), np.zeros(3))
    with pytest.raises(ValueError, match="item 1: audio must be a non-empty mono"):
        ReferenceClapDataset([good, (np.zeros((2, 100)), np.zeros(384), np.zeros(3))], 50)
    with pytest.raises(ValueError, match="tag multi-hots of different sizes \\[3, 4\\]"):
        ReferenceClapDataset([good, (np.zeros(100), np.zeros(384), np.zeros(4))], 50)
    with pytest.raises(ValueError, match="item 0 has 2 fields"):
        ReferenceClapDataset([(np.zeros(100), np.zeros(384))], 50)


def test_overfits_synthetic_clips_to_perfect_retrieval_and_tagging(tmp_path):
    items = synthetic_items()
    module = wrapper()
    train = ReferenceClapDataset(items, crop_samples=RATE // 2, seed=0)
    held = ReferenceClapDataset(items, crop_samples=RATE // 2, random_crop=False)
    trainer = fit(module, train, epochs=60, val_dataloaders=DataLoader(held, batch_size=4))
    assert trainer.callback_metrics["val/r@1"] == 1.0
    assert train.epoch == 59  # the wrapper advanced the crops every epoch

    batch = next(iter(DataLoader(held, batch_size=4)))
    model = module.model.eval()
    with torch.no_grad():
        audio_emb, text_emb = model.embed_audio(batch["audio"]), model.embed_text(batch["text_emb"])
        probs = model.tag_probabilities(batch["audio"])
    assert retrieval_metrics(audio_emb.numpy(), text_emb.numpy())["r@1"] == 1.0
    scores = tag_metrics(probs.numpy(), batch["tags"].numpy())
    assert scores["roc_auc"] == 1.0 and scores["f1"] > 0.8

    path = module.export(tmp_path / "refclap.safetensors", training={"crop_s": 1.0})
    _, config = load_checkpoint(path)
    assert config["kind"] == EXPORT_KIND and config["model"]["tag_names"] == list(TAGS)
    assert config["model"]["sample_rate"] == RATE and config["training"]["crop_s"] == 1.0
    loaded = load_reference_clap(path)
    assert loaded.tag_names == TAGS and not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded.embed_audio(batch["audio"]), audio_emb)
        assert torch.equal(loaded.embed_text(batch["text_emb"]), text_emb)
        assert torch.equal(loaded.tag_probabilities(batch["audio"]), probs)


def test_untrained_model_does_not_retrieve_perfectly():
    # Guards the overfit test against a metric that is trivially 1.
    items = synthetic_items()
    batch = next(iter(DataLoader(ReferenceClapDataset(items, RATE // 2, random_crop=False), batch_size=4)))
    model = wrapper().model.eval()
    with torch.no_grad():
        metrics = retrieval_metrics(model.embed_audio(batch["audio"]).numpy(), model.embed_text(batch["text_emb"]).numpy())
    assert metrics["r@1"] < 1.0


def test_retrieval_metrics_known_ranks():
    audio = np.eye(3)
    # Caption 0 matches clip 0; caption 1 is closest to clip 2 (rank 2); caption 2 is closest to clips 0 and 1 (rank 3).
    text = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.9, 0.1]])
    metrics = retrieval_metrics(audio, text, ks=(1, 2))
    assert metrics == {"r@1": pytest.approx(1 / 3), "r@2": pytest.approx(2 / 3), "median_rank": 2.0}
    with pytest.raises(ValueError, match="pair row by row"):
        retrieval_metrics(audio, text[:2])
    with pytest.raises(ValueError, match="text embeddings contain zero"):
        retrieval_metrics(audio, np.zeros((3, 3)))


def test_tag_metrics_known_values():
    targets = np.array([[1, 0, 1], [0, 1, 1], [1, 0, 1], [0, 0, 1]])
    probs = np.array([[0.9, 0.2, 0.6], [0.4, 0.7, 0.8], [0.3, 0.6, 0.9], [0.1, 0.1, 0.2]])
    metrics = tag_metrics(probs, targets)
    # Tag 2 is positive everywhere and cannot be ranked; tag 1 ranks perfectly, tag 0 has one inverted pair of four.
    assert metrics["n_tags_scored"] == 2
    assert metrics["roc_auc"] == pytest.approx((0.75 + 1.0) / 2)
    assert metrics["map"] == pytest.approx(((1 + 2 / 3) / 2 + 1.0) / 2)
    # Detected at 0.5: (0,0) (0,2) (1,1) (1,2) (2,1) (2,2): 5 true of 6 detected, 5 of 7 positives found.
    assert metrics["precision"] == pytest.approx(5 / 6) and metrics["recall"] == pytest.approx(5 / 7)
    with pytest.raises(ValueError, match="no tag has both positive and negative"):
        tag_metrics(probs, np.ones_like(targets))


class RecordingTextEncoder:
    """Stands in for MiniLM: a 4-d embedding per text, keeping the texts it was asked to encode."""

    def __init__(self):
        self.texts: list[str] = []

    def encode(self, texts):
        self.texts += texts
        return SimpleNamespace(pooled=torch.tensor([[float(len(text))] * 4 for text in texts]))


def jamendo_corpus(tmp_path, tsv_lines: list[str], seconds: dict[str, float], silent_s=None):
    """Ingest sine tracks through the corpus stage as MTG-Jamendo, all in train; (tracks, sections, raw_dir)."""
    audio_root, raw_dir = tmp_path / "audio", tmp_path / "raw"
    for name, duration in seconds.items():
        tone = 0.2 * np.sin(2 * np.pi * 220 * np.arange(int(duration * RATE)) / RATE)
        if silent_s is not None and name in silent_s:
            start, end = silent_s[name]
            tone[int(start * RATE):int(end * RATE)] = 0.0
        write_audio(audio_root / f"{name}.wav", tone.astype(np.float32), RATE)
    metadata = tmp_path / "autotagging.tsv"
    metadata.write_text("TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n" + "".join(line + "\n" for line in tsv_lines))
    build_corpus({"source": "jamendo", "metadata": str(metadata), "audio_root": str(audio_root), "split_fractions": [1.0, 0.0, 0.0]},
                 seed=0, out_dir=raw_dir)
    return pd.read_parquet(raw_dir / "tracks.parquet"), pd.read_parquet(raw_dir / "sections.parquet"), raw_dir


def test_a_corpus_without_sections_trains_on_track_windows_with_the_track_text(tmp_path):
    tracks, sections, raw_dir = jamendo_corpus(tmp_path, [
        "t1\ta\tb\tlong.wav\t35.0\tgenre---rock\tinstrument---drums",
        "t2\ta\tb\tshort.wav\t4.0\tmood/theme---calm",
        "t3\ta\tb\tunknown.wav\t12.0\tgenre---notagenre",  # no tag in the vocabulary, so no caption
        "t4\ta\tb\tuntagged.wav\t12.0",
    ], {"long": 35.0, "short": 4.0, "unknown": 12.0, "untagged": 12.0}, silent_s={"long": (12.0, 23.0)})
    assert sections.empty and len(tracks) == 4
    encoder = RecordingTextEncoder()
    source, items = reference_items(tracks, sections, raw_dir, RATE, encoder, corpus_tag_names(tracks), crop_s=3.0)

    assert source == "track windows"
    # The long track gives MAX_WINDOWS_PER_TRACK windows less its silent middle one; a track shorter
    # than a window is one item whole; the untagged track has no text and gives none.
    assert MAX_WINDOWS_PER_TRACK == 3
    assert [audio.size for audio, _, _ in items["train"]] == [int(TRACK_WINDOW_S * RATE)] * 2 + [4 * RATE, int(TRACK_WINDOW_S * RATE)]
    assert encoder.texts == ["Rock music with drums.", "Calm music.", "notagenre"]
    assert [text[0] for _, text, _ in items["train"]] == [22.0, 22.0, 11.0, 9.0]  # each window carries its track's text
    assert corpus_tag_names(tracks) == ["calm", "drums", "rock"]
    assert items["train"][0][2].tolist() == [0.0, 1.0, 1.0] and items["train"][2][2].tolist() == [1.0, 0.0, 0.0]
    annotated = pd.DataFrame({"track_id": ["t1"], "section_index": [0], "label": ["verse"], "start_s": [0.0],
                              "end_s": [8.0], "caption": ["a rock verse"]})
    assert item_source(tracks, annotated) == "sections"  # annotated sections still win, as on the synthetic corpus


def test_a_corpus_without_sections_or_track_text_fails_saying_what_is_missing(tmp_path):
    tracks, sections, raw_dir = jamendo_corpus(tmp_path, ["t1\ta\tb\tuntagged.wav\t12.0"], {"untagged": 12.0})
    encoder = RecordingTextEncoder()
    with pytest.raises(ValueError, match="no track in tracks.parquet has a caption or a genre / instrument / mood tag"):
        reference_items(tracks, sections, raw_dir, RATE, encoder, corpus_tag_names(tracks), crop_s=3.0)
    assert encoder.texts == []
