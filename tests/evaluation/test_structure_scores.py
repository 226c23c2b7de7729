"""`benchmark.structure_scores`: the evaluate stage's structure extras carry intervals and their backend."""

import numpy as np
import pytest

from s2accompanist.evaluation.benchmark import Embedder, structure_scores
from s2accompanist.generation import GenerationRequest, SegmentRequest

SR = 16_000


def two_part_clip(change_s: float, seconds: float = 8.0) -> np.ndarray:
    # A low tone, then loud noise: a change any segmenter must find.
    t = np.arange(int(seconds * SR)) / SR
    clip = 0.2 * np.sin(2 * np.pi * 110 * t)
    after = t >= change_s
    clip[after] = np.random.default_rng(0).uniform(-0.5, 0.5, after.sum())
    return clip.astype(np.float32)


def embedder() -> Embedder:
    def embed_audio(clips):  # the quiet tone lies near "tone" captions, the loud noise near "noise" ones
        return np.array([[0.2, 1.0] if np.abs(c).mean() > 0.2 else [1.0, 0.2] for c in clips])

    def embed_text(texts):
        return np.array([[1.0, 0.0] if "tone" in t else [0.0, 1.0] for t in texts])

    return Embedder("fake embedder", SR, embed_audio, embed_text, None)


def request(item: str, change_s: float) -> GenerationRequest:
    return GenerationRequest(item, "a tone, then noise", 8.0, segments=(
        SegmentRequest("verse", 0.0, change_s, "a low tone"), SegmentRequest("chorus", change_s, 8.0, "loud noise")))


def test_structure_scores_carry_intervals_and_the_backend():
    clips = [two_part_clip(4.0), two_part_clip(3.0), two_part_clip(5.0)]
    requests = [request("a", 4.0), request("b", 3.0), GenerationRequest("c", "noise", 8.0)]
    scores = structure_scores(clips, requests, embedder(), SR, n_boot=200, seed=0)
    assert scores["structured_prompts"] == 2
    for metric in ("boundary_hit_rate", "segment_alignment"):
        assert scores[f"{metric}_low"] <= scores[metric] <= scores[f"{metric}_high"]
    assert scores["boundary_hit_rate"] == pytest.approx(1.0)
    assert scores["own_caption_rate"] == pytest.approx(1.0)
    assert scores["structure_backend"] == "classical segmentation; fake embedder"
    assert structure_scores(clips, requests, embedder(), SR, n_boot=200, seed=0) == scores
