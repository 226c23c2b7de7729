"""Curation backends chosen by params, run through `curate_corpus` on a tiny corpus with fake models.

The real adapters are tested against their packages in tests/models and tests/curation; here the
pretrained models are small stand-ins with the same interface, so the test checks the wiring:
which backend params select, the backend names and score columns each writes, how a failed
caption becomes a reject, and the errors for backends this environment cannot run.
"""

import copy
import types
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from curation_synth import abab_song
from tiny_curation import CURATE

from s2accompanist.audio import load_audio, write_audio
from s2accompanist.checkpoints import CheckpointError
from s2accompanist.curation import captioners
from s2accompanist.curation.captioners import Caption, CaptionResponseError, HostedCaptionError
from s2accompanist.curation.pipeline import BackendUnavailable, build_backends, curate_corpus
from s2accompanist.models import reference_clap, text_encoders
from s2accompanist.models.audiobox_backend import AudioboxAesthetics
from s2accompanist.models.laion_clap_backend import LaionClap
from s2accompanist.models.reference_clap import ReferenceClap, ReferenceClapConfig

SR = 8000
DEFAULT_CURATE = CURATE  # the tiny corpus's default-backend curate params, shared with the cache and executor tests


def curate_params(**backends) -> dict:
    """DEFAULT_CURATE with curate.<step>.backend (and checkpoint) replaced, e.g. quality="audiobox"."""
    params = copy.deepcopy(DEFAULT_CURATE)
    for step, backend in backends.items():
        params[step].update(backend=backend, checkpoint=f"{step}.ckpt")
    return params


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def _text_vector(text: str, dim: int) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(text.encode())).standard_normal(dim)


class FakeMiniLM:
    """Deterministic 384-d pooled vectors per text, instead of the bundled MiniLM."""

    def encode(self, texts):
        return types.SimpleNamespace(pooled=torch.tensor(np.stack([_text_vector(t, 384) for t in texts]), dtype=torch.float32))


class FakeAudiobox:
    checkpoint = Path("checkpoint.pt")
    checkpoint_sha256 = "ab" * 32

    def score(self, clips, sample_rate):
        return [{"CE": 6.0, "CU": 7.0, "PC": 4.0, "PQ": 8.0} for _ in clips]


class FakeLaionClap:
    """Audio embedding from loudness, text embedding from the text: L2-normalised like the real one."""

    checkpoint = Path("music_audioset_epoch_15_esc_90.14.pt")
    checkpoint_sha256 = "cd" * 32

    def embed_audio(self, audio, sample_rate):
        rms = np.sqrt(np.mean(np.square(audio), axis=1))
        return _unit(np.stack([rms, np.ones_like(rms), 1 - rms], axis=1)).astype(np.float32)

    def embed_text(self, texts):
        return _unit(np.stack([_text_vector(t, 3) for t in texts])).astype(np.float32)


class FakeLalm:
    """An audio-language captioner whose answers fail for the segments named in `failures`."""

    backend = "gemini:fake-model"

    def __init__(self, failures=None):
        self.failures = failures or {}

    def caption(self, audio_mono, sample_rate, segment_id, label):
        if segment_id in self.failures:
            raise self.failures[segment_id]
        return Caption(text=f"A calm piano {label}.", concepts={"genre": [], "instrument": ["piano"], "mood/theme": ["calm"]},
                       backend=self.backend, raw="{}")


@pytest.fixture
def fake_models(monkeypatch):
    """Every pretrained model the curation backends load, replaced by a tiny stand-in."""
    torch.manual_seed(0)
    config = ReferenceClapConfig(tag_names=("rock", "ambient", "piano", "drums", "happy", "calm"), sample_rate=SR,
                                 n_fft=256, hop_length=64, n_mels=16, channels=(4, 8), embed_dim=16, text_hidden=32,
                                 min_seconds=0.25)
    refclap = ReferenceClap(config).eval()
    loads = []
    monkeypatch.setattr(reference_clap, "load_reference_clap", lambda path: loads.append(path) or refclap)
    monkeypatch.setattr(text_encoders, "build_text_encoder", lambda backend: FakeMiniLM())
    monkeypatch.setattr(AudioboxAesthetics, "load", classmethod(lambda cls, checkpoint, param, device="cpu": FakeAudiobox()))
    monkeypatch.setattr(LaionClap, "load", classmethod(lambda cls, checkpoint, tokenizer, prefix, device="cpu": FakeLaionClap()))
    monkeypatch.setattr(captioners, "GeminiCaptioner", lambda: FakeLalm())
    return loads


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two 8 s A-B-A-B songs at 8 kHz and their tracks table."""
    raw_dir = tmp_path_factory.mktemp("raw")
    audio, _ = abab_song(section_s=2.0, sr=SR)
    rows = []
    for number, gain in enumerate((1.0, 0.5)):
        write_audio(raw_dir / f"t{number}.wav", gain * audio[None], SR)
        rows.append({"track_id": f"t{number}", "audio_path": f"t{number}.wav", "split": "train",
                     "caption": f"song {number} with piano"})
    return raw_dir, pd.DataFrame(rows)


def run(curate, corpus, tmp_path, backends=None):
    raw_dir, tracks = corpus
    backends = backends or build_backends(curate, "refclap.safetensors")
    return backends, curate_corpus(tracks, raw_dir, tmp_path, curate, backends, SR, 1)


def segment_clip(out_dir, row) -> np.ndarray:
    audio = load_audio(out_dir / row["audio_path"], SR, 1)[0]
    return audio[int(row["start_s"] * SR):int(row["end_s"] * SR)]


def test_default_backends_record_their_names_and_signal_columns(fake_models, corpus, tmp_path):
    backends, tables = run(DEFAULT_CURATE, corpus, tmp_path)
    segments = tables["segments"]
    assert backends.names == {"separation": "none", "segmentation": "classical", "captioning": "facts+refclap_tags",
                              "quality": "signal", "alignment": "refclap"}
    assert fake_models == ["refclap.safetensors"], "the reference CLAP is loaded once and shared by two steps"
    assert (segments["captioning_backend"] == "facts+refclap_tags").all()
    assert (segments["quality_backend"] == "signal").all() and (segments["alignment_backend"] == "refclap").all()
    assert {"quality_clipping_ratio", "quality_loudness_dbfs", "quality"} <= set(segments.columns)
    assert not any(column.startswith("aesthetics_") for column in segments.columns)
    assert segments["alignment"].between(-1, 1).all()
    assert (tmp_path / "segments.parquet").is_file()


def test_audiobox_quality_is_the_mean_axis_over_ten(fake_models, corpus, tmp_path):
    backends, tables = run(curate_params(quality="audiobox"), corpus, tmp_path)
    segments = tables["segments"]
    assert backends.names["quality"] == f"audiobox (checkpoint.pt, sha256 {'ab' * 6})"
    assert segments[["aesthetics_CE", "aesthetics_CU", "aesthetics_PC", "aesthetics_PQ"]].iloc[0].tolist() == [6.0, 7.0, 4.0, 8.0]
    assert np.allclose(segments["quality"], (6 + 7 + 4 + 8) / 4 / 10)
    assert not any(column.startswith("quality_") and column != "quality_backend" for column in segments.columns)


def test_laion_clap_alignment_is_the_cosine_of_its_embeddings(fake_models, corpus, tmp_path):
    backends, tables = run(curate_params(alignment="laion_clap"), corpus, tmp_path)
    segments = tables["segments"]
    assert backends.names["alignment"] == f"laion_clap (music_audioset_epoch_15_esc_90.14.pt, sha256 {'cd' * 6})"
    row = segments.iloc[0]
    audio = segment_clip(tmp_path, row)
    clap = FakeLaionClap()
    expected = float(clap.embed_audio(audio[None], SR)[0] @ clap.embed_text([row["caption"]])[0])
    assert row["alignment"] == pytest.approx(expected, abs=1e-6)


def test_a_failed_lalm_caption_becomes_a_reject_and_the_stage_goes_on(fake_models, corpus, tmp_path, monkeypatch):
    failures = {"t0-00": HostedCaptionError("gave up after 5 retries (status 503)", status=503),
                "t1-01": CaptionResponseError("answer holds no JSON object")}
    monkeypatch.setattr(captioners, "GeminiCaptioner", lambda: FakeLalm(failures))
    backends, tables = run(curate_params(captioning="gemini"), corpus, tmp_path)
    segments, rejects = tables["segments"], tables["rejects"]
    assert backends.names["captioning"] == "gemini:fake-model"
    assert fake_models == ["refclap.safetensors"], "only the refclap aligner needs the reference CLAP"
    assert not set(failures) & set(segments["segment_id"]) and len(segments) > 0
    assert (segments["captioning_backend"] == "gemini:fake-model").all()
    assert segments["instrument"].map(list).tolist() == [["piano"]] * len(segments)
    caption_rejects = rejects[rejects["stage"] == "caption"].set_index("id")["reason"]
    assert set(caption_rejects.index) == set(failures)
    assert "status 503" in caption_rejects["t0-00"] and "no JSON object" in caption_rejects["t1-01"]


def test_a_refused_key_stops_the_stage_instead_of_rejecting_every_segment(fake_models, corpus, tmp_path, monkeypatch):
    refusal = HostedCaptionError("the key in GEMINI_API_KEY was refused", status=401)
    monkeypatch.setattr(captioners, "GeminiCaptioner", lambda: FakeLalm({"t0-00": refusal}))
    with pytest.raises(HostedCaptionError, match="refused"):
        run(curate_params(captioning="gemini"), corpus, tmp_path)


def test_paper_backends_load_no_reference_clap(fake_models, monkeypatch):
    monkeypatch.setattr(captioners, "QwenAudioCaptioner", lambda checkpoint, device: types.SimpleNamespace(backend=f"qwen2_audio:{checkpoint}"))
    backends = build_backends(curate_params(captioning="qwen", quality="audiobox", alignment="laion_clap"), "missing.safetensors")
    assert fake_models == []
    assert backends.names["captioning"] == "qwen2_audio:captioning.ckpt"
    assert backends.names["quality"].startswith("audiobox") and backends.names["alignment"].startswith("laion_clap")


def test_mulan_which_this_environment_cannot_run_says_what_it_needs(fake_models):
    with pytest.raises(BackendUnavailable, match=r"muq package.*curate\.alignment\.checkpoint.*MuQ-MuLan folder"):
        build_backends(curate_params(alignment="mulan"), "refclap.safetensors")
    assert fake_models == [], "the refusal comes before any model is loaded"


def test_demucs_without_its_checkpoint_names_the_parameter(fake_models):
    with pytest.raises(CheckpointError, match=r"curate\.separation\.checkpoint: checkpoint file separation\.ckpt does not exist.*955717e8"):
        build_backends(curate_params(separation="demucs"), "refclap.safetensors")
    assert fake_models == []


def test_a_track_that_fails_mid_curation_is_a_reject_and_the_rest_is_curated(fake_models, corpus, tmp_path):
    backends = build_backends(DEFAULT_CURATE, "refclap.safetensors")
    segment = backends.segment

    def failing_on_t1(track_id, mono, sr):
        if track_id == "t1":
            raise ValueError("segments overlap by a float ulp")
        return segment(track_id, mono, sr)

    backends.segment = failing_on_t1
    _, tables = run(DEFAULT_CURATE, corpus, tmp_path, backends)
    assert set(tables["segments"]["track_id"]) == {"t0"}
    reject = tables["rejects"].set_index("id").loc["t1"]
    assert reject["stage"] == "curate" and reject["reason"] == "ValueError: segments overlap by a float ulp"
