"""The audio-language models a CCS judge can ask: Gemini (hosted) and Qwen2-Audio (local folder).

Both reuse the curation captioners: the same API-key handling, retries and rate limit for Gemini,
the same offline checkpoint loading and greedy decoding for Qwen2-Audio. Only the question
differs (the judge prompt instead of the captioning prompt), and the raw answer is returned for
evaluation/judge.py to parse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoints import CheckpointError
from ..curation.captioners.gemini import GeminiCaptioner
from ..curation.captioners.hosted_http import HostedCaptionError
from ..curation.captioners.qwen_audio import CHECKPOINT_PARAM as CAPTIONING_CHECKPOINT_PARAM
from ..curation.captioners.qwen_audio import QwenAudioCaptioner, chat_messages
from ..curation.captioners.segment_audio import mono_at_rate

JUDGE_PARAM = "evaluate.ccs.judge"
CHECKPOINT_PARAM = "evaluate.ccs.checkpoint"
MODEL_PARAM = "evaluate.ccs.model"
JUDGES = ("qwen", "gemini")


class GeminiJudgeModel(GeminiCaptioner):
    """Gemini asked the judge prompt; key from the environment only, retried and rate-limited like captions."""

    def __init__(self, model: str = "gemini-2.5-pro", api_key_env: str = "GEMINI_API_KEY", **settings: Any):
        if not os.environ.get(api_key_env, "").strip():
            raise HostedCaptionError(
                f"{JUDGE_PARAM} 'gemini' needs an API key in the environment variable {api_key_env}, which is not set; "
                f"run `export {api_key_env}=...` (the key is read only from the environment, never from params.yaml)"
            )
        super().__init__(model=model, api_key_env=api_key_env, **settings)

    def __repr__(self) -> str:
        return f"GeminiJudgeModel(model={self.model!r}, api_key_env={self.api_key_env!r})"


class QwenAudioJudgeModel:
    """Qwen2-Audio from a local folder asked the judge prompt, decoded greedily (the same verdict every run)."""

    def __init__(self, checkpoint: str | Path | None, device: str = "cpu", max_new_tokens: int = 128):
        if checkpoint is None:
            raise CheckpointError(
                f"{CHECKPOINT_PARAM} is null but {JUDGE_PARAM} is 'qwen'; download Qwen/Qwen2-Audio-7B-Instruct "
                f"(`huggingface-cli download Qwen/Qwen2-Audio-7B-Instruct --local-dir FOLDER`) and set {CHECKPOINT_PARAM}"
            )
        try:
            loaded = QwenAudioCaptioner(checkpoint, device=device, max_new_tokens=max_new_tokens)
        except CheckpointError as err:
            # The captioner's checks fit the judge's folder too; only the params key they name differs.
            raise CheckpointError(str(err).replace(CAPTIONING_CHECKPOINT_PARAM, CHECKPOINT_PARAM)) from err
        self.processor, self.model = loaded.processor, loaded.model
        self.device, self.max_new_tokens = device, max_new_tokens
        self.backend = loaded.backend

    def __repr__(self) -> str:
        return f"QwenAudioJudgeModel(backend={self.backend!r}, device={self.device!r})"

    def answer(self, audio_mono: np.ndarray, sample_rate: int, prompt: str, clip_id: str) -> str:
        """The answer about the clip's first 30 s (the processor's window; ATTM clips are 10 s)."""
        extractor = self.processor.feature_extractor
        audio = mono_at_rate(audio_mono, sample_rate, extractor.sampling_rate, clip_id)[: extractor.n_samples]
        text = self.processor.apply_chat_template(chat_messages(prompt), add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=text, audio=audio, sampling_rate=extractor.sampling_rate, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            generated = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        return self.processor.batch_decode(generated[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]


def build_judge_model(ccs: dict[str, Any], **settings: Any) -> GeminiJudgeModel | QwenAudioJudgeModel:
    """The model evaluate.ccs.judge names; `settings` go to its constructor (a test's transport, a device)."""
    judge = ccs.get("judge")
    if judge == "gemini":
        return GeminiJudgeModel(model=ccs.get("model") or "gemini-2.5-pro", **settings)
    if judge == "qwen":
        device = settings.pop("device", "cuda" if torch.cuda.is_available() else "cpu")
        return QwenAudioJudgeModel(ccs.get("checkpoint"), device=device, **settings)
    raise ValueError(
        f"evaluate.ccs.backend 'lalm_judge' needs {JUDGE_PARAM} set to one of {JUDGES} (got {judge!r}); with 'qwen' set "
        f"{CHECKPOINT_PARAM} to a local Qwen2-Audio folder, with 'gemini' set {MODEL_PARAM} and export GEMINI_API_KEY"
    )
