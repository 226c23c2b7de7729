"""CCS detectors chosen by evaluate.ccs.backend, on fake embedders (the real LAION-CLAP adapter is
tested in tests/models/test_laion_clap_backend.py): zero-shot scoring, backend names, errors."""

import zlib

import numpy as np
import pytest

from s2accompanist.evaluation import benchmark
from s2accompanist.evaluation.benchmark import CCSDetector, Embedder, build_ccs_detector, evaluate_system
from s2accompanist.evaluation.concepts import ConceptVocabulary, default_vocabulary
from s2accompanist.evaluation.zero_shot import ZeroShotConceptDetector, family_softmax, prompts_for
from s2accompanist.generation import GenerationRequest

DIM = 256
# A clip is np.full(n, k): the fake audio embedding of clip k lies between the prompts of these tags.
CLIP_TAGS = [("rock", "piano", "happy"), ("jazz", "guitar", "sad")]
PROMPTS = ["happy rock with piano", "sad jazz guitar"]
LAION_PARAMS = {"backend": "clap_laion_music", "checkpoint": "clap.pt", "tokenizer": "roberta-base"}
REFCLAP_PARAMS = {"backend": "refclap", "checkpoint": None, "tokenizer": None}


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def text_embedding(texts: list[str]) -> np.ndarray:
    """A fixed random unit vector per text: unrelated prompts are nearly orthogonal."""
    return _unit(np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(DIM) for t in texts]))


def audio_embedding(clips: list[np.ndarray]) -> np.ndarray:
    return _unit(np.stack([text_embedding(prompts_for(CLIP_TAGS[int(clip[0])])).sum(0) for clip in clips]))


def fake_laion_embedder() -> Embedder:
    return Embedder("fake LAION-CLAP", 48000, audio_embedding, text_embedding, None, logit_scale=100.0)


def clip(k: int, sample_rate: int = 48000) -> np.ndarray:
    return np.full(sample_rate // 10, float(k), dtype=np.float32)


def test_family_softmax_is_the_softmax_of_scaled_cosines():
    audio = np.array([3.0, 4.0])  # not unit length: the score uses cosines
    prompts = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    cosines = np.array([0.6, 0.8, -0.6])
    expected = np.exp(10 * cosines) / np.exp(10 * cosines).sum()
    assert np.allclose(family_softmax(audio, prompts, logit_scale=10.0), expected)


def test_zero_shot_finds_the_closest_tag_of_each_family():
    detector = ZeroShotConceptDetector(audio_embedding, text_embedding, logit_scale=100.0)
    vocabulary = default_vocabulary()
    for k, tags in enumerate(CLIP_TAGS):
        probabilities = detector(clip(k))
        assert set(probabilities) == set(vocabulary.tag_family)
        assert all(0.0 <= p <= 1.0 for p in probabilities.values())
        for family in ("genre", "instrument", "mood/theme"):
            family_tags = [t for t, f in vocabulary.tag_family.items() if f == family]
            assert sum(probabilities[t] for t in family_tags) == pytest.approx(1.0)
            assert max(family_tags, key=probabilities.get) in tags
        assert all(probabilities[t] > 0.5 for t in tags)


def test_zero_shot_needs_a_positive_temperature():
    vocabulary = ConceptVocabulary(tag_family={"rock": "genre"}, lookup={})
    with pytest.raises(ValueError, match="logit_scale must be positive"):
        ZeroShotConceptDetector(audio_embedding, text_embedding, logit_scale=0.0, vocabulary=vocabulary)


def test_refclap_tags_reuses_the_reference_clap_embedder():
    refclap = Embedder("refclap (in-domain reference CLAP)", 16000, audio_embedding, text_embedding, lambda c: {"rock": 1.0})
    detector = build_ccs_detector({"backend": "refclap_tags"}, REFCLAP_PARAMS, refclap, "refclap.safetensors")
    assert detector.name == "refclap (in-domain reference CLAP) tag heads"
    assert detector.detect is refclap.tag_probabilities


def test_refclap_tags_beside_laion_embeddings_hears_clips_at_its_own_rate(monkeypatch):
    lengths = []
    refclap = Embedder("refclap", 16000, audio_embedding, text_embedding, lambda c: lengths.append(len(c)) or {"rock": 1.0})
    monkeypatch.setattr(benchmark, "reference_clap_embedder", lambda checkpoint: refclap)
    detector = build_ccs_detector({"backend": "refclap_tags"}, LAION_PARAMS, fake_laion_embedder(), "refclap.safetensors")
    detector.detect(np.zeros(48000, dtype=np.float32))
    assert detector.name == "refclap tag heads" and lengths == [16000]


def test_laion_zero_shot_is_named_and_detects_the_prompted_concepts():
    detector = build_ccs_detector({"backend": "laion_zero_shot"}, LAION_PARAMS, fake_laion_embedder(), "unused")
    assert detector.name.startswith("laion_zero_shot (fake LAION-CLAP; prompts 'This is a {tag} music.'")
    assert detector.detect(clip(1))["jazz"] > 0.5


def test_evaluate_system_records_the_ccs_backend():
    requests = [GenerationRequest(f"p{k}", prompt, 10.0, metadata={"split": "out_of_distribution"}) for k, prompt in enumerate(PROMPTS)]
    embedder = fake_laion_embedder()
    clips = [clip(0), clip(1)]
    detector = build_ccs_detector({"backend": "laion_zero_shot"}, LAION_PARAMS, embedder, "unused")
    row, _ = evaluate_system("sys", clips, requests, np.zeros((0, DIM)), embedder, 0.5, 10, 0, ccs_detector=detector)
    assert row["ccs_backend"] == detector.name and row["ccs"] == pytest.approx(1.0)
    row, _ = evaluate_system("sys", clips, requests, np.zeros((0, DIM)), embedder, 0.5, 10, 0)
    assert row["ccs_backend"] == "not computed" and "ccs" not in row
    no_concepts = CCSDetector("judge that hears nothing", lambda c: set())
    row, _ = evaluate_system("sys", clips, requests, np.zeros((0, DIM)), embedder, 0.5, 10, 0, ccs_detector=no_concepts)
    assert row["ccs_backend"] == "judge that hears nothing" and row["ccs"] == 0.0
    no_heads = CCSDetector("tagger without heads", lambda c: {})  # can measure nothing: no CCS, every concept counted apart
    row, _ = evaluate_system("sys", clips, requests, np.zeros((0, DIM)), embedder, 0.5, 10, 0, ccs_detector=no_heads)
    assert np.isnan(row["ccs"]) and row["ccs_not_measurable"] > 0


def test_laion_zero_shot_without_a_laion_checkpoint_names_the_params_keys():
    refclap = Embedder("refclap", 16000, audio_embedding, text_embedding, None)
    with pytest.raises(ValueError, match=r"evaluate\.embedder\.checkpoint and evaluate\.embedder\.tokenizer"):
        build_ccs_detector({"backend": "laion_zero_shot"}, REFCLAP_PARAMS, refclap, "refclap.safetensors")
