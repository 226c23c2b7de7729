"""CCS by an audio-language-model judge: the prompt, the strict verdict parser, failures recorded with
reasons, Gemini against recorded responses (no network) and Qwen2-Audio on a tiny random checkpoint."""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_qwen2_audio import write_tiny_qwen2_audio

from s2accompanist.checkpoints import CheckpointError
from s2accompanist.curation.captioners import HostedCaptionError
from s2accompanist.evaluation.benchmark import CCSDetector, Embedder, build_ccs_detector, evaluate_system
from s2accompanist.evaluation.ccs import DetectionFailure, concept_coverage
from s2accompanist.evaluation.judge import JudgeAnswerError, LALMConceptJudge, judge_prompt, parse_judge_answer
from s2accompanist.evaluation.judge_models import QwenAudioJudgeModel
from s2accompanist.generation import GenerationRequest

RECORDED = Path(__file__).parent / "recorded"
FAKE_KEY = "AIzaSyFAKE-judge-key-0123456789"
SR = 16_000
PROMPTS = ["happy rock with piano", "sad jazz with electric guitar", "something nice"]
ROCK_PIANO_HAPPY = {"genre": ["rock"], "instrument": ["piano"], "mood/theme": ["happy"]}
EMBEDDER_PARAMS = {"backend": "refclap", "checkpoint": None, "tokenizer": None}
GEMINI_JUDGE = {"backend": "lalm_judge", "threshold": 0.5, "judge": "gemini", "model": "gemini-2.5-pro"}


class ScriptedModel:
    """Answers with the given texts in order and remembers every prompt it was asked."""

    backend = "scripted:judge-v1"

    def __init__(self, *answers):
        self.answers = list(answers)
        self.prompts = []

    def answer(self, audio_mono, sample_rate, prompt, clip_id):
        self.prompts.append(prompt)
        return self.answers.pop(0)


class ReplayTransport:
    def __init__(self, *replies):
        self.replies = list(replies)
        self.calls = []

    def __call__(self, url, headers, body, timeout):
        self.calls.append({"url": url, "headers": dict(headers), "body": body})
        return self.replies.pop(0)


def tone(seconds: float = 1.0, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def embedder() -> Embedder:
    return Embedder("fake embedder", SR, lambda clips: np.ones((len(clips), 4)), lambda texts: np.ones((len(texts), 4)), None)


def gemini_answer(text: str) -> bytes:
    return json.dumps({"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP"}]}).encode()


def test_prompt_names_exactly_the_prompts_concepts_by_family():
    prompt = judge_prompt({"genre": ["rock"], "instrument": ["piano", "electricguitar"], "mood/theme": []})
    assert "- genre: rock\n- instrument: piano, electricguitar\n" in prompt
    assert "mood or theme:" not in prompt
    assert '{"rock": true, "piano": false, "electricguitar": true}' in prompt
    assert "{concept_list}" not in prompt and "{answer_example}" not in prompt
    with pytest.raises(ValueError, match="at least one concept"):
        judge_prompt({"genre": [], "instrument": [], "mood/theme": []})


@pytest.mark.parametrize("answer", ['{"rock": true, "piano": false, "happy": true}',
                                    '```json\n{"happy": true, "rock": true, "piano": false}\n```'])
def test_verdicts_are_read_from_strict_json(answer):
    assert parse_judge_answer(answer, ROCK_PIANO_HAPPY, "m") == {"rock", "happy"}


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("I hear rock and a happy mood, but no piano.", "not a JSON object"),
        ('Sure! {"rock": true, "piano": false, "happy": true}', "not a JSON object"),
        ('[true, false, true]', "not an object of verdicts"),
        ('{"rock": true, "happy": true}', r"no verdict for \['piano'\]"),
        ('{"rock": true, "piano": false, "happy": true, "drums": true}', r"not asked about \['drums'\]"),
        ('{"rock": "yes", "piano": false, "happy": 1}', r"not true/false \{'rock': 'yes', 'happy': 1\}"),
    ],
)
def test_anything_but_a_full_set_of_verdicts_is_a_failure(answer, reason):
    with pytest.raises(JudgeAnswerError, match=reason) as raised:
        parse_judge_answer(answer, ROCK_PIANO_HAPPY, "scripted:judge-v1")
    assert isinstance(raised.value, DetectionFailure)
    assert str(raised.value).startswith("scripted:judge-v1 answer")


def test_unreadable_verdicts_are_recorded_not_scored():
    model = ScriptedModel('{"rock": true, "piano": false, "happy": true}', "Jazz, sadly.")
    judge = LALMConceptJudge(model, SR)
    result = concept_coverage(PROMPTS, [tone(), tone(), tone()], judge, n_boot=50)
    # Item 0 covers 2 of 3; item 1 failed and is left out, not counted as 0 of 3; item 2 names nothing.
    assert result["value"] == pytest.approx(2 / 3)
    assert (result["n_items"], result["n_failed"], result["n_excluded"]) == (1, 1, 1)
    assert result["failures"]["item"].tolist() == [1]
    assert "not a JSON object" in result["failures"]["reason"][0] and "Jazz, sadly." in result["failures"]["reason"][0]
    assert set(result["per_concept"]["item"]) == {0}
    assert len(model.prompts) == 2 and "- genre: jazz" in model.prompts[1]


def test_a_judge_that_never_answers_properly_stops_ccs():
    judge = LALMConceptJudge(ScriptedModel("no", "no"), SR)
    with pytest.raises(DetectionFailure, match=r"any of the 2 clips.*first reason: scripted:judge-v1 answer"):
        concept_coverage(PROMPTS, [tone(), tone(), tone()], judge, n_boot=10)


def test_evaluate_system_names_the_judge_and_keeps_failure_reasons():
    requests = [GenerationRequest(f"p{k}", prompt, 10.0, metadata={"split": "out_of_distribution"}) for k, prompt in enumerate(PROMPTS)]
    judge = LALMConceptJudge(ScriptedModel('{"rock": true, "piano": true, "happy": true}', '{"jazz": true}'), SR)
    row, per_item = evaluate_system("sys", [tone()] * 3, requests, np.zeros((0, 4)), embedder(), 0.5, 20, 0,
                                    ccs_detector=CCSDetector(judge.name, judge))
    assert row["ccs_backend"] == "lalm_judge (scripted:judge-v1; prompt resources/ccs_judge_prompt.txt)"
    assert (row["ccs"], row["ccs_failed"], row["ccs_excluded"]) == (1.0, 1, 1)
    assert per_item["ccs"].tolist()[0] == 1.0 and np.isnan(per_item["ccs"].tolist()[1:]).all()
    assert per_item["ccs_failure"][0] == "" and "no verdict for ['electricguitar', 'sad']" in per_item["ccs_failure"][1]


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", FAKE_KEY)
    return FAKE_KEY


def gemini_detector(*replies):
    transport = ReplayTransport(*replies)
    detector = build_ccs_detector(GEMINI_JUDGE, EMBEDDER_PARAMS, embedder(), "unused", transport=transport,
                                  sleep=lambda s: None, requests_per_minute=6000.0, backoff_s=0.0)
    return detector, transport


def test_gemini_judge_sends_the_clip_and_prompt_and_reads_the_recorded_verdict(api_key):
    detector, transport = gemini_detector((200, {}, (RECORDED / "gemini_judge_ok.json").read_bytes()))
    assert detector.name == "lalm_judge (gemini:gemini-2.5-pro; prompt resources/ccs_judge_prompt.txt)"
    assert detector.detect.judge(tone(1.5), ROCK_PIANO_HAPPY) == {"rock", "happy"}
    (call,) = transport.calls
    assert call["url"].endswith("/models/gemini-2.5-pro:generateContent")
    assert call["headers"]["x-goog-api-key"] == api_key and api_key not in call["url"]
    audio_part, text_part = json.loads(call["body"])["contents"][0]["parts"]
    assert text_part == {"text": judge_prompt(ROCK_PIANO_HAPPY)}
    sent, rate = sf.read(io.BytesIO(base64.b64decode(audio_part["inlineData"]["data"])), dtype="float32")
    assert rate == 16_000 and len(sent) == 24_000


def test_gemini_empty_answers_are_failures_but_refusals_stop(api_key):
    blocked = json.dumps({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}).encode()
    refused = json.dumps({"error": {"code": 403, "message": "permission denied"}}).encode()
    detector, _ = gemini_detector((200, {}, gemini_answer("Rock, with piano.")), (200, {}, blocked), (403, {}, refused))
    with pytest.raises(JudgeAnswerError, match="not a JSON object"):
        detector.detect.judge(tone(), ROCK_PIANO_HAPPY)
    with pytest.raises(JudgeAnswerError, match="PROHIBITED_CONTENT"):
        detector.detect.judge(tone(), ROCK_PIANO_HAPPY)
    with pytest.raises(HostedCaptionError, match="status 403") as raised:
        detector.detect.judge(tone(), ROCK_PIANO_HAPPY)
    assert not isinstance(raised.value, DetectionFailure)


def test_gemini_judge_without_a_key_names_the_param_and_the_variable(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(HostedCaptionError, match=r"evaluate\.ccs\.judge 'gemini'.*export GEMINI_API_KEY"):
        gemini_detector()


def test_lalm_judge_without_a_judge_says_which_keys_to_set():
    with pytest.raises(ValueError, match=r"evaluate\.ccs\.judge set to one of \('qwen', 'gemini'\)"):
        build_ccs_detector({"backend": "lalm_judge", "threshold": 0.5}, EMBEDDER_PARAMS, embedder(), "unused")


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    return write_tiny_qwen2_audio(tmp_path_factory.mktemp("qwen2_audio_judge"))


def test_qwen_judge_runs_a_random_model_end_to_end_to_a_recorded_failure(tiny_qwen):
    detector = build_ccs_detector({"backend": "lalm_judge", "judge": "qwen", "checkpoint": str(tiny_qwen)},
                                  EMBEDDER_PARAMS, embedder(), "unused", device="cpu", max_new_tokens=8)
    assert detector.name.startswith("lalm_judge (qwen2_audio:qwen2_audio_judge")
    # Random weights write gibberish, never JSON: the parse failure proves the whole path ran.
    with pytest.raises(JudgeAnswerError, match=r"qwen2_audio:qwen2_audio_judge\w* answer is not a JSON object"):
        detector.detect.judge(tone(), ROCK_PIANO_HAPPY)
    with pytest.raises(DetectionFailure, match=r"any of the 1 clips.*not a JSON object"):
        concept_coverage(PROMPTS[:1], [tone()], detector.detect, n_boot=10)


def test_qwen_judge_decodes_the_answer_after_the_prompt(tiny_qwen, monkeypatch):
    model = QwenAudioJudgeModel(tiny_qwen, max_new_tokens=40)
    answer = '{"rock": false, "piano": true, "happy": true}'
    answer_ids = model.processor.tokenizer(answer + "<|im_end|>", return_tensors="pt")["input_ids"]
    seen = {}

    def scripted_generate(**inputs):
        seen.update(inputs)
        return torch.cat([inputs["input_ids"], answer_ids], dim=1)

    monkeypatch.setattr(model.model, "generate", scripted_generate)
    assert LALMConceptJudge(model, 44_100).judge(tone(3.0), ROCK_PIANO_HAPPY) == {"piano", "happy"}
    prompt_text = model.processor.tokenizer.decode(seen["input_ids"][0])
    assert judge_prompt(ROCK_PIANO_HAPPY) in prompt_text and prompt_text.count("<|AUDIO|>") >= 1
    assert seen["do_sample"] is False and seen["max_new_tokens"] == 40


def test_qwen_judge_checkpoint_errors_name_the_judge_param(tmp_path):
    with pytest.raises(CheckpointError, match=r"evaluate\.ccs\.checkpoint is null.*Qwen2-Audio-7B-Instruct"):
        QwenAudioJudgeModel(None)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    with pytest.raises(CheckpointError, match=r"evaluate\.ccs\.checkpoint: .* 'whisper' model") as raised:
        QwenAudioJudgeModel(tmp_path)
    assert "curate.captioning" not in str(raised.value)
