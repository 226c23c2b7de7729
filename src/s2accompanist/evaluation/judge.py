"""CCS by an audio-language-model judge (`evaluate.ccs.backend: lalm_judge`), as ATTM judged with Qwen3-Omni.

Per clip, the model hears the audio and is asked about exactly the concepts its prompt names
(resources/ccs_judge_prompt.txt lists them by family as MTG-Jamendo tags). It must answer with one
JSON object holding a true/false verdict for every listed tag and nothing else. Anything short of
that (prose, a missing or extra tag, "yes" instead of true) raises `JudgeAnswerError`, which CCS
records as a failure with its reason: an unreadable verdict is neither a detection nor a miss.

The model is anything with `backend` (a name for the tables) and
`answer(audio_mono, sample_rate, prompt, clip_id) -> str`; evaluation/judge_models.py has the hosted
Gemini and the local Qwen2-Audio ones, built on the curation captioners' clients.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any, Protocol

import numpy as np

from ..curation.captioners.hosted_http import HostedCaptionError
from .ccs import DetectionFailure
from .concepts import FAMILIES

PROMPT_RESOURCE = "ccs_judge_prompt.txt"
CONCEPTS_PLACEHOLDER = "{concept_list}"
EXAMPLE_PLACEHOLDER = "{answer_example}"
FAMILY_WORDS = {"genre": "genre", "instrument": "instrument", "mood/theme": "mood or theme"}
EXCERPT_CHARS = 200
# Models asked for "JSON only" still often wrap it in a Markdown fence; the fence carries no verdict.
_FENCE = re.compile(r"\A```(?:json)?\s*\n(.*)\n\s*```\Z", re.DOTALL)


class JudgeAnswerError(DetectionFailure):
    """The judge's answer for one clip is not the strict verdict the prompt asks for."""


class AudioLanguageModel(Protocol):
    backend: str

    def answer(self, audio_mono: np.ndarray, sample_rate: int, prompt: str, clip_id: str) -> str:
        """The model's text answer to `prompt` about the clip."""
        ...


def asked_tags(candidates: dict[str, list[str]]) -> list[str]:
    """The prompt's concepts in family order, each once."""
    tags: list[str] = []
    for family in FAMILIES:
        tags.extend(tag for tag in candidates.get(family, []) if tag not in tags)
    return tags


def judge_prompt(candidates: dict[str, list[str]]) -> str:
    """The judge prompt for one clip whose prompt names `candidates` ({family: [tag, ...]})."""
    tags = asked_tags(candidates)
    if not tags:
        raise ValueError("a judge prompt needs at least one concept; prompts naming none are left out of CCS")
    template = (resources.files("s2accompanist") / "resources" / PROMPT_RESOURCE).read_text(encoding="utf-8")
    for placeholder in (CONCEPTS_PLACEHOLDER, EXAMPLE_PLACEHOLDER):
        if placeholder not in template:
            raise ValueError(f"resources/{PROMPT_RESOURCE} has lost its {placeholder} placeholder; restore it")
    concept_list = "\n".join(
        f"- {FAMILY_WORDS[family]}: {', '.join(candidates[family])}" for family in FAMILIES if candidates.get(family)
    )
    # The example alternates verdicts so it cannot be read as "answer true to everything".
    example = json.dumps({tag: index % 2 == 0 for index, tag in enumerate(tags)})
    return template.replace(CONCEPTS_PLACEHOLDER, concept_list).replace(EXAMPLE_PLACEHOLDER, example)


def parse_judge_answer(text: str, candidates: dict[str, list[str]], backend: str) -> set[str]:
    """The tags the answer marks true; JudgeAnswerError, with what was wrong, for anything else."""
    tags = asked_tags(candidates)
    body = text.strip()
    fenced = _FENCE.match(body)
    try:
        answer = json.loads(fenced.group(1) if fenced else body)
    except json.JSONDecodeError as err:
        raise JudgeAnswerError(f"{backend} answer is not a JSON object ({err.msg}): {_excerpt(text)!r}") from None
    if not isinstance(answer, dict):
        raise JudgeAnswerError(f"{backend} answer is JSON but not an object of verdicts: {_excerpt(text)!r}")
    problems = []
    missing = [tag for tag in tags if tag not in answer]
    if missing:
        problems.append(f"no verdict for {missing}")
    extra = sorted(key for key in answer if key not in tags)
    if extra:
        problems.append(f"verdicts for concepts it was not asked about {extra}")
    not_boolean = {tag: answer[tag] for tag in tags if tag in answer and not isinstance(answer[tag], bool)}
    if not_boolean:
        problems.append(f"verdicts that are not true/false {not_boolean}")
    if problems:
        raise JudgeAnswerError(f"{backend} answer has {'; '.join(problems)}: {_excerpt(text)!r}")
    return {tag for tag in tags if answer[tag]}


class LALMConceptJudge:
    """A `ccs.PromptConceptJudge`: asks `model` about each clip's prompt concepts and parses the verdict.

    Clips arrive mono at `sample_rate`; the model resamples them to the rate it listens at.
    """

    def __init__(self, model: AudioLanguageModel, sample_rate: int):
        self.model = model
        self.sample_rate = int(sample_rate)
        self.name = f"lalm_judge ({model.backend}; prompt resources/{PROMPT_RESOURCE})"

    def __repr__(self) -> str:
        return f"LALMConceptJudge({self.name!r})"

    def judge(self, clip: Any, candidates: dict[str, list[str]]) -> set[str]:
        prompt = judge_prompt(candidates)
        try:
            text = self.model.answer(np.asarray(clip), self.sample_rate, prompt, "ccs clip")
        except HostedCaptionError as err:
            # Status 200: the service answered, but with nothing to read (blocked, out of tokens);
            # that is this clip's verdict missing. Refusals and outages stop the stage instead.
            if err.status == 200:
                raise JudgeAnswerError(str(err)) from err
            raise
        return parse_judge_answer(text, candidates, self.model.backend)


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."
