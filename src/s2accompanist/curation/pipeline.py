"""The `curate` stage: tracks -> working-rate instrumental audio -> graded, captioned segments.

Steps per track: decode and validate (bad audio becomes a reject with its reason), instrumental
extraction, structural segmentation, then per segment: measured musical facts, a caption with its
concepts (a segment an audio-language model could not caption becomes a reject), a quality grade,
and the text-audio alignment of the caption. Finally the dual-metric grade and the top-fraction
selection over all segments. Each step is a backend object named in params (`build_backends`,
step classes in `step_backends`); every row records the backends that produced it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from ..audio import AudioError, load_audio, write_audio
from ..io import write_parquet
from .cache import ARRAY, JSON, ItemCache, audio_digest, file_digest, item_key
from .captioners.caption_response import Caption
from .captioners.hosted_http import HostedCaptionError
from .executors import run_items
from .musical_facts import MusicalFacts, measure_facts
from .refclap_backend import ReferenceClapBackend
from .segmentation import Segment, read_songformer_json, segment_track
from .selection import grade_and_select
from .step_backends import (
    Aligner,
    AudioboxGrader,
    AudioLanguageCaptioner,
    CaptionRejected,
    Captioner,
    FactsCaptioner,
    LaionClapAligner,
    QualityGrader,
    ReferenceClapAligner,
    SignalGrader,
)

REJECT_COLUMNS = ["id", "stage", "reason"]


class BackendUnavailable(RuntimeError):
    """A backend named in params cannot run here; the message says what it needs."""


@dataclass
class Backends:
    """The steps of one curation run, with the names recorded in every row."""

    separate: Callable[[np.ndarray, int], np.ndarray]
    segment: Callable[[str, np.ndarray, int], list[Segment]]
    captioner: Captioner
    quality: QualityGrader
    aligner: Aligner
    names: dict[str, str]


def build_backends(curate: dict[str, Any], refclap_checkpoint: str) -> Backends:
    """One backend per step, as curate.<step>.backend names it; the reference CLAP is loaded only
    when a step uses it."""
    from .separation import build_separator

    check_available(curate)
    separate = build_separator(curate["separation"], device=_inference_device())
    refclap = _lazy_refclap(refclap_checkpoint)
    captioner = build_captioner(curate["captioning"], refclap)
    quality = build_quality(curate["quality"])
    aligner = build_aligner(curate["alignment"], refclap)
    return Backends(
        separate=separate,
        segment=build_segmentation(curate["segmentation"]),
        captioner=captioner,
        quality=quality,
        aligner=aligner,
        # A loaded model names its checkpoint file and hash; `none` is just its backend name.
        names={"separation": getattr(separate, "name", curate["separation"]["backend"]), "segmentation": curate["segmentation"]["backend"],
               "captioning": captioner.backend, "quality": quality.name, "alignment": aligner.name},
    )


def check_available(curate: dict[str, Any]) -> None:
    """Refuse the backends this environment cannot run, before any model is loaded."""
    from ..models.mulan_backend import mulan_unavailable_reason

    alignment = curate["alignment"]
    if alignment["backend"] == "mulan":
        raise BackendUnavailable(mulan_unavailable_reason("curate.alignment.backend", "mulan", "curate.alignment.checkpoint",
                                                          alignment["checkpoint"])
                                 + "; use 'laion_clap' or 'refclap'")


def build_segmentation(segmentation: dict[str, Any]) -> Callable[[str, np.ndarray, int], list[Segment]]:
    if segmentation["backend"] == "songformer":
        folder = Path(segmentation["songformer_dir"] or "")
        if not folder.is_dir():
            raise FileNotFoundError(f"curate.segmentation.songformer_dir: {folder} is not a folder of SongFormer <track_id>.json outputs")
        return lambda track_id, mono, sample_rate: read_songformer_json(folder / f"{track_id}.json")
    return lambda track_id, mono, sample_rate: segment_track(mono, sample_rate, min_segment_s=segmentation["min_segment_s"])


def build_captioner(captioning: dict[str, Any], refclap: Callable[[], ReferenceClapBackend]) -> Captioner:
    if captioning["backend"] == "gemini":
        from .captioners import GeminiCaptioner

        return AudioLanguageCaptioner(GeminiCaptioner())
    if captioning["backend"] == "qwen":
        from .captioners import QwenAudioCaptioner

        return AudioLanguageCaptioner(QwenAudioCaptioner(captioning["checkpoint"], device=_inference_device()))
    if captioning["backend"] == "facts":
        return FactsCaptioner(refclap())
    raise _unknown("captioning", captioning["backend"], ("facts", "qwen", "gemini"))


def build_quality(quality: dict[str, Any]) -> QualityGrader:
    if quality["backend"] == "audiobox":
        from ..models.audiobox_backend import AudioboxAesthetics

        return AudioboxGrader(AudioboxAesthetics.load(quality["checkpoint"], "curate.quality.checkpoint", device=_inference_device()))
    if quality["backend"] == "signal":
        return SignalGrader()
    raise _unknown("quality", quality["backend"], ("signal", "audiobox"))


def build_aligner(alignment: dict[str, Any], refclap: Callable[[], ReferenceClapBackend]) -> Aligner:
    if alignment["backend"] == "laion_clap":
        from ..models.laion_clap_backend import LaionClap

        return LaionClapAligner(LaionClap.load(alignment["checkpoint"], alignment["tokenizer"], "curate.alignment"))
    if alignment["backend"] == "refclap":
        return ReferenceClapAligner(refclap())
    raise _unknown("alignment", alignment["backend"], ("refclap", "laion_clap", "mulan"))


def _unknown(step: str, backend: str, known: tuple[str, ...]) -> ValueError:
    return ValueError(f"curate.{step}.backend {backend!r} is not a {step} backend; use one of {known}")


def _inference_device() -> str:
    # The pretrained models (a 7B audio-language model, Audiobox) are impractically slow on CPU.
    return "cuda" if torch.cuda.is_available() else "cpu"


def _lazy_refclap(checkpoint: str) -> Callable[[], ReferenceClapBackend]:
    """A loader that builds the reference CLAP on first call and shares it between the steps."""
    loaded: list[ReferenceClapBackend] = []

    def load() -> ReferenceClapBackend:
        if not loaded:
            from ..models.reference_clap import load_reference_clap
            from ..models.text_encoders import build_text_encoder

            loaded.append(ReferenceClapBackend(load_reference_clap(checkpoint), build_text_encoder("minilm")))
        return loaded[0]

    return load


def split_long(segments: list[Segment], max_s: float) -> list[tuple[int, Segment]]:
    """Cut segments longer than max_s into equal parts, so every training example fits the model.
    Each piece keeps the index of the section it came from (validation scores whole sections)."""
    pieces = []
    for section_index, segment in enumerate(segments):
        parts = max(1, int(np.ceil(segment.duration_s / max_s)))
        edges = np.linspace(segment.start_s, segment.end_s, parts + 1)
        pieces.extend((section_index, Segment(segment.label, float(a), float(b))) for a, b in zip(edges[:-1], edges[1:]))
    return pieces


# The source files whose code decides each step's result, relative to the package. Their digest is
# the step's version: editing them invalidates that step's cached results, with nothing to bump by hand.
STEP_SOURCES = {
    "separation": ("audio.py", "curation/separation.py"),
    "segmentation": ("curation/segmentation.py",),
    "facts": ("curation/musical_facts.py",),
    "captioning": ("curation/captioning.py", "curation/musical_facts.py", "curation/step_backends.py", "curation/captioners", "curation/refclap_backend.py",
                   "models/reference_clap.py", "models/text_encoders.py"),
    "quality": ("curation/quality.py", "curation/step_backends.py", "models/audiobox_backend.py"),
    "alignment": ("curation/step_backends.py", "curation/refclap_backend.py", "models/reference_clap.py",
                  "models/laion_clap_backend.py", "models/text_encoders.py"),
}


def _source_digest(relative_paths: tuple[str, ...]) -> str:
    package = Path(__file__).resolve().parents[1]
    files = sorted(f for rel in relative_paths for f in ([package / rel] if (package / rel).is_file() else (package / rel).rglob("*.py")))
    return item_key(**{str(f.relative_to(package)): f.read_text() for f in files})[:16]


STEP_VERSIONS = {step: _source_digest(paths) for step, paths in STEP_SOURCES.items()}
# Shorter than one beat at 120 BPM: too short to caption, grade or train on.
MIN_SEGMENT_S = 0.5
# How far a segment may end past the audio (rounding in a segmenter's output) before it is refused.
END_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class CurationSettings:
    """What the per-track function needs besides the track: picklable, so workers can receive it."""

    raw_dir: Path
    out_dir: Path
    curate: dict[str, Any]
    refclap_checkpoint: str | None
    sample_rate: int
    channels: int
    cache_dir: Path | None = None


@dataclass
class TrackResult:
    """One track's curated segments (rows without the corpus-level alignment and grade), its
    segments' audio embeddings as numpy arrays, and what was rejected. `fatal` carries a
    captioner failure that every track would share (message, HTTP status): the stage stops."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    caption_backends: list[str] = field(default_factory=list)
    rejects: list[dict[str, str]] = field(default_factory=list)
    cache_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    fatal: tuple[str, int | None] | None = None


def curate_corpus(tracks: pd.DataFrame, raw_dir: Path, out_dir: Path, curate: dict[str, Any], backends: Backends,
                  sample_rate: int, channels: int, *, executor: str = "local", workers: int = 1,
                  cache_dir: str | Path | None = None, refclap_checkpoint: str | None = None) -> dict[str, pd.DataFrame]:
    """Write out_dir/audio/<track_id>.wav, segments.parquet and rejects.parquet; return the tables
    and, as "cache", the hits and misses per step.

    Tracks are curated by `curate_track` through `executors.run_items`: executor 'local' with
    workers=1 runs here with `backends`; a pool or Ray builds the same backends once per worker
    from `curate` and `refclap_checkpoint`. With `cache_dir`, per-item results are reused across
    runs (curation.cache); the tables are the same with or without it.
    """
    in_process = executor == "local" and workers == 1
    if refclap_checkpoint is None and (not in_process or cache_dir is not None):
        raise ValueError("curate_corpus needs refclap_checkpoint (params refclap.checkpoint) with a worker pool, Ray or a "
                         "cache_dir: workers build their own backends from it, and cached results are keyed by its hash")
    settings = CurationSettings(Path(raw_dir), Path(out_dir), curate, refclap_checkpoint, sample_rate, channels,
                                Path(cache_dir) if cache_dir is not None else None)
    curate_one = functools.partial(curate_track, settings=settings, backends=backends if in_process else None)
    results = run_items(curate_one, tracks.to_dict("records"), executor, workers, desc="curate", preload=WORKER_PRELOAD)
    for result in results:
        if result.fatal is not None:
            raise HostedCaptionError(*result.fatal)  # a refused key or model name fails every segment alike
    rows = [row for result in results for row in result.rows]
    rejects = [reject for result in results for reject in result.rejects]
    segments = pd.DataFrame(rows)
    if segments.empty:
        raise RuntimeError(f"curation kept no segment out of {len(tracks)} tracks; see the rejects: {rejects[:5]}")
    # Embeddings cross process boundaries and the cache as numpy; the aligners take tensors
    # (the reference CLAP concatenates with torch, numpy concatenates tensors as well).
    embeddings = [torch.from_numpy(embedding) for result in results for embedding in result.embeddings]
    # The grade uses the alignment of the caption the DiT will train on; the provided track
    # caption's alignment is kept to validate detection of captions that belong to another song.
    segments["alignment"] = backends.aligner.alignment(embeddings, segments["caption"].tolist())
    segments["track_caption_alignment"] = backends.aligner.alignment(embeddings, segments["track_caption"].tolist())
    for step, name in backends.names.items():
        segments[f"{step}_backend"] = name
    # Per segment: an audio-language model's answer names the model version that wrote it.
    segments["captioning_backend"] = [backend for result in results for backend in result.caption_backends]
    grade = curate["grade"]
    graded, grade_rejects = grade_and_select(segments, method=grade["method"], quality_weight=grade["quality_weight"],
                                             keep_fraction=grade["keep_fraction"])
    rejects_frame = pd.DataFrame(rejects + grade_rejects.to_dict("records"), columns=REJECT_COLUMNS)
    write_parquet(out_dir / "segments.parquet", graded)
    write_parquet(out_dir / "rejects.parquet", rejects_frame)
    return {"segments": graded, "rejects": rejects_frame, "cache": cache_summary(results)}


def cache_summary(results: list[TrackResult]) -> pd.DataFrame:
    """Hits and misses per cached step over all tracks, in step order."""
    totals: dict[tuple[str, str], int] = {}
    for result in results:
        for key, count in result.cache_counts.items():
            totals[key] = totals.get(key, 0) + count
    steps = [step for step in STEP_VERSIONS if any(s == step for s, _ in totals)]
    return pd.DataFrame({"step": steps, "hits": [totals.get((s, "hit"), 0) for s in steps],
                         "misses": [totals.get((s, "miss"), 0) for s in steps]})


# Imported lazily by the backends, and slow to import: a local pool imports them once, not per worker.
WORKER_PRELOAD = ("s2accompanist.models.reference_clap", "s2accompanist.models.text_encoders", "transformers", "librosa")
_PROCESS_BACKENDS: dict[str, Backends] = {}


def process_backends(settings: CurationSettings) -> Backends:
    """The backends of `settings`, built on first use in this process and kept: models load once
    per worker, not once per track."""
    recipe = json.dumps([settings.curate, settings.refclap_checkpoint], sort_keys=True, default=str)
    if recipe not in _PROCESS_BACKENDS:
        _PROCESS_BACKENDS[recipe] = build_backends(settings.curate, settings.refclap_checkpoint)
    return _PROCESS_BACKENDS[recipe]


def curate_track(track: dict[str, Any], settings: CurationSettings, backends: Backends | None = None) -> TrackResult:
    """Decode, separate, segment, then caption, grade and embed every segment of one track.

    Top-level and picklable, the unit of work of every executor. Bad audio and a failure inside
    one track become rejects with their reason; they never stop the stage.
    """
    backends = backends or process_backends(settings)
    cache = ItemCache(settings.cache_dir)
    result = TrackResult()
    try:
        audio = load_audio(settings.raw_dir / track["audio_path"], settings.sample_rate, settings.channels, min_duration_s=2.0)
    except AudioError as err:
        result.rejects.append({"id": track["track_id"], "stage": "decode", "reason": f"{err.reason}: {err}"})
        return result
    try:
        _curate_track(track, audio, settings, backends, cache, result)
    except HostedCaptionError as err:
        result.fatal = (str(err), err.status)
    except Exception as err:  # one bad track never stops the stage; it is recorded with its reason
        result = TrackResult(rejects=[{"id": track["track_id"], "stage": "curate", "reason": f"{type(err).__name__}: {err}"}])
    result.cache_counts = dict(cache.counts)
    return result


def _curate_track(track: dict[str, Any], audio: np.ndarray, settings: CurationSettings, backends: Backends,
                  cache: ItemCache, result: TrackResult) -> None:
    """Fill `result` with the rows, audio embeddings, caption backends and segment rejects of one decoded track."""
    sample_rate, track_id = settings.sample_rate, track["track_id"]
    audio = _separated(audio, settings, backends, cache)
    audio_path = Path("audio") / f"{track_id}.wav"
    write_audio(settings.out_dir / audio_path, audio, sample_rate)
    mono = audio.mean(axis=0)
    sections = cache.get_or_compute(
        "segmentation", item_key(audio=audio_digest(audio, sample_rate), track_id=track_id, **_step_identity("segmentation", settings, backends)),
        JSON, lambda: [[s.label, s.start_s, s.end_s] for s in backends.segment(track_id, mono, sample_rate)])
    pieces = split_long([Segment(label, start, end) for label, start, end in sections], settings.curate["segment_s_max"])
    duration_s = len(mono) / sample_rate
    for index, (section_index, segment) in enumerate(pieces):
        segment_id = f"{track_id}-{index:02d}"
        clip = mono[int(segment.start_s * sample_rate):int(segment.end_s * sample_rate)]
        odd = _odd_segment(segment, len(clip) / sample_rate, duration_s)
        if odd:
            result.rejects.append({"id": segment_id, "stage": "segment", "reason": odd})
            continue
        try:
            row, embedding, caption_backend = _curate_segment(track, segment_id, section_index, segment, clip, audio_path,
                                                              settings, backends, cache)
        except CaptionRejected as err:
            result.rejects.append({"id": segment_id, "stage": "caption", "reason": str(err)})
            continue
        result.rows.append(row)
        result.embeddings.append(embedding)
        result.caption_backends.append(caption_backend)


def _odd_segment(segment: Segment, clip_s: float, duration_s: float) -> str | None:
    """Why a segment cannot be curated (it lies past the audio, or is shorter than a beat), or None."""
    if segment.end_s > duration_s + END_TOLERANCE_S:
        return f"segment {segment.start_s:.2f}-{segment.end_s:.2f} s ends after the track's {duration_s:.2f} s of audio"
    if clip_s < MIN_SEGMENT_S:
        return f"segment of {clip_s:.2f} s is shorter than a beat ({MIN_SEGMENT_S} s)"
    return None


def _curate_segment(track, segment_id, section_index, segment, clip, audio_path, settings, backends, cache):
    """(row, audio embedding, caption backend) of one segment; each step's result comes from the cache when it can."""
    sample_rate = settings.sample_rate
    clip_digest = audio_digest(clip, sample_rate)
    facts = MusicalFacts(**cache.get_or_compute(
        "facts", item_key(clip=clip_digest, step="facts", version=STEP_VERSIONS["facts"]), JSON,
        lambda: measure_facts(clip, sample_rate).as_dict()))
    caption_fields = cache.get_or_compute(
        "captioning", item_key(clip=clip_digest, segment_id=segment_id, label=segment.label, facts=facts.as_dict(),
                               **_step_identity("captioning", settings, backends)),
        JSON, lambda: asdict(backends.captioner.caption(clip, sample_rate, segment_id, segment.label, facts)))
    caption = Caption(**{**caption_fields, "unmapped": tuple(caption_fields["unmapped"])})
    quality = cache.get_or_compute("quality", item_key(clip=clip_digest, **_step_identity("quality", settings, backends)),
                                   JSON, lambda: backends.quality.grade(clip, sample_rate))
    embedding = cache.get_or_compute("alignment", item_key(clip=clip_digest, **_step_identity("alignment", settings, backends)),
                                     ARRAY, lambda: _as_numpy(backends.aligner.audio_embedding(clip, sample_rate)))
    row = {
        "track_id": track["track_id"], "segment_id": segment_id, "section_index": section_index, "split": track["split"],
        "audio_path": str(audio_path), "start_s": round(segment.start_s, 3), "end_s": round(segment.end_s, 3),
        "label": segment.label, "caption": caption.text, "track_caption": track["caption"],
        "genre": caption.concepts["genre"], "instrument": caption.concepts["instrument"],
        "mood": caption.concepts["mood/theme"],
        **{f"fact_{k}": v for k, v in facts.as_dict().items()},
        **quality,
    }
    return row, embedding, caption.backend


def _separated(audio: np.ndarray, settings: CurationSettings, backends: Backends, cache: ItemCache) -> np.ndarray:
    if settings.curate["separation"]["backend"] == "none":
        return backends.separate(audio, settings.sample_rate)  # nothing is computed, so nothing is stored
    key = item_key(audio=audio_digest(audio, settings.sample_rate), **_step_identity("separation", settings, backends))
    return cache.get_or_compute("separation", key, ARRAY, lambda: backends.separate(audio, settings.sample_rate))


# Backends that read the reference CLAP: their results change when it is retrained.
_REFCLAP_BACKENDS = {"captioning": "facts", "alignment": "refclap"}


def _step_identity(step: str, settings: CurationSettings, backends: Backends) -> dict[str, Any]:
    """What besides its input determines a step's result: its params, its backend's recorded
    name (which carries a loaded checkpoint's hash), the code version, and the reference CLAP's
    hash for the steps that use it."""
    params = settings.curate[step]
    identity = {"step": step, "version": STEP_VERSIONS[step], "params": params, "backend": backends.names[step]}
    if _REFCLAP_BACKENDS.get(step) == params["backend"]:
        identity["refclap_sha256"] = _refclap_digest(settings.refclap_checkpoint)
    return identity


@functools.lru_cache(maxsize=8)
def _refclap_digest(checkpoint: str | None) -> str | None:
    return file_digest(checkpoint) if checkpoint is not None else None


def _as_numpy(embedding) -> np.ndarray:
    return embedding.detach().cpu().numpy() if isinstance(embedding, torch.Tensor) else np.asarray(embedding)
