"""The reference CLAP as a curation backend: concept tags, audio embeddings and caption alignment."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np
import torch

from ..corpus.vocabulary import family_of_tag


class ReferenceClapBackend:
    """Wraps a trained ReferenceClap and the MiniLM sentence encoder its text branch reads."""

    def __init__(self, refclap, text_encoder, batch_size: int = 64):
        self.model = refclap.eval()
        self.text_encoder = text_encoder
        self.batch_size = batch_size
        # Curation asks for a segment's tags (captioning) and then its embedding (alignment): one
        # encoder pass serves both, remembered for the most recent clip only.
        self._last_clip: bytes | None = None
        self._last_encoding: tuple[torch.Tensor, torch.Tensor] | None = None

    def _waveform(self, clip: np.ndarray, sample_rate: int) -> torch.Tensor:
        if sample_rate != self.model.sample_rate:
            raise ValueError(f"the reference CLAP was trained at {self.model.sample_rate} Hz but got audio at {sample_rate} Hz; "
                             "retrain it (stage refclap) at audio.sample_rate")
        clip = np.pad(clip, (0, max(0, self.model.config.min_samples - len(clip))))
        return torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))[None]

    @torch.no_grad()
    def _encode(self, clip: np.ndarray, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding (1, D), tag probabilities (1, n_tags)) of one clip."""
        key = hashlib.blake2b(np.ascontiguousarray(clip).tobytes(), digest_size=16, person=str(sample_rate).encode()[:16]).digest()
        if key != self._last_clip:
            self._last_encoding = self.model.embed_audio_with_tags(self._waveform(clip, sample_rate))
            self._last_clip = key
        return self._last_encoding

    def tags(self, clip: np.ndarray, sample_rate: int) -> dict[str, dict[str, float]]:
        """{family: {tag: probability}} for every tag the model knows."""
        probabilities = self._encode(clip, sample_rate)[1][0].tolist()
        by_family: dict[str, dict[str, float]] = defaultdict(dict)
        for tag, probability in zip(self.model.tag_names, probabilities):
            by_family[family_of_tag()[tag]][tag] = probability
        return dict(by_family)

    def audio_embedding(self, clip: np.ndarray, sample_rate: int) -> torch.Tensor:
        return self._encode(clip, sample_rate)[0]

    @torch.no_grad()
    def text_embedding(self, texts: list[str]) -> torch.Tensor:
        chunks = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        return torch.cat([self.model.embed_text(self.text_encoder.encode(chunk).pooled) for chunk in chunks])

    def alignment(self, audio_embeddings: torch.Tensor, texts: list[str]) -> np.ndarray:
        """Cosine similarity of each audio embedding with its own text."""
        return (audio_embeddings * self.text_embedding(texts)).sum(-1).numpy().astype(np.float64)
