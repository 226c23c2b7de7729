"""The Qwen2-Audio captioner, run end to end on a tiny random-weight checkpoint built here offline."""

import json

import numpy as np
import pytest
import torch

from s2accompanist.checkpoints import CheckpointError
from s2accompanist.curation.captioners import CaptionResponseError, QwenAudioCaptioner, load_prompt
from tiny_qwen2_audio import WINDOW_S, write_tiny_qwen2_audio

SR = 44_100


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return write_tiny_qwen2_audio(tmp_path_factory.mktemp("qwen2_audio_tiny"))


@pytest.fixture(scope="module")
def captioner(tiny_checkpoint):
    return QwenAudioCaptioner(tiny_checkpoint, max_new_tokens=12)


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def test_random_weight_model_runs_end_to_end_to_the_parser(captioner):
    # Random weights write gibberish, never JSON: the clear parse error proves the whole path ran.
    expected = r"qwen2_audio:qwen2_audio_tiny\d* answer for segment 'trk1/seg0' holds no JSON object: '.+'"
    with pytest.raises(CaptionResponseError, match=expected):
        captioner.caption(_tone(1.0), SR, "trk1/seg0", "intro")


def test_generation_is_greedy_and_repeatable(captioner):
    answers = []
    for _ in range(2):
        with pytest.raises(CaptionResponseError) as raised:
            captioner.caption(_tone(1.0), SR, "s", "verse")
        answers.append(str(raised.value))
    assert answers[0] == answers[1]


def test_chat_text_holds_the_prompt_and_one_audio_slot(captioner):
    text = captioner.chat_text("chorus")
    assert load_prompt("chorus") in text
    assert text.count("<|audio_bos|><|AUDIO|><|audio_eos|>") == 1
    assert text.index("<|AUDIO|>") < text.index("You are labelling")
    assert text.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("seconds, frames", [(1.0, 100), (3.0, WINDOW_S * 100)])
def test_answer_is_decoded_after_the_prompt_and_parsed(captioner, monkeypatch, seconds, frames):
    answer = json.dumps({"caption": "A bright synth chorus.", "genre": ["electronic"], "instrument": ["synth"], "mood": []})
    answer_ids = captioner.processor.tokenizer(answer + "<|im_end|>", return_tensors="pt")["input_ids"]
    seen = {}

    def scripted_generate(**inputs):
        seen.update(inputs)
        return torch.cat([inputs["input_ids"], answer_ids], dim=1)

    monkeypatch.setattr(captioner.model, "generate", scripted_generate)
    caption = captioner.caption(_tone(seconds), SR, "trk2/seg5", "chorus")
    assert caption.raw == answer
    assert caption.concepts == {"genre": ["electronic"], "instrument": ["synthesizer"], "mood/theme": []}
    assert caption.backend.startswith("qwen2_audio:")
    # Resampled to the processor's 16 kHz (100 mel frames a second), cut to the encoder's window.
    assert int(seen["feature_attention_mask"].sum()) == frames
    assert seen["do_sample"] is False and seen["max_new_tokens"] == 12


def test_missing_checkpoint_names_the_param_and_the_source(tmp_path):
    for checkpoint in (None, tmp_path / "absent"):
        with pytest.raises(CheckpointError, match="curate.captioning.checkpoint") as raised:
            QwenAudioCaptioner(checkpoint)
        assert "Qwen/Qwen2-Audio-7B-Instruct" in str(raised.value)


def test_folder_that_is_not_a_qwen2_audio_checkpoint_is_refused(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="no config.json"):
        QwenAudioCaptioner(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    with pytest.raises(CheckpointError, match="'whisper' model"):
        QwenAudioCaptioner(tmp_path)
    # The right config without its processor and weights fails to load, still naming the param.
    (tmp_path / "config.json").write_text((tiny_checkpoint / "config.json").read_text())
    with pytest.raises(CheckpointError, match=f"curate.captioning.checkpoint: cannot load Qwen2-Audio from {tmp_path}"):
        QwenAudioCaptioner(tmp_path)
