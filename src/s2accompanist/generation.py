"""Generation requests: parse, validate, and describe what was generated.

A request is a prompt, a duration and optional time-localized segments, each with its own
caption. Requests come from a prompt file (JSONL: id, prompt, duration, optional segments
`[{label, start, end, caption}]`, as the benchmark uses) or from the command line
(`--sections "intro:0-4:soft piano; verse:4-10:drums enter"`). Impossible requests fail here,
before any model is loaded.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .labels import PITCH_CLASSES, SECTION_LABELS


class RequestError(ValueError):
    """A generation request that cannot be satisfied; the message says which item and why."""


@dataclass(frozen=True)
class SegmentRequest:
    label: str
    start_s: float
    end_s: float
    caption: str = ""


@dataclass(frozen=True)
class GenerationRequest:
    id: str
    prompt: str
    duration_s: float
    segments: tuple[SegmentRequest, ...] = field(default_factory=tuple)
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def validate_request(request: GenerationRequest, max_duration_s: float) -> GenerationRequest:
    where = f"request '{request.id}'"
    if not request.prompt.strip():
        raise RequestError(f"{where}: the prompt is empty; describe the music to generate")
    if not 0 < request.duration_s <= max_duration_s:
        raise RequestError(f"{where}: duration {request.duration_s} s is outside (0, {max_duration_s}] s, the model's maximum (dit.max_s)")
    previous_end = 0.0
    for index, segment in enumerate(sorted(request.segments, key=lambda s: s.start_s)):
        name = f"{where}, segment {index} ({segment.label} {segment.start_s}-{segment.end_s} s)"
        if segment.label not in SECTION_LABELS:
            raise RequestError(f"{name}: unknown label; use one of {', '.join(SECTION_LABELS)}")
        if not 0 <= segment.start_s < segment.end_s:
            raise RequestError(f"{name}: start must be >= 0 and before end")
        if segment.end_s > request.duration_s + 1e-6:
            raise RequestError(f"{name}: ends after the requested duration {request.duration_s} s")
        if segment.start_s < previous_end - 1e-6:
            raise RequestError(f"{name}: overlaps the previous segment, which ends at {previous_end} s")
        previous_end = segment.end_s
    return request


TEMPO_PATTERN = re.compile(r"(\d+(?:\.\d+)?)\s*BPM\b", re.IGNORECASE)


def requested_tempo(prompt: str) -> float | None:
    """The tempo a prompt states ("at 125 BPM"), or None when it states none."""
    match = TEMPO_PATTERN.search(prompt)
    return float(match.group(1)) if match else None


KEY_PATTERN = re.compile(r"\b([A-G])([#b]?)\s+(major|minor)\b")
_ENHARMONIC = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}


def requested_key(prompt: str) -> str | None:
    """The key a prompt states, spelled as mir_eval.key expects ("Eb minor"), or None."""
    match = KEY_PATTERN.search(prompt)
    if not match:
        return None
    tonic = match.group(1) + match.group(2)
    return f"{_ENHARMONIC.get(tonic, tonic)} {match.group(3)}"


def key_index(key: str | None) -> int:
    """0..11 the major keys from C, 12..23 the minor keys; -1 for no key."""
    if key is None:
        return -1
    tonic, mode = key.split()
    return PITCH_CLASSES.index(tonic) + (12 if mode == "minor" else 0)


_SECTION = re.compile(r"^\s*(?P<label>[a-z-]+)\s*:\s*(?P<start>[\d.]+)\s*-\s*(?P<end>[\d.]+)\s*(?::(?P<caption>.*))?$")


def parse_sections(text: str) -> tuple[SegmentRequest, ...]:
    """'intro:0-4:soft piano; verse:4-10:drums enter' -> segments (captions may be empty)."""
    segments = []
    for part in filter(str.strip, text.split(";")):
        match = _SECTION.match(part)
        if not match:
            raise RequestError(f"cannot read section {part.strip()!r}; write LABEL:START-END:CAPTION, e.g. 'verse:4-10:drums enter'")
        segments.append(SegmentRequest(match["label"], float(match["start"]), float(match["end"]), (match["caption"] or "").strip()))
    return tuple(segments)


# Spellings of the benchmark's two splits that prompt files use (ATTM's own files vary), compared
# after `_split_key`; the first of each is the canonical name every stage compares against.
SPLIT_SPELLINGS = {
    "in_distribution": ("in_distribution", "id", "in_domain"),
    "out_of_distribution": ("out_of_distribution", "ood", "out_of_domain"),
}


def _split_key(label: str) -> str:
    return "_".join(label.strip().lower().replace("-", " ").replace("_", " ").split())


def canonical_split(label: object) -> str:
    """The canonical name of a prompt's split, "in_distribution" or "out_of_distribution", for any
    accepted spelling ("in-distribution", "ID", "in_domain", "OOD", ...; case, hyphens, underscores
    and spaces aside).
    Any other label is a RequestError listing the accepted ones: a prompt whose split went
    unrecognised would silently drop out of FAD."""
    if isinstance(label, str):
        key = _split_key(label)
        for canonical, spellings in SPLIT_SPELLINGS.items():
            if key in spellings:
                return canonical
    accepted = "; ".join(f"{canonical} (also {', '.join(spellings[1:])})" for canonical, spellings in SPLIT_SPELLINGS.items())
    raise RequestError(f"unknown split {label!r}; use one of: {accepted} (case, hyphens and spaces aside)")


def read_prompt_file(path: str | Path, default_duration_s: float) -> list[GenerationRequest]:
    """Read a JSONL prompt file; a malformed line raises with its line number. A `split` is
    normalised to its canonical name (`canonical_split`); a line may have none."""
    requests, seen = [], set()
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            segments = tuple(
                SegmentRequest(s["label"], float(s["start"]), float(s["end"]), s.get("caption", ""))
                for s in item.get("segments") or []
            )
            request = GenerationRequest(
                id=str(item["id"]), prompt=str(item["prompt"]),
                duration_s=float(item.get("duration", default_duration_s)), segments=segments,
                metadata={k: v for k, v in item.items() if k not in {"id", "prompt", "duration", "segments"}},
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise RequestError(f"{path}:{number}: not a valid prompt line ({type(err).__name__}: {err})") from None
        if request.id in seen:
            raise RequestError(f"{path}:{number}: duplicate id '{request.id}'")
        if "split" in request.metadata:
            try:
                request.metadata["split"] = canonical_split(request.metadata["split"])
            except RequestError as err:
                raise RequestError(f"{path}:{number}: prompt '{request.id}': {err}") from None
        seen.add(request.id)
        requests.append(request)
    return requests


def write_prompt_file(path: str | Path, requests: list[GenerationRequest]) -> Path:
    from .io import write_text

    lines = []
    for request in requests:
        item = {"id": request.id, "prompt": request.prompt, "duration": request.duration_s, **request.metadata}
        if request.segments:
            item["segments"] = [{"label": s.label, "start": s.start_s, "end": s.end_s, "caption": s.caption} for s in request.segments]
        lines.append(json.dumps(item, sort_keys=True))
    return write_text(path, "\n".join(lines) + "\n")
