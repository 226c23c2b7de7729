"""LAION-CLAP (laion-clap 1.1.7) from local files: the `clap_laion_music` embedder and the
`laion_clap` alignment backend.

The official model (fadtk's `clap-laion-music`, used by the ATTM challenge) is
`CLAP_Module(enable_fusion=False, amodel='HTSAT-base')` with the checkpoint
`music_audioset_epoch_15_esc_90.14.pt`. The package cannot be used as shipped on an offline CPU
machine, so `LaionClap.load` changes exactly these things and nothing in the model or its
preprocessing:

- Import: laion_clap imports torchvision (undeclared, and never installable here). A stand-in
  whose classes raise when used is in `sys.modules` only while laion_clap is imported. The three
  tokenizers laion_clap builds at import time (for its training code) would download or, offline,
  silently come back empty; they are replaced by placeholders that raise if anything calls them.
- Construction: `CLAP_Module()` calls `RobertaModel.from_pretrained('roberta-base')` and
  `RobertaTokenizer.from_pretrained('roberta-base')`. While it runs, both names resolve to the
  local roberta-base folder: the text branch is built from that folder's config.json (its weights
  come from the CLAP checkpoint), and the tokenizer is loaded from it and must have 50265 tokens.
- Checkpoint: read like the package's `load_ckpt` (take "state_dict", strip "module.", drop
  `text_branch.embeddings.position_ids`, strict load) but with `torch.load(weights_only=True)`,
  so no arbitrary object is unpickled. The only non-tensor globals allowed are numpy's scalar and
  dtype reconstructors, which LAION's training checkpoints are reported to contain (AudioSep
  PR #51); a file needing anything else raises `CheckpointError` instead of being trusted.
- Audio longer than 10 s: the package crops at a random offset; we keep the first 10 s (start
  crop), so embeddings are reproducible and an over-long generated clip is judged on the same
  opening seconds a 10 s clip would have. Everything else (int16 quantisation, repeat-padding
  below 10 s, the forward pass) is the package's own `get_audio_embedding_from_data`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from ..audio import resample
from ..checkpoints import CheckpointError, existing_file, file_sha256

SAMPLE_RATE = 48_000
# The package's max_len: 10 s at 48 kHz; shorter clips are repeat-padded up to it.
WINDOW_SAMPLES = 480_000
AUDIO_MODEL = "HTSAT-base"
# roberta-base's vocabulary; an offline tokenizer that found no vocabulary files has 5 tokens
# and maps every text to "<s></s>", giving all texts one embedding.
ROBERTA_VOCABULARY = 50265
WHERE_FROM = {
    "checkpoint": "music_audioset_epoch_15_esc_90.14.pt from https://huggingface.co/lukewys/laion_clap (download it on a networked machine)",
    "tokenizer": "a roberta-base folder with config.json, vocab.json and merges.txt "
    "(`huggingface-cli download FacebookAI/roberta-base --local-dir PATH` on a networked machine)",
}
_TORCHVISION_NAMES = {
    "torchvision": (),
    "torchvision.datasets": (),
    "torchvision.transforms": ("Normalize", "Compose", "RandomResizedCrop", "InterpolationMode", "ToTensor", "Resize", "CenterCrop"),
    "torchvision.ops": (),
    "torchvision.ops.misc": ("FrozenBatchNorm2d",),
}
_IMPORT_TIME_TOKENIZERS = ("BertTokenizer", "RobertaTokenizer", "BartTokenizer")
# Model classes laion_clap imports from transformers; resolved before the torchvision stand-in
# exists, because transformers probes for torchvision while importing them.
_TRANSFORMERS_MODELS = ("BertModel", "RobertaModel", "BartModel")
# numpy scalars as pickled by numpy < 2: numpy.core.multiarray.scalar(dtype, bytes), where the
# dtype unpickles as an instance of one of numpy.dtypes' classes. Plain numbers, no code; object
# and structured (void) dtypes stay forbidden.
_NUMPY_SCALAR_GLOBALS = [
    np.core.multiarray.scalar,
    np.dtype,
    *(getattr(np.dtypes, name) for name in np.dtypes.__all__ if name not in ("ObjectDType", "VoidDType")),
]


class LaionClap:
    """A loaded LAION-CLAP: `embed_audio` and `embed_text` give L2-normalised (N, 512) arrays."""

    def __init__(self, module: torch.nn.Module, checkpoint: Path, checkpoint_sha256: str):
        self.module = module.eval().requires_grad_(False)
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256

    @classmethod
    def load(cls, checkpoint: str | os.PathLike | None, tokenizer_dir: str | os.PathLike | None, param_prefix: str, device: str | torch.device = "cpu") -> "LaionClap":
        """Build CLAP HTSAT-base offline and load `checkpoint`; `param_prefix` (e.g. `evaluate.embedder`)
        names the params section whose `checkpoint` and `tokenizer` keys point at the files, for errors."""
        checkpoint = existing_file(checkpoint, f"{param_prefix}.checkpoint", WHERE_FROM["checkpoint"])
        tokenizer = load_roberta_tokenizer(tokenizer_dir, f"{param_prefix}.tokenizer")
        state_dict = read_clap_state_dict(checkpoint, f"{param_prefix}.checkpoint")
        laion_clap = import_laion_clap()
        with _local_roberta(Path(tokenizer_dir), tokenizer):
            module = laion_clap.CLAP_Module(enable_fusion=False, amodel=AUDIO_MODEL, device=str(device))
        try:
            module.model.load_state_dict(state_dict, strict=True)
        except RuntimeError as err:
            raise CheckpointError(
                f"{param_prefix}.checkpoint: {checkpoint} does not fit CLAP {AUDIO_MODEL} without fusion "
                f"(a fusion or HTSAT-tiny checkpoint?); it should be {WHERE_FROM['checkpoint']}: {err}"
            ) from err
        return cls(module, checkpoint, file_sha256(checkpoint))

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.module.model.parameters())

    @property
    def logit_scale(self) -> float:
        """The audio-text temperature CLAP learned in training (exp of `logit_scale_a`); zero-shot
        scoring multiplies cosines by it, as the model's own contrastive loss did."""
        return float(self.module.model.logit_scale_a.exp())

    @torch.inference_mode()
    def embed_audio(self, audio: np.ndarray, sample_rate: int, batch_size: int = 8) -> np.ndarray:
        """Embed mono clips `audio` (N, samples) in [-1, 1] at `sample_rate`: resampled to 48 kHz,
        cut to their first 10 s, then the package's quantisation, padding and forward pass."""
        audio = np.asarray(audio)
        if audio.ndim != 2 or audio.shape[0] == 0 or audio.shape[1] == 0:
            raise ValueError(f"embed_audio takes mono clips shaped (N, samples) with N, samples > 0, got shape {audio.shape}")
        if not np.isfinite(audio).all():
            raise ValueError("embed_audio: the clips contain NaN or infinite samples")
        windows = clap_windows(audio, sample_rate)
        chunks = [self.module.get_audio_embedding_from_data(windows[i : i + batch_size]) for i in range(0, len(windows), batch_size)]
        return np.concatenate(chunks).astype(np.float32)

    @torch.inference_mode()
    def embed_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed `texts` with the checked roberta-base tokenizer (77 tokens, as the package does)."""
        if isinstance(texts, str) or not texts:
            raise ValueError(f"embed_text takes a non-empty list of strings, got {texts!r}")
        texts = list(texts)
        chunks = [self.module.get_text_embedding(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        return np.concatenate(chunks).astype(np.float32)


def clap_windows(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The 48 kHz float32 input CLAP sees before quantisation: resampled with soxr (as librosa.load
    does for the package's file route), then cut to the first 10 s (our deterministic crop)."""
    at_clap_rate = resample(np.asarray(audio, dtype=np.float32), sample_rate, SAMPLE_RATE)
    return np.ascontiguousarray(at_clap_rate[:, :WINDOW_SAMPLES])


def load_roberta_tokenizer(folder: str | os.PathLike | None, param: str) -> Any:
    """The roberta-base tokenizer from a local folder, refusing any whose vocabulary is not 50265."""
    from transformers import RobertaTokenizer

    if folder is None:
        raise CheckpointError(f"{param} is null; LAION-CLAP needs {WHERE_FROM['tokenizer']}")
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{param}: {folder} has no config.json; it must be {WHERE_FROM['tokenizer']}")
    tokenizer = RobertaTokenizer.from_pretrained(str(folder), local_files_only=True)
    if len(tokenizer) != ROBERTA_VOCABULARY:
        raise CheckpointError(
            f"{param}: the tokenizer in {folder} has {len(tokenizer)} tokens, not roberta-base's {ROBERTA_VOCABULARY}; "
            f"its vocab.json / merges.txt are missing or foreign (an empty tokenizer gives every text the same embedding). "
            f"Use {WHERE_FROM['tokenizer']}"
        )
    return tokenizer


def read_clap_state_dict(path: str | os.PathLike, param: str) -> dict[str, torch.Tensor]:
    """The model weights of a LAION-CLAP training checkpoint, keyed as `CLAP_Module.model` expects."""
    path = existing_file(path, param, WHERE_FROM["checkpoint"])
    try:
        with torch.serialization.safe_globals(_NUMPY_SCALAR_GLOBALS):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError or EOFError for bad files
        raise CheckpointError(
            f"{param}: {path} cannot be read with torch.load(weights_only=True) plus numpy scalars: {err}. "
            f"Expected {WHERE_FROM['checkpoint']}; if you trust a file that holds other objects, re-save its "
            f"'state_dict' alone with torch.save on a machine where you may unpickle it"
        ) from err
    state_dict = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointError(f"{param}: {path} holds no state dict (got {type(checkpoint).__name__}); expected {WHERE_FROM['checkpoint']}")
    # DistributedDataParallel's prefix; position_ids is a buffer newer transformers no longer saves.
    state_dict = {key.removeprefix("module."): value for key, value in state_dict.items()}
    state_dict.pop("text_branch.embeddings.position_ids", None)
    return state_dict


def import_laion_clap() -> types.ModuleType:
    """`import laion_clap` offline, with no torchvision installed and no tokenizer download."""
    if "laion_clap" in sys.modules:
        return sys.modules["laion_clap"]
    import transformers

    for name in _TRANSFORMERS_MODELS:
        getattr(transformers, name)
    # Importing model code can replace the `transformers` entry of sys.modules; `from transformers
    # import ...` inside laion_clap reads that entry, so the placeholders must go there.
    transformers = sys.modules["transformers"]
    originals = {name: getattr(transformers, name) for name in _IMPORT_TIME_TOKENIZERS}
    added = _install_torchvision_stand_in()
    try:
        for name in _IMPORT_TIME_TOKENIZERS:
            setattr(transformers, name, _disabled_tokenizer_class(name))
        import laion_clap
    finally:
        for name, original in originals.items():
            setattr(transformers, name, original)
        for name in added:
            sys.modules.pop(name, None)
    return laion_clap


def _install_torchvision_stand_in() -> list[str]:
    """Put placeholder torchvision modules in sys.modules; return the names added."""
    if importlib.util.find_spec("torchvision") is not None:
        return []
    added = []
    for module_name, class_names in _TORCHVISION_NAMES.items():
        module = types.ModuleType(module_name, "stand-in: laion_clap imports torchvision but its CLAP embeddings never use it")
        for class_name in class_names:
            setattr(module, class_name, _unavailable(f"{module_name}.{class_name}"))
        sys.modules[module_name] = module
        added.append(module_name)
        parent, _, child = module_name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    return added


def _unavailable(qualified_name: str) -> type:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{qualified_name} is a stand-in (torchvision is not installed); only laion_clap's fusion and image code uses it")

    return type(qualified_name.rpartition(".")[2], (), {"__init__": refuse})


def _disabled_tokenizer_class(name: str) -> type:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"laion_clap's import-time {name} is disabled offline; embed text through LaionClap.embed_text")

    class DisabledTokenizer:
        @classmethod
        def from_pretrained(cls, *args: Any, **kwargs: Any) -> "DisabledTokenizer":
            return cls()

        __call__ = refuse

    DisabledTokenizer.__name__ = f"Disabled{name}"
    return DisabledTokenizer


@contextlib.contextmanager
def _local_roberta(folder: Path, tokenizer: Any) -> Iterator[None]:
    """While CLAP_Module() runs, its two `from_pretrained('roberta-base')` calls use `folder`."""
    from transformers import RobertaConfig, RobertaModel

    clap_model = importlib.import_module("clap_module.model")
    hook = importlib.import_module("laion_clap.hook")

    def roberta_from_folder(name: str, *args: Any, **kwargs: Any) -> RobertaModel:
        if name != "roberta-base":
            raise ValueError(f"laion_clap asked for text model {name!r}; only roberta-base is redirected to {folder}")
        # Random weights: every one of them is overwritten by the CLAP checkpoint's text branch.
        return RobertaModel(RobertaConfig.from_pretrained(str(folder), local_files_only=True))

    def checked_tokenizer(name: str, *args: Any, **kwargs: Any) -> Any:
        if name != "roberta-base":
            raise ValueError(f"laion_clap asked for tokenizer {name!r}; only roberta-base is redirected to {folder}")
        return tokenizer

    saved = (clap_model.RobertaModel, hook.RobertaTokenizer)
    clap_model.RobertaModel = types.SimpleNamespace(from_pretrained=roberta_from_folder)
    hook.RobertaTokenizer = types.SimpleNamespace(from_pretrained=checked_tokenizer)
    try:
        yield
    finally:
        clap_model.RobertaModel, hook.RobertaTokenizer = saved
