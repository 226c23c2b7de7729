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
a bootstrap interval over items. A prompt set that lists each prompt's concepts (metadata) is
scored on those; otherwise they are read off the prompt text. A named concept a tagger has no
head for is "not measurable": counted apart (`n_not_measurable`), never as a miss.

A tagger can also be wrong the other way. For taggers (not judges, which are only asked about
the named concepts) each item's *false-alarm rate* is the share of the measurable tags its prompt
does not name that the tagger reports present; `margin` is the mean of (coverage - false-alarm
rate) per item, with its interval. A detector that fires whatever the audio gives CCS near its
false-alarm rate and a margin near 0: only a margin above 0 says the clips carry their concepts. Prompts that name no concept cannot be scored: they are left
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
    prompt_concepts: Sequence[Mapping[str, list[str]] | None] | None = None,
) -> dict:
    """CCS of clips against their prompts (interval over items, or over `clusters`, one label per prompt).

    `prompt_concepts` (one per prompt, or None for a prompt whose concepts are read off its text)
    are the concepts a prompt set lists for its prompts. Returns {"value", "low", "high", "n_boot",
    "ci", "per_family", "n_items", "n_excluded", "n_failed", "n_not_measurable", "false_alarm",
    "margin", "per_concept", "failures", "false_alarm_per_item"}; `per_concept` is the
    `coverage_table` frame of the scored items, `failures` a frame of (item, reason) for clips the
    detector could not decide (item = position in `prompts`); `false_alarm` and `margin` are
    {"value", "low", "high"} or None for a judge; `false_alarm_per_item` each scored item's rate
    (a Series by position in `prompts`; NaN where undefined), for pairing margins across systems.
    A judge's answer is a decision, so `threshold` only applies to probabilities.
    """
    if len(prompts) != len(clips):
        raise ValueError(f"{len(prompts)} prompts but {len(clips)} clips; give one clip per prompt")
    if prompt_concepts is not None and len(prompt_concepts) != len(prompts):
        raise ValueError(f"{len(prompt_concepts)} concept lists for {len(prompts)} prompts; give one (or None) per prompt")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}")
    vocabulary = vocabulary or default_vocabulary()
    listed = prompt_concepts or [None] * len(prompts)
    named = [listed_concepts(given, vocabulary) if given is not None else extract_concepts(prompt, vocabulary)
             for prompt, given in zip(prompts, listed)]
    scored_items, measured, detections, false_alarms, failures = [], [], [], [], []
    n_not_measurable = 0
    for item, (clip, concepts) in enumerate(zip(clips, named)):
        # Clips whose prompt names nothing are not sent to the detector: their answer cannot count.
        if not any(concepts.values()):
            scored_items.append(item)
            measured.append(concepts)
            detections.append(set())
            false_alarms.append(np.nan)
            continue
        try:
            output = detector.judge(clip, concepts) if isinstance(detector, PromptConceptJudge) else detector(clip)
        except DetectionFailure as failure:
            failures.append({"item": item, "reason": str(failure)})
            continue
        present = detected_tags(output, threshold, vocabulary)
        heads = set(output) if isinstance(output, Mapping) else None  # a tagger's heads; a judge measures what it is asked
        kept = {family: [tag for tag in tags if heads is None or tag in heads] for family, tags in concepts.items()}
        n_not_measurable += sum(len(tags) for tags in concepts.values()) - sum(len(tags) for tags in kept.values())
        scored_items.append(item)
        measured.append(kept)
        detections.append(present)
        false_alarms.append(_false_alarm_rate(heads, kept, present))
    if failures and len(failures) == sum(any(concepts.values()) for concepts in named):
        raise DetectionFailure(
            f"the CCS detector could not decide for any of the {len(failures)} clips whose prompt names a concept; "
            f"first reason: {failures[0]['reason']}"
        )
    table = coverage_table(measured, detections)
    per_clip = {"n_failed": len(failures), "n_not_measurable": n_not_measurable,
                "failures": pd.DataFrame(failures, columns=["item", "reason"]).astype({"item": np.int64})}
    if table.empty and n_not_measurable:  # every named concept lacks a head: CCS is not a number, and says why
        return {"value": np.nan, "low": np.nan, "high": np.nan, "n_boot": n_boot, "ci": ci,
                "per_family": {family: None for family in FAMILIES}, "n_items": 0, "n_excluded": len(scored_items),
                "false_alarm": None, "margin": None, "per_concept": table, **per_clip,
                "false_alarm_per_item": pd.Series(np.nan, index=scored_items, dtype=float)}
    # coverage_table numbers the scored items 0..k-1; report positions in `prompts` instead.
    table["item"] = np.asarray(scored_items, dtype=np.int64)[table["item"].to_numpy(dtype=np.int64)]
    summary = summarise_coverage(table, len(scored_items), n_boot, seed, ci, clusters)
    return {**summary, **_false_alarm_summary(table, scored_items, false_alarms, n_boot, seed, ci, clusters),
            "per_concept": table, **per_clip, "false_alarm_per_item": pd.Series(false_alarms, index=scored_items, dtype=float)}


def listed_concepts(given: Mapping[str, list[str]], vocabulary: ConceptVocabulary) -> dict[str, list[str]]:
    """A prompt set's own concept lists, checked against the vocabulary (an unknown tag raises)."""
    unknown = sorted(set(given) - set(FAMILIES))
    if unknown:
        raise ValueError(f"concept families {unknown} are not among {FAMILIES}")
    for tags in given.values():
        for tag in tags:
            vocabulary.family_of(tag)
    return {family: list(given.get(family, [])) for family in FAMILIES}


def _false_alarm_rate(heads: set[str] | None, named: dict[str, list[str]], present: set[str]) -> float:
    """Share of a tagger's measurable tags the prompt does not name that it reports present (NaN for a judge)."""
    if heads is None:
        return np.nan
    unnamed = heads - {tag for tags in named.values() for tag in tags}
    return len(unnamed & present) / len(unnamed) if unnamed else np.nan


def _false_alarm_summary(table: pd.DataFrame, scored_items: list[int], false_alarms: list[float], n_boot: int, seed: int,
                         ci: float, clusters: Sequence | None) -> dict:
    """{"false_alarm", "margin"}: the mean false-alarm rate and the mean of coverage minus it, per
    item, with intervals (clusters resampled as for CCS); None for both where nothing could be computed."""
    coverage = table.groupby("item")["detected"].mean()
    rates = pd.Series(false_alarms, index=scored_items, dtype=float).reindex(coverage.index)
    keep = rates.notna().to_numpy()
    if not keep.any():
        return {"false_alarm": None, "margin": None}
    items = coverage.index.to_numpy(dtype=np.int64)[keep]
    groups = None if clusters is None else np.asarray(clusters)[items]
    pick = lambda values: {k: v for k, v in mean_with_ci(values, n_boot, seed, ci, groups).items() if k in ("value", "low", "high")}
    return {"false_alarm": pick(rates.to_numpy()[keep]), "margin": pick(coverage.to_numpy(dtype=float)[keep] - rates.to_numpy()[keep])}
