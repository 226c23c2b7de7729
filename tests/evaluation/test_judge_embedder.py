"""The evaluation's judge: a pinned file, refused when it is not the one its report pins, read with
hashed-word text features, and the source of CCS tags under `refclap_tags`."""

import json

import numpy as np
import pytest

from s2accompanist.checkpoints import file_sha256
from s2accompanist.evaluation.benchmark import build_ccs_detector, build_embedder, judge_report_path
from s2accompanist.models.reference_clap import ReferenceClapConfig
from s2accompanist.training.reference_clap import ReferenceClapTrainingWrapper

TAGS = ("rock", "piano", "happy")
CCS = {"backend": "refclap_tags", "threshold": 0.5}


def write_judge(tmp_path, text_features="hashed_words (384 buckets)"):
    checkpoint = tmp_path / "judge.safetensors"
    config = ReferenceClapConfig(tag_names=TAGS, sample_rate=16000, channels=(4, 4), n_mels=16, embed_dim=8, text_hidden=16)
    ReferenceClapTrainingWrapper(config.to_dict()).export(checkpoint)
    judge_report_path(checkpoint).write_text(json.dumps({"sha256": file_sha256(checkpoint, length=64), "text_features": text_features}))
    return checkpoint


def params(checkpoint):
    return {"backend": "judge", "checkpoint": str(checkpoint), "tokenizer": None}


def test_the_pinned_judge_embeds_audio_and_text_and_names_its_hash(tmp_path):
    checkpoint = write_judge(tmp_path)
    judge = build_embedder(params(checkpoint), refclap_checkpoint="unused")
    assert judge.name.startswith("judge") and file_sha256(checkpoint, length=64)[:12] in judge.name
    audio = judge.embed_audio([np.zeros(8000, np.float32), np.random.default_rng(0).standard_normal(24000).astype(np.float32)])
    text = judge.embed_text(["upbeat rock at 125 BPM", "sad piano"])
    assert audio.shape == (2, 8) and text.shape == (2, 8)
    assert np.allclose(np.linalg.norm(text, axis=1), 1.0)
    # CCS under refclap_tags reads the judge's own tag heads, not the pipeline's reference CLAP.
    detector = build_ccs_detector(CCS, params(checkpoint), judge, refclap_checkpoint="no such file")
    assert detector.name == f"{judge.name} tag heads" and set(detector.detect(np.zeros(16000, np.float32))) == set(TAGS)


def test_a_judge_that_is_not_the_pinned_file_is_refused(tmp_path):
    checkpoint = write_judge(tmp_path)
    report = json.loads(judge_report_path(checkpoint).read_text())
    judge_report_path(checkpoint).write_text(json.dumps({**report, "sha256": "0" * 64}))
    with pytest.raises(ValueError, match="is not the pinned judge"):
        build_embedder(params(checkpoint), refclap_checkpoint="unused")


def test_a_judge_trained_on_other_text_features_is_refused(tmp_path):
    with pytest.raises(ValueError, match="reads text as 'minilm'"):
        build_embedder(params(write_judge(tmp_path, text_features="minilm")), refclap_checkpoint="unused")


def test_a_missing_judge_or_setting_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="make base-judge"):
        build_embedder(params(tmp_path / "judge.safetensors"), refclap_checkpoint="unused")
    with pytest.raises(ValueError, match="evaluate.embedder.checkpoint"):
        build_embedder({"backend": "judge", "checkpoint": None, "tokenizer": None}, refclap_checkpoint="unused")
