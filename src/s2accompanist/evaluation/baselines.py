"""Honest baselines a trained generator must beat on the same metrics.

- Noise shaped to the reference spectrum: random-phase noise whose magnitude spectrum is the
  reference clips' mean, at their mean loudness. It has the corpus's timbre and nothing else,
  so a generator whose FAD does not beat it has learned no more than the average spectrum.
- Shuffled prompts: the CLAP score of each clip against another item's prompt (a seeded
  derangement; with clusters, a prompt of another song, since a song's clips share its caption). The gap between the paired and the shuffled score is what prompt-following adds.
- The untrained generator is produced by the pipeline itself (dit_pretrain writes the DiT's
  initial weights, `generate@untrained-full` samples from them).
"""

from __future__ import annotations

import numpy as np

from .clap_score import clap_score


def shaped_noise(reference_clips: list[np.ndarray], n: int, seed: int) -> list[np.ndarray]:
    """`n` clips of the reference clips' common length with their mean magnitude spectrum and RMS."""
    if not reference_clips:
        raise ValueError("shaped noise needs at least one reference clip to take the spectrum from")
    length = min(len(clip) for clip in reference_clips)
    if length < 2:
        raise ValueError(f"reference clips are too short ({length} samples) to take a spectrum from")
    clips = np.stack([np.asarray(clip[:length], dtype=np.float64) for clip in reference_clips])
    magnitude = np.abs(np.fft.rfft(clips, axis=-1)).mean(axis=0)
    rms = float(np.sqrt(np.mean(clips ** 2)))
    rng = np.random.default_rng(seed)
    noise = []
    for _ in range(n):
        phase = np.exp(2j * np.pi * rng.random(magnitude.shape))
        clip = np.fft.irfft(magnitude * phase, n=length)
        noise.append((clip * rms / max(float(np.sqrt(np.mean(clip ** 2))), 1e-12)).astype(np.float32))
    return noise


def can_pair_across(clusters) -> bool:
    """Whether every item can be paired with an item of another cluster: no cluster holds more than half."""
    _, counts = np.unique(np.asarray(clusters), return_counts=True)
    return len(counts) >= 2 and 2 * counts.max() <= counts.sum()


def derangement(n: int, seed: int, clusters=None) -> np.ndarray:
    """A seeded permutation of range(n) that moves every index (n >= 2) and, with `clusters`, moves
    every item to another cluster's item (drawn greedily: a full random permutation meeting that
    rarely exists by chance when one cluster holds many items)."""
    if n < 2:
        raise ValueError(f"shuffling prompts needs at least 2 items, got {n}")
    rng = np.random.default_rng(seed)
    if clusters is None:
        while True:
            order = rng.permutation(n)
            if not np.any(order == np.arange(n)):
                return order
    clusters = np.asarray(clusters)
    if clusters.shape != (n,):
        raise ValueError(f"clusters has shape {clusters.shape}; give one label per item ({n})")
    if len(np.unique(clusters)) < 2:
        raise ValueError("every item is in one cluster: no item of another cluster to pair with")
    for _ in range(1000):
        order, free = np.full(n, -1), set(range(n))
        # The largest clusters first: they have the fewest partners.
        sizes = {c: int((clusters == c).sum()) for c in np.unique(clusters)}
        for item in sorted(rng.permutation(n), key=lambda i: -sizes[clusters[i]]):
            choices = [j for j in free if clusters[j] != clusters[item]]
            if not choices:
                break
            order[item] = choices[rng.integers(len(choices))]
            free.discard(order[item])
        else:
            return order
    raise ValueError("no pairing of every item with another cluster's item was found: one cluster holds more than half the items")


def shuffled_clap_score(audio_emb: np.ndarray, text_emb: np.ndarray, n_boot: int, seed: int, clusters=None) -> dict:
    """CLAP score with every clip paired with another item's prompt (another cluster's, with `clusters`)."""
    return clap_score(audio_emb, np.asarray(text_emb)[derangement(len(text_emb), seed, clusters)], n_boot, seed,
                      clusters=clusters)
