"""Concept coverage score (CCS): the share of the concepts a prompt names that its clip delivers.

Concepts are the genre, instrument and mood/theme tags `extract_concepts` reads off each
prompt. A *detector* says which tags are present in a clip: any callable taking one clip and
returning either {tag: probability} (an autotagger; kept where probability >= threshold) or a
collection of tag names (a judge that already decided). A `PromptConceptJudge` (an
audio-language model asked about exactly the prompt's concepts, evaluation/judge.py) is told the
prompt's concepts and returns the audible ones. Tags are canonical MTG-Jamendo names.

A detector that cannot decide for a clip (a judge whose answer does not parse) raises
`DetectionFailure`: that item is left out of CCS and listed in `failures` with the reason, never
counted as "detected" or "not detected".

Per item, coverage = detected named concepts / named concepts; CCS is the mean over items, with
a bootstrap interval over items. Prompts that name no concept cannot be scored: they are left
out and counted in `n_excluded`, never scored as 0 or 1. The per-family breakdown averages, over
the items naming at least one concept of that family, the coverage within that family.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Callable, Protocol, Sequence, Union, runtime_checkable

import numpy as np
import pandas as pd

from s2accompanist.evaluation.bootstrap import mean_with_ci
from s2accompanist.evaluation.concepts import FAMILIES, ConceptVocabulary, default_vocabulary, extract_concepts

DetectorOutput = Union[Mapping[str, float], Collection[str]]
ConceptDetector = Callable[[Any], DetectorOutput]


class DetectionFailure(RuntimeError):
    """The detector could not decide for one clip; the message is the reason recorded in `failures`."""


@runtime_checkable
class PromptConceptJudge(Protocol):
    """A detector asked about the prompt's own concepts only, as ATTM asks an audio-language model."""

    def judge(self, clip: Any, candidates: dict[str, list[str]]) -> Collection[str]:
        """The tags of `candidates` ({family: [tag, ...]}) audible in `clip`; raise DetectionFailure if undecided."""
        ...


def detected_tags(output: DetectorOutput, threshold: float, vocabulary: ConceptVocabulary) -> set[str]:
    """The tags a detector output counts as present; unknown tags or bad probabilities raise."""
    if isinstance(output, Mapping):
        present = set()
        for tag, probability in output.items():
            vocabulary.family_of(tag)
            probability = float(probability)
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"detector gave tag {tag!r} probability {probability}; expected a value in [0, 1]")
            if probability >= threshold:
                present.add(tag)
        return present
    if isinstance(output, str) or not isinstance(output, Collection):
        raise TypeError(
            f"detector returned {type(output).__name__}; return {{tag: probability}} or a set of tag names"
        )
    for tag in output:
        vocabulary.family_of(tag)
    return set(output)


def coverage_table(prompt_concepts: Sequence[dict[str, list[str]]], detections: Sequence[set[str]]) -> pd.DataFrame:
    """One row per (item, named concept): item, family, tag, detected."""
    if len(prompt_concepts) != len(detections):
        raise ValueError(f"{len(prompt_concepts)} prompts but {len(detections)} detections; give one clip per prompt")
    rows = [
        {"item": item, "family": family, "tag": tag, "detected": tag in present}
        for item, (concepts, present) in enumerate(zip(prompt_concepts, detections))
        for family in FAMILIES
        for tag in concepts.get(family, [])
    ]
    return pd.DataFrame(rows, columns=["item", "family", "tag", "detected"]).astype({"detected": bool})


def summarise_coverage(table: pd.DataFrame, n_items: int, n_boot: int, seed: int, ci: float = 0.95,
                       clusters: Sequence | None = None) -> dict:
    """CCS, its interval, per-family CCS and the count of items without concepts, from `coverage_table`.
    `clusters` (one label per item number in `table`) resamples clusters for the interval."""
    if table.empty:
        raise ValueError(f"none of the {n_items} prompts names a genre, instrument or mood concept; CCS is undefined")
    per_item = table.groupby("item")["detected"].mean()
    per_family = {
        family: (float(group.groupby("item")["detected"].mean().mean()) if not group.empty else None)
        for family, group in ((family, table[table["family"] == family]) for family in FAMILIES)
    }
    return {
        **mean_with_ci(per_item.to_numpy(dtype=np.float64), n_boot, seed, ci,
                       None if clusters is None else np.asarray(clusters)[per_item.index.to_numpy(dtype=np.int64)]),
        "per_family": per_family,
        "n_items": int(per_item.size),
        "n_excluded": int(n_items - per_item.size),
    }


def concept_coverage(
    prompts: Sequence[str],
    clips: Sequence[Any],
    detector: ConceptDetector | PromptConceptJudge,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    vocabulary: ConceptVocabulary | None = None,
    clusters: Sequence | None = None,
) -> dict:
    """CCS of clips against their prompts (interval over items, or over `clusters`, one label per prompt).

    Returns {"value", "low", "high", "n_boot", "ci", "per_family", "n_items", "n_excluded",
    "n_failed", "per_concept", "failures"}; `per_concept` is the `coverage_table` frame of the
    scored items, `failures` a frame of (item, reason) for clips the detector could not decide
    (item = position in `prompts`). A judge's answer is a decision, so `threshold` only applies to
    probabilities.
    """
    if len(prompts) != len(clips):
        raise ValueError(f"{len(prompts)} prompts but {len(clips)} clips; give one clip per prompt")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}")
    vocabulary = vocabulary or default_vocabulary()
    prompt_concepts = [extract_concepts(prompt, vocabulary) for prompt in prompts]
    scored_items, detections, failures = [], [], []
    for item, (clip, concepts) in enumerate(zip(clips, prompt_concepts)):
        # Clips whose prompt names nothing are not sent to the detector: their answer cannot count.
        if not any(concepts.values()):
            scored_items.append(item)
            detections.append(set())
            continue
        try:
            output = detector.judge(clip, concepts) if isinstance(detector, PromptConceptJudge) else detector(clip)
        except DetectionFailure as failure:
            failures.append({"item": item, "reason": str(failure)})
            continue
        scored_items.append(item)
        detections.append(detected_tags(output, threshold, vocabulary))
    if failures and len(failures) == sum(any(concepts.values()) for concepts in prompt_concepts):
        raise DetectionFailure(
            f"the CCS detector could not decide for any of the {len(failures)} clips whose prompt names a concept; "
            f"first reason: {failures[0]['reason']}"
        )
    table = coverage_table([prompt_concepts[item] for item in scored_items], detections)
    # coverage_table numbers the scored items 0..k-1; report positions in `prompts` instead.
    table["item"] = np.asarray(scored_items, dtype=np.int64)[table["item"].to_numpy(dtype=np.int64)]
    summary = summarise_coverage(table, len(scored_items), n_boot, seed, ci, clusters)
    failed = pd.DataFrame(failures, columns=["item", "reason"]).astype({"item": np.int64})
    return {**summary, "n_failed": len(failures), "per_concept": table, "failures": failed}
