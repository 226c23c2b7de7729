"""The schema of params.yaml, and the only code that reads it.

Every stage validates the whole file before doing any work: an unknown key, a wrong type or an
out-of-range value raises `ParamsError`, whose message names the key, the bad value and what is
allowed. Stages then see only the keys their dvc.yaml entry lists (`stage_params`), so a stage
that reads a key it does not declare fails loudly instead of silently escaping DVC's tracking.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PARAMS_FILE = "params.yaml"
DVC_FILE = "dvc.yaml"

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
PositiveInt = Annotated[int, Field(ge=1)]
LocalPath = Optional[str]


class Section(BaseModel):
    # No NaN or infinity: a weight of .inf validates against `ge=0` and then poisons a loss mid-run.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class AudioParams(Section):
    sample_rate: Annotated[int, Field(ge=8000, le=192000)]
    # Not Literal[1, 2]: a Literal matches by equality, so YAML's `true` would pass as 1.
    channels: Annotated[int, Field(ge=1, le=2)]


class CorpusParams(Section):
    source: Literal["synthetic", "jamendo", "attm", "folder"]
    n_songs: Annotated[int, Field(ge=3, le=100000)]
    duration_s_min: Annotated[float, Field(ge=4.0)]
    duration_s_max: Annotated[float, Field(ge=4.0, le=3600.0)]
    render_sample_rate: Annotated[int, Field(ge=8000, le=192000)]
    split_fractions: Annotated[list[Fraction], Field(min_length=3, max_length=3)]
    defect_fraction: Fraction
    defect_kinds: list[Literal["noise", "clipping", "bandlimit", "dropout", "caption_swap", "vocal_lead"]]
    renderer: Literal["builtin", "fluidsynth"]
    soundfont: LocalPath
    write_stems: bool
    metadata: LocalPath
    audio_root: LocalPath

    @model_validator(mode="after")
    def _consistent(self) -> "CorpusParams":
        if self.duration_s_min > self.duration_s_max:
            raise ValueError(f"duration_s_min ({self.duration_s_min}) must not exceed duration_s_max ({self.duration_s_max})")
        if abs(sum(self.split_fractions) - 1.0) > 1e-6:
            raise ValueError(f"split_fractions {self.split_fractions} must sum to 1")
        if self.renderer == "fluidsynth" and not self.soundfont:
            raise ValueError("renderer 'fluidsynth' needs `soundfont`: a local .sf2 path (Debian package fluid-soundfont-gm)")
        if self.source == "jamendo" and not (self.metadata and self.audio_root):
            raise ValueError("source 'jamendo' needs `metadata` (an MTG-Jamendo autotagging TSV) and `audio_root` (the audio folder)")
        if self.source == "attm" and not (self.metadata and self.audio_root):
            raise ValueError("source 'attm' needs `metadata` (the ATTM captions JSON) and `audio_root` (the preprocessed audio folder)")
        if self.source == "folder" and not self.audio_root:
            raise ValueError("source 'folder' needs `audio_root`: a local folder of audio files")
        return self


class RefClapParams(Section):
    embed_dim: Annotated[int, Field(ge=8, le=1024)]
    crop_s: Annotated[float, Field(ge=1.0, le=60.0)]
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: Annotated[float, Field(gt=0.0, le=1.0)]
    checkpoint: str


class BackendParams(Section):
    checkpoint: LocalPath = None


class SeparationParams(BackendParams):
    backend: Literal["none", "demucs"]


class SegmentationParams(Section):
    backend: Literal["classical", "songformer"]
    songformer_dir: LocalPath
    min_segment_s: Annotated[float, Field(ge=1.0, le=60.0)]


class CaptioningParams(BackendParams):
    backend: Literal["facts", "qwen", "gemini"]


class QualityParams(BackendParams):
    backend: Literal["signal", "audiobox"]


class AlignmentParams(BackendParams):
    backend: Literal["refclap", "laion_clap", "mulan"]
    tokenizer: LocalPath


class GradeParams(Section):
    method: Literal["rank_mean", "weighted"]
    quality_weight: Fraction
    keep_fraction: Annotated[float, Field(gt=0.0, le=1.0)]


class CurateParams(Section):
    segment_s_max: Annotated[float, Field(ge=4.0)]
    executor: Literal["local", "ray"]
    workers: PositiveInt
    cache_dir: LocalPath
    separation: SeparationParams
    segmentation: SegmentationParams
    captioning: CaptioningParams
    quality: QualityParams
    alignment: AlignmentParams
    grade: GradeParams


class LeadsheetParams(Section):
    source: Literal["truth", "transcribe"]
    validate_transcription: bool


class DistillParams(Section):
    melody: Annotated[float, Field(ge=0.0)]
    chord: Annotated[float, Field(ge=0.0)]
    beat: Annotated[float, Field(ge=0.0)]


class VAEParams(Section):
    channels: Annotated[int, Field(ge=4, le=1024)]
    c_mults: Annotated[list[PositiveInt], Field(min_length=1)]
    strides: Annotated[list[Annotated[int, Field(ge=2, le=16)]], Field(min_length=1)]
    latent_dim: Annotated[int, Field(ge=2, le=512)]
    segment_s: Annotated[float, Field(gt=0.0, le=30.0)]
    batch_size: PositiveInt
    base_steps: Annotated[int, Field(ge=0)]
    steps: PositiveInt
    lr: Annotated[float, Field(gt=0.0, le=1.0)]
    kl_weight: Annotated[float, Field(ge=0.0)]
    waveform_weight: Annotated[float, Field(ge=0.0)]
    adversarial: bool
    ema_decay: Annotated[float, Field(ge=0.0, lt=1.0)]
    pretrained: LocalPath
    distill: DistillParams

    @model_validator(mode="after")
    def _blocks_match(self) -> "VAEParams":
        if len(self.c_mults) != len(self.strides):
            raise ValueError(f"c_mults {self.c_mults} and strides {self.strides} need one entry per block (same length)")
        if self.base_steps == 0 and self.pretrained is None:
            raise ValueError("base_steps is 0 and pretrained is null: the base autoencoder would be an untrained VAE; "
                             "point pretrained at one (the default's comes from `make base-vae`) or give base_steps > 0")
        return self


class EncodeParams(Section):
    chunk_s: Annotated[float, Field(ge=1.0)]
    overlap_s: Annotated[float, Field(ge=0.0)]


class TextEncoderParams(BackendParams):
    backend: Literal["minilm", "t5", "clap_text", "mulan_text"]


class DiTParams(Section):
    width: Annotated[int, Field(ge=16, le=8192)]
    depth: Annotated[int, Field(ge=1, le=128)]
    heads: Annotated[int, Field(ge=1, le=128)]
    max_s: Annotated[float, Field(ge=1.0, le=600.0)]
    crop_s: Annotated[float, Field(ge=0.5, le=600.0)]
    structure_dropout: Fraction
    unconditional_dropout: Fraction
    rhythm: bool
    rhythm_dropout: Fraction
    key: bool
    text_encoder: TextEncoderParams
    pretrained: LocalPath = None  # a base DiT (`make base-dit`) that dit_pretrain starts from; null: random initialisation

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "DiTParams":
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")
        if self.crop_s > self.max_s:
            raise ValueError(f"crop_s ({self.crop_s}) must not exceed max_s ({self.max_s}), the longest sample the model takes")
        if self.structure_dropout + self.unconditional_dropout > 1.0:
            raise ValueError(f"structure_dropout + unconditional_dropout ({self.structure_dropout} + {self.unconditional_dropout}) "
                             "must not exceed 1: they are shares of one draw per training item")
        return self


class TrainingRunParams(Section):
    steps: PositiveInt
    batch_size: PositiveInt
    lr: Annotated[float, Field(gt=0.0, le=1.0)]
    warmup_steps: Annotated[int, Field(ge=1)]
    ema_decay: Annotated[float, Field(ge=0.0, lt=1.0)]

    @model_validator(mode="after")
    def _warmup_fits(self) -> "TrainingRunParams":
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must not exceed steps ({self.steps})")
        return self


class TrainerParams(Section):
    accelerator: Literal["cpu", "gpu", "auto"]
    devices: PositiveInt
    num_nodes: PositiveInt
    strategy: Literal["auto", "ddp", "fsdp"]
    precision: Literal["32-true", "bf16-mixed", "16-mixed"]
    accumulate_grad_batches: PositiveInt
    gradient_clip_val: Annotated[float, Field(ge=0.0)]
    num_threads: Annotated[int, Field(ge=1, le=256)]


class GenerateParams(Section):
    sampler: Literal["euler", "heun"]
    steps: Annotated[int, Field(ge=1, le=1000)]
    guidance: Annotated[list[Annotated[list[Annotated[float, Field(ge=0.0, le=20.0)]], Field(min_length=2, max_length=2)]],
                        Field(min_length=1)]
    sweep_prompts: Annotated[int, Field(ge=2, le=500)]
    clip_s: Annotated[float, Field(ge=1.0, le=600.0)]


class EmbedderParams(BackendParams):
    backend: Literal["judge", "refclap", "clap_laion_music"]
    tokenizer: LocalPath


class CCSParams(BackendParams):
    backend: Literal["refclap_tags", "laion_zero_shot", "lalm_judge"]
    threshold: Fraction
    judge: Literal["qwen", "gemini"]
    model: str


class EvaluateParams(Section):
    prompts: Literal["synthetic", "attm"]
    prompt_file: LocalPath
    reference_audio: LocalPath
    n_in_distribution: Annotated[int, Field(ge=1)]
    n_out_of_distribution: Annotated[int, Field(ge=0)]
    embedder: EmbedderParams
    ccs: CCSParams
    n_bootstrap: Annotated[int, Field(ge=10, le=100000)]
    workers: PositiveInt


class Params(Section):
    profile: str
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)]
    audio: AudioParams
    corpus: CorpusParams
    refclap: RefClapParams
    curate: CurateParams
    leadsheet: LeadsheetParams
    vae: VAEParams
    encode: EncodeParams
    dit: DiTParams
    dit_pretrain: TrainingRunParams
    dit_sft: TrainingRunParams
    trainer: TrainerParams
    generate: GenerateParams
    evaluate: EvaluateParams


class ParamsError(ValueError):
    """params.yaml is unreadable or breaks the schema; the message says where and how to fix it."""


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    value = error.get("input")
    if error["type"] == "extra_forbidden":
        parent = _model_at(error["loc"][:-1])
        allowed = ", ".join(parent.model_fields) if parent else "see params.py"
        return f"unknown key '{key}' (value {value!r}); allowed keys here: {allowed}"
    if error["type"] == "missing":
        return f"missing key '{key}'; add it (see the committed params.yaml for its meaning and default)"
    if error["type"] == "value_error":
        where = f"'{key}'" if key else "params"
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"
    return f"'{key}' = {value!r} is not allowed: {error['msg']}"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: Any = Params
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        model = field.annotation
    return model


def validate_params(raw: Any, source: str = PARAMS_FILE) -> Params:
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        problems = "\n  - ".join(_describe(e, raw) for e in err.errors())
        raise ParamsError(f"{source} is invalid; nothing was run:\n  - {problems}") from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} not found; run from the repository root or pass its path")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{path} is not valid YAML: {err}") from None
    return validate_params(raw, str(path))


def declared_params(stage: str, dvc_file: str | Path = DVC_FILE) -> list[str]:
    """The params keys a stage lists in dvc.yaml (`vae@plain` looks up the `vae` foreach entry)."""
    stages = yaml.safe_load(Path(dvc_file).read_text())["stages"]
    name = stage.split("@", 1)[0]
    if name not in stages:
        raise KeyError(f"stage '{name}' is not in {dvc_file}; stages are: {', '.join(stages)}")
    entry = stages[name].get("do", stages[name])
    keys: list[str] = []
    for item in entry.get("params", []):
        # `- key` reads params.yaml; `- other.yaml: [keys]` would read another file.
        keys.extend([item] if isinstance(item, str) else [k for group in item.values() for k in group])
    return keys


def select_keys(params: Params, keys: list[str]) -> dict[str, Any]:
    """A nested plain dict holding only `keys` (dotted paths) of the validated params."""
    full = params.model_dump()
    selected: dict[str, Any] = {}
    for key in keys:
        node, target = full, selected
        parts = key.split(".")
        for part in parts[:-1]:
            node = node[part]
            target = target.setdefault(part, {})
        target[parts[-1]] = node[parts[-1]]
    return selected


class StageParams:
    """Read-only attribute access to the params a stage declared; reading anything else is an error."""

    def __init__(self, stage: str, values: dict[str, Any], path: str = ""):
        self._stage, self._values, self._path = stage, values, path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        key = f"{self._path}{name}"
        if name not in self._values:
            raise KeyError(f"stage '{self._stage}' reads params key '{key}' but does not list it in dvc.yaml; add it to the stage's `params`")
        value = self._values[name]
        return StageParams(self._stage, value, f"{key}.") if isinstance(value, dict) else value

    def to_dict(self) -> dict[str, Any]:
        return self._values

    def __repr__(self) -> str:
        return f"StageParams({self._stage!r}, {self._values!r})"


def stage_params(stage: str, injected: dict[str, Any] | None = None) -> StageParams:
    """What a stage notebook calls first. Under `s2accompanist.stage`, papermill injects the declared
    keys, already validated; run interactively, `injected` is None and they are read and validated here."""
    if injected is None:
        return StageParams(stage, select_keys(load_params(), declared_params(stage)))
    return StageParams(stage, injected)


def main(argv: list[str] | None = None) -> int:
    """`python -m s2accompanist.params [FILE]`: validate a params file and say what is wrong."""
    path = (argv or sys.argv[1:] or [PARAMS_FILE])[0]
    try:
        params = load_params(path)
    except ParamsError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{path}: valid (profile {params.profile})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
