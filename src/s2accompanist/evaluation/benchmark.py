"""The `evaluate` stage: score every generated variant with the ATTM protocol and its extras.

Per system: FAD of its in-distribution clips against the reference clips (bootstrap CI), CLAP
score against each clip's prompt, CCS over the concepts each prompt names, boundary hit rate and
segment-level alignment for structured prompts, parameter counts and the sampling real-time
factor. Every number is stored beside the name of the backend that computed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from ..audio import load_audio, resample
from ..generation import GenerationRequest
from .ccs import ConceptDetector, PromptConceptJudge, concept_coverage
from .baselines import can_pair_across, derangement, shuffled_clap_score
from .clap_score import clap_score
from .fad import fad_infinity, fad_with_ci
from .structure import boundary_detection, boundary_hit_rate, segment_alignment


@dataclass
class Embedder:
    """Audio and text embedding in one space, plus concept-tag probabilities for CCS."""

    name: str
    sample_rate: int
    embed_audio: Callable[[list[np.ndarray]], np.ndarray]
    embed_text: Callable[[list[str]], np.ndarray]
    tag_probabilities: Callable[[np.ndarray], dict[str, float]] | None
    # The model's learned audio-text temperature, for zero-shot scoring; None where unknown.
    logit_scale: float | None = None


@dataclass
class CCSDetector:
    """Concept detection for CCS and the name recorded in the `ccs_backend` column. `detect` takes
    one mono clip at the embedder's sample rate: a tagger ({tag: probability}) or a judge told the
    prompt's concepts (`ccs.PromptConceptJudge`)."""

    name: str
    detect: ConceptDetector | PromptConceptJudge


def reference_clap_embedder(checkpoint: str) -> Embedder:
    from ..models.reference_clap import load_reference_clap
    from ..models.text_encoders import build_text_encoder

    model = load_reference_clap(checkpoint, "evaluate.embedder (the refclap stage's checkpoint)")
    return _clap_like_embedder("refclap (in-domain reference CLAP)", model, build_text_encoder("minilm"))


def judge_report_path(checkpoint: str | Path) -> Path:
    """The report beside a judge checkpoint (training/base_judge.py writes it), which pins its sha256."""
    return Path(checkpoint).with_suffix(".json")


def judge_embedder(checkpoint: str | None) -> Embedder:
    """The pinned judge (training/base_judge.py): refused unless the file is the one its report pins."""
    from ..checkpoints import file_sha256
    from ..models.hashed_words import BACKEND, HashedWords
    from ..models.reference_clap import load_reference_clap

    if not checkpoint:
        raise ValueError("evaluate.embedder.backend 'judge' reads evaluate.embedder.checkpoint, which is not set; "
                         "point it at data/judge/judge.safetensors (versioned in git; `make base-judge` regenerates it)")
    report_file = judge_report_path(checkpoint)
    if not Path(checkpoint).is_file() or not report_file.is_file():
        raise FileNotFoundError(f"evaluate.embedder.checkpoint {checkpoint}: the judge or its report {report_file} is missing; "
                                "restore data/judge/ from git or regenerate both with `make base-judge`")
    report = json.loads(report_file.read_text())
    digest = file_sha256(checkpoint, length=64)
    if digest != report.get("sha256"):
        raise ValueError(f"evaluate.embedder.checkpoint {checkpoint} is not the pinned judge: its sha256 is {digest}, "
                         f"{report_file} pins {report.get('sha256')}; restore the file from git, or retrain both with "
                         "`make base-judge` and commit them together")
    if not str(report.get("text_features", "")).startswith(BACKEND):
        raise ValueError(f"{report_file} says the judge reads text as {report.get('text_features')!r}; this code reads it as {BACKEND}")
    model = load_reference_clap(checkpoint, "evaluate.embedder.checkpoint (the judge)")
    return _clap_like_embedder(f"judge (independent reference CLAP, sha256 {digest[:12]})", model, HashedWords(model.config.text_dim))


def _clap_like_embedder(name: str, model, text_encoder) -> Embedder:
    """An Embedder over a reference-CLAP-architecture model and the text encoder its text branch was trained on."""
    minimum = model.config.min_samples

    def padded(clip: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.pad(clip, (0, max(0, minimum - len(clip))))).float()[None]

    @torch.no_grad()
    def embed_audio(clips: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([model.embed_audio(padded(c)).numpy() for c in clips])

    @torch.no_grad()
    def embed_text(texts: list[str]) -> np.ndarray:
        return model.embed_text(text_encoder.encode(texts).pooled).numpy()

    @torch.no_grad()
    def tags(clip: np.ndarray) -> dict[str, float]:
        return dict(zip(model.tag_names, model.tag_probabilities(padded(clip))[0].tolist()))

    return Embedder(name, model.sample_rate, embed_audio, embed_text, tags)


def build_embedder(embedder: dict[str, Any], refclap_checkpoint: str) -> Embedder:
    if embedder["backend"] == "refclap":
        return reference_clap_embedder(refclap_checkpoint)
    if embedder["backend"] == "judge":
        return judge_embedder(embedder["checkpoint"])
    from ..models.laion_clap_backend import LaionClap

    clap = LaionClap.load(embedder["checkpoint"], embedder["tokenizer"], "evaluate.embedder")
    return Embedder("clap_laion_music (music_audioset_epoch_15_esc_90.14)", 48000,
                    lambda clips: np.concatenate([clap.embed_audio(c[None], 48000) for c in clips]),
                    clap.embed_text, None, clap.logit_scale)


def build_ccs_detector(ccs: dict[str, Any], embedder_params: dict[str, Any], embedder: Embedder,
                       refclap_checkpoint: str, **judge_settings: Any) -> CCSDetector:
    """The detector evaluate.ccs.backend names, sharing the evaluation embedder's model where it is
    the same one; clips arrive at `embedder.sample_rate` and are resampled for another model.

    'lalm_judge' reads evaluate.ccs.judge (qwen | gemini), evaluate.ccs.checkpoint (qwen: local
    folder) and evaluate.ccs.model (gemini: model name); `judge_settings` go to the judge model's
    constructor (e.g. a device, or a test's recorded transport)."""
    backend = ccs["backend"]
    if backend == "refclap_tags":
        # The evaluation embedder's own tag heads where it has them (refclap, the judge), else the reference CLAP's.
        tagger = embedder if embedder.tag_probabilities is not None else reference_clap_embedder(refclap_checkpoint)
        return CCSDetector(f"{tagger.name} tag heads", _at_rate(tagger.tag_probabilities, embedder.sample_rate, tagger.sample_rate))
    if backend == "laion_zero_shot":
        from .zero_shot import PROMPT_TEMPLATE, ZeroShotConceptDetector

        clap = embedder if embedder_params["backend"] == "clap_laion_music" else _laion_clap_for_ccs(embedder_params, refclap_checkpoint)
        detector = ZeroShotConceptDetector(clap.embed_audio, clap.embed_text, clap.logit_scale)
        return CCSDetector(f"laion_zero_shot ({clap.name}; prompts '{PROMPT_TEMPLATE}', softmax per family)",
                           _at_rate(detector, embedder.sample_rate, clap.sample_rate))
    if backend == "lalm_judge":
        from .judge import LALMConceptJudge
        from .judge_models import build_judge_model

        judge = LALMConceptJudge(build_judge_model(ccs, **judge_settings), embedder.sample_rate)
        return CCSDetector(judge.name, judge)
    raise ValueError(f"evaluate.ccs.backend {backend!r} is unknown; use refclap_tags, laion_zero_shot or lalm_judge")


def _laion_clap_for_ccs(embedder_params: dict[str, Any], refclap_checkpoint: str) -> Embedder:
    if not embedder_params["checkpoint"] or not embedder_params["tokenizer"]:
        raise ValueError(
            "evaluate.ccs.backend 'laion_zero_shot' loads LAION-CLAP from evaluate.embedder.checkpoint and "
            "evaluate.embedder.tokenizer, which are not both set; point them at music_audioset_epoch_15_esc_90.14.pt "
            "and a local roberta-base folder, or use evaluate.ccs.backend 'refclap_tags'")
    return build_embedder({**embedder_params, "backend": "clap_laion_music"}, refclap_checkpoint)


def _at_rate(tag_probabilities: Callable[[np.ndarray], dict[str, float]], clip_rate: int,
             model_rate: int) -> Callable[[np.ndarray], dict[str, float]]:
    if clip_rate == model_rate:
        return tag_probabilities
    return lambda clip: tag_probabilities(resample(clip, clip_rate, model_rate)[0])


def embedder_tag_heads(embedder: Embedder) -> CCSDetector | None:
    """The embedder's own tag heads as a CCS detector (the refclap_tags default); None without them."""
    if embedder.tag_probabilities is None:
        return None
    return CCSDetector(f"{embedder.name} tag heads", embedder.tag_probabilities)


def song_clusters(requests: list[GenerationRequest]) -> np.ndarray:
    """Each request's cluster for the intervals: its held-out song (`track_id`); a prompt without
    one (out of distribution, written from tags) is a cluster of its own."""
    return np.array([str(r.metadata.get("track_id") or f"prompt:{r.id}") for r in requests])


def fad_scores(audio_emb: np.ndarray, reference_emb: np.ndarray, clusters, n_boot: int, seed: int) -> dict[str, Any]:
    """FAD as ATTM computes it with its song-clustered interval, and FAD-infinity (the same embeddings
    without the small-sample bias) where there are clips enough to extrapolate, NaN otherwise, with
    the counts that say why (fad.fad_infinity)."""
    fad = fad_with_ci(audio_emb, reference_emb, n_boot, seed, eval_clusters=clusters)
    infinity = fad_infinity(audio_emb, reference_emb, seed)
    return {"fad_clap": fad["value"], "fad_clap_low": fad["low"], "fad_clap_high": fad["high"],
            "fad_clap_inf": infinity["value"] if infinity["reliable"] else float("nan"),
            "fad_n_eval": infinity["n_eval"], "fad_n_ref": infinity["n_ref"], "embedding_dims": infinity["dims"]}


def load_clips(folder: Path, ids: list[str], sample_rate: int) -> list[np.ndarray]:
    return [load_audio(folder / f"{item}.wav", sample_rate, 1)[0] for item in ids]


def evaluate_system(name: str, clips: list[np.ndarray], requests: list[GenerationRequest], reference_emb: np.ndarray,
                    embedder: Embedder, ccs_threshold: float, n_boot: int, seed: int,
                    ccs_detector: CCSDetector | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """One row of scores (value, CI, backend per metric) and per-item scores (with each clip's audio
    embedding, for paired differences of set-level metrics such as FAD). Intervals resample held-out
    songs (`song_clusters`), not clips: clips of one song are not independent. CCS uses
    `ccs_detector` (from `build_ccs_detector`), or when None the embedder's own tag heads; clips
    the detector could not decide are counted in `ccs_failed` and their reasons kept per item in
    `ccs_failure` (empty where it decided)."""
    detector = ccs_detector or embedder_tag_heads(embedder)
    audio_emb = embedder.embed_audio(clips)
    text_emb = embedder.embed_text([r.prompt for r in requests])
    in_dist = np.array([r.metadata.get("split") == "in_distribution" for r in requests])
    clusters = song_clusters(requests)
    row: dict[str, Any] = {"system": name, "n_clips": len(clips), "n_songs": len(set(clusters[in_dist]))}
    if in_dist.sum() >= 2 and len(reference_emb) >= 2:
        row.update(fad_scores(audio_emb[in_dist], reference_emb, clusters[in_dist], n_boot, seed))
    clap = clap_score(audio_emb, text_emb, n_boot, seed, clusters=clusters)
    row.update(clap_score=clap["value"], clap_score_low=clap["low"], clap_score_high=clap["high"])
    if can_pair_across(clusters):  # the same clips against other songs' prompts: the prompt-following floor
        shuffled = shuffled_clap_score(audio_emb, text_emb, n_boot, seed, clusters=clusters)
        row.update(clap_score_shuffled=shuffled["value"], clap_score_shuffled_low=shuffled["low"],
                   clap_score_shuffled_high=shuffled["high"])
    per_item = pd.DataFrame({"system": name, "id": [r.id for r in requests], "song": clusters, "clap": clap["per_item"],
                             "split": [r.metadata.get("split", "") for r in requests],
                             "audio_embedding": list(np.asarray(audio_emb, dtype=np.float32))})
    if detector is not None:
        # The prompt set's own concept lists where it has them: re-reading them off the text counted
        # words the detector has no head for (tempo words read as moods) as misses.
        ccs = concept_coverage([r.prompt for r in requests], clips, detector.detect, ccs_threshold, n_boot, seed,
                               clusters=clusters, prompt_concepts=[r.metadata.get("concepts") for r in requests])
        row.update(ccs=ccs["value"], ccs_low=ccs["low"], ccs_high=ccs["high"], ccs_excluded=ccs["n_excluded"],
                   ccs_failed=ccs["n_failed"], ccs_not_measurable=ccs["n_not_measurable"])
        for name in ("false_alarm", "margin"):  # taggers only: how often it fires on concepts the prompt does not name
            if ccs[name] is not None:
                row.update({f"ccs_{name}": ccs[name]["value"], f"ccs_{name}_low": ccs[name]["low"],
                            f"ccs_{name}_high": ccs[name]["high"]})
        row.update({f"ccs_{family.replace('/', '_')}": value for family, value in (ccs["per_family"] or {}).items()})
        per_item["ccs"] = ccs["per_concept"].groupby("item")["detected"].mean().reindex(range(len(requests))).to_numpy()
        # Per clip, coverage minus the tagger's false alarms: what the ablation pairs (raw CCS rewards a tagger firing everywhere).
        per_item["ccs_margin"] = per_item["ccs"] - ccs["false_alarm_per_item"].reindex(range(len(requests))).to_numpy()
        per_item["ccs_failure"] = ccs["failures"].set_index("item")["reason"].reindex(range(len(requests))).fillna("").to_numpy()
    row.update(fad_backend=embedder.name, clap_backend=embedder.name,
               ccs_backend=detector.name if detector is not None else "not computed")
    return row, per_item


def structure_scores(clips: list[np.ndarray], requests: list[GenerationRequest], embedder: Embedder,
                     sample_rate: int, n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """Boundary hit rate (classical segmentation of the clip vs requested sections, 0.5 s) and
    segment alignment (each requested span's audio against its own caption), each with a
    bootstrap interval over the structured prompts' songs (`<metric>_low` / `<metric>_high`)."""
    from ..curation.segmentation import segment_track

    requested, estimated, span_audio, span_captions, span_items, songs = [], [], [], [], [], []
    for clip, request, song in zip(clips, requests, song_clusters(requests)):
        if len(request.segments) < 2:
            continue
        songs.append(song)
        requested.append(np.array([[s.start_s, s.end_s] for s in request.segments]))
        estimated.append(np.array([[s.start_s, s.end_s] for s in segment_track(clip, sample_rate, min_segment_s=2.0)]))
        for segment in request.segments:
            span_audio.append(clip[int(segment.start_s * sample_rate):int(segment.end_s * sample_rate)])
            span_captions.append(segment.caption or request.prompt)
            span_items.append(request.id)
    if not requested:
        return {}
    hits = boundary_hit_rate(requested, estimated, tolerance=0.5, n_boot=n_boot, seed=seed, clusters=songs)
    item_songs = {r.id: song for r, song in zip(requests, song_clusters(requests))}
    alignment = segment_alignment(embedder.embed_audio(span_audio), embedder.embed_text(span_captions), span_items,
                                  n_boot=n_boot, seed=seed, item_clusters=item_songs)
    detection = boundary_detection(requested, estimated, tolerance=0.5, n_boot=n_boot, seed=seed, clusters=songs)
    # Chance: the same clips' boundaries scored against the layout another song's prompt asked for.
    chance = (boundary_detection([requested[j] for j in derangement(len(requested), seed, songs)], estimated, 0.5, 1, seed)
              if can_pair_across(songs) else None)
    boundaries = {f"boundary_{name}{suffix}": detection[name][key] for name in ("precision", "f")
                  for suffix, key in (("", "value"), ("_low", "low"), ("_high", "high"))}
    if chance is not None:
        boundaries.update(boundary_hit_rate_chance=chance["recall"]["value"], boundary_f_chance=chance["f"]["value"])
    return {**boundaries, "boundary_hit_rate": hits["value"], "boundary_hit_rate_low": hits["low"], "boundary_hit_rate_high": hits["high"],
            "segment_alignment": alignment["value"], "segment_alignment_low": alignment["low"],
            "segment_alignment_high": alignment["high"], "own_caption_rate": alignment["own_caption_rate"],
            "own_caption_chance": alignment["own_caption_chance"],
            "structured_prompts": len(requested), "structure_backend": f"classical segmentation; {embedder.name}"}


def parameter_counts(checkpoints: dict[str, Path]) -> dict[str, int]:
    from safetensors import safe_open

    counts = {}
    for name, path in checkpoints.items():
        with safe_open(str(path), framework="pt") as handle:
            counts[name] = int(sum(np.prod(handle.get_slice(k).get_shape()) for k in handle.keys()))
    return counts


def sidecar_of(folder: Path, item: str) -> dict[str, Any]:
    return json.loads((folder / f"{item}.json").read_text())
