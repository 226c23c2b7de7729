"""The `vae` stage: train one VAE variant on curated audio with lead-sheet targets, then measure it.

Training examples are frame-aligned crops of the train split's curated tracks with the matching
slice of each track's frame-level targets. Afterwards, on the test split: reconstruction
(multi-resolution STFT distance, mel L1, SI-SDR) and linear probes on the frozen latent
(melody, chord, beat), so the semantic variant can be compared with the plain one.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from ..audio import load_audio
from ..models.leadsheet_heads import IGNORE_INDEX, chord_root_majmin, melody_pitch_class, widen_events
from .trainer import build_trainer, export_curve, resume_path, run_directory


def load_track_audio(track_ids: list[str], curated_dir: Path, targets_dir: Path, sample_rate: int, channels: int,
                     hop: int) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
    """(track_id, audio (C, S) cut to whole latent frames, targets) for each track."""
    tracks = []
    for track_id in track_ids:
        audio = load_audio(curated_dir / "audio" / f"{track_id}.wav", sample_rate, channels)
        with np.load(targets_dir / f"{track_id}.npz") as stored:
            targets = {k: stored[k] for k in stored.files}
        frames = min(audio.shape[-1] // hop, len(targets["melody"]))
        tracks.append((track_id, audio[:, :frames * hop], {k: v[:frames] for k, v in targets.items()}))
    return tracks


class FrameAlignedCrops(Dataset):
    """`length` random crops of `crop_frames` latent frames per epoch, drawn from (seed, epoch, index).

    A track's targets may be empty (the base autoencoder trains on audio alone)."""

    def __init__(self, tracks, crop_frames: int, hop: int, length: int, seed: int):
        self.tracks = [t for t in tracks if t[1].shape[-1] // hop >= crop_frames]
        if not self.tracks:
            raise ValueError(f"no track is at least {crop_frames} latent frames long; lower vae.segment_s")
        self.crop_frames, self.hop, self.length, self.seed, self.epoch = crop_frames, hop, length, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        _, audio, targets = self.tracks[rng.integers(len(self.tracks))]
        start = int(rng.integers(audio.shape[-1] // self.hop - self.crop_frames + 1))
        window = slice(start, start + self.crop_frames)
        item = {"audio": torch.from_numpy(np.ascontiguousarray(audio[:, start * self.hop:(start + self.crop_frames) * self.hop]))}
        item.update({k: torch.from_numpy(np.ascontiguousarray(v[window])) for k, v in targets.items()})
        return item


def vae_config_from_params(vae: dict[str, Any], sample_rate: int, channels: int) -> dict[str, Any]:
    return {"in_channels": channels, "channels": vae["channels"], "c_mults": list(vae["c_mults"]), "strides": list(vae["strides"]),
            "latent_dim": vae["latent_dim"], "sample_rate": sample_rate}


def train_vae(vae: dict[str, Any], trainer_params: dict[str, Any], distill: bool, train_tracks, valid_tracks,
              sample_rate: int, channels: int, seed: int, out_path: Path, plots_csv: Path, *,
              steps: int, pretrained: str | None = None, init_checkpoint: str | None = None):
    """Train `steps` steps from `pretrained` (an Oobleck file), `init_checkpoint` (our export) or
    from scratch (neither), export to `out_path`; 0 steps exports the starting weights as they are.
    Returns (vae, curve, heads): heads are the trained distillation heads, None without distillation."""
    from .vae import VAETrainingWrapper

    hop = math.prod(vae["strides"])
    crop_frames = max(1, round(vae["segment_s"] * sample_rate / hop))
    weights = {task: (float(w) if distill else 0.0) for task, w in vae["distill"].items()}
    config = vae_config_from_params(vae, sample_rate, channels)
    if steps == 0 and pretrained is None and init_checkpoint is None:
        raise ValueError("0 training steps from no starting weights would export a random VAE; "
                         "set vae.pretrained to a base autoencoder or give the base steps")
    wrapper = VAETrainingWrapper(config, lr=vae["lr"], kl_weight=vae["kl_weight"], waveform_weight=vae["waveform_weight"],
                                 distill_weights=weights, adversarial=vae["adversarial"], ema_decay=vae["ema_decay"] or None,
                                 pretrained=pretrained, init_checkpoint=init_checkpoint,
                                 gradient_clip_val=trainer_params["gradient_clip_val"] if vae["adversarial"] else None)
    if vae["adversarial"]:  # manual optimisation: the wrapper clips, and Lightning refuses to be asked to
        trainer_params = {**trainer_params, "gradient_clip_val": 0.0}
    run_dir = run_directory("vae", {"vae": vae, "distill": distill, "seed": seed, "sample_rate": sample_rate, "channels": channels,
                                    "steps": steps, "pretrained": pretrained, "init_checkpoint": init_checkpoint})
    if steps == 0:  # the base used as it is: an empty curve, the starting weights exported
        export_curve(run_dir, plots_csv, ("train/loss", "val/loss"))
        wrapper.export(out_path)
        return wrapper.exported_vae.eval(), [], None
    train = FrameAlignedCrops(train_tracks, crop_frames, hop, length=steps * vae["batch_size"], seed=seed)
    valid = FrameAlignedCrops(valid_tracks or train_tracks, crop_frames, hop, length=4 * vae["batch_size"], seed=seed + 1)
    # Adversarial training steps two optimisers per batch, and Lightning counts both.
    max_steps = 2 * steps if vae["adversarial"] else steps
    trainer = build_trainer(trainer_params, max_steps=max_steps, run_dir=run_dir, val_check_interval=max(1, steps // 4),
                            check_val_every_n_epoch=None)
    trainer.fit(wrapper, DataLoader(train, batch_size=vae["batch_size"]), DataLoader(valid, batch_size=vae["batch_size"]),
                ckpt_path=resume_path(run_dir))
    curve = export_curve(run_dir, plots_csv, ("train/loss", "val/loss"))
    wrapper.export(out_path)
    shutil.rmtree(run_dir, ignore_errors=True)
    return wrapper.exported_vae.eval(), curve, None if wrapper.heads is None else wrapper.heads.eval()


def middle_excerpts(tracks, frames: int, hop: int) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
    """Each (track_id, audio, targets) cut to its middle `frames` latent frames (whole if shorter).

    The probes train on at most `linear_probes`' max_frames frames drawn from all their tracks, so
    encoding whole tracks only to discard most frames cost the vae stage a minute: an excerpt of
    every track keeps the variety of songs for a fraction of the encoding."""
    cut = []
    for track_id, audio, targets in tracks:
        start = max(0, (audio.shape[-1] // hop - frames) // 2)
        window = slice(start, start + frames)
        cut.append((track_id, audio[:, window.start * hop:window.stop * hop], {k: v[window] for k, v in targets.items()}))
    return cut


@torch.no_grad()
def latents_of(vae, tracks, chunk_frames: int) -> list[np.ndarray]:
    """Posterior-mean latents (T, latent_dim) of whole tracks, encoded in overlapping chunks."""
    overlap = vae.config.context_frames
    return [vae.encode_chunked(torch.from_numpy(audio)[None], chunk_frames, overlap)[0][0].T.numpy() for _, audio, _ in tracks]


@torch.no_grad()
def reconstruction_metrics(vae, tracks, chunk_frames: int) -> dict[str, float]:
    """Mean over test tracks of multi-resolution STFT distance, mel L1 and SI-SDR (dB)."""
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    from ..models.losses import MelL1Loss, MultiResolutionSTFTLoss

    stft, mel = MultiResolutionSTFTLoss((2048, 1024, 512, 256, 128, 64)), MelL1Loss(vae.config.sample_rate)
    overlap = vae.config.context_frames
    scores = {"mrstft": [], "mel_l1": [], "si_sdr_db": []}
    for _, audio, _ in tracks:
        x = torch.from_numpy(audio)[None]
        mean, _ = vae.encode_chunked(x, chunk_frames, overlap)
        y = vae.decode_chunked(mean, chunk_frames, overlap)[..., : x.shape[-1]]
        scores["mrstft"].append(float(stft(y, x)))
        scores["mel_l1"].append(float(mel(y, x)))
        scores["si_sdr_db"].append(float(scale_invariant_signal_distortion_ratio(y, x).mean()))
    return {k: round(float(np.mean(v)), 4) for k, v in scores.items()}


# Tasks the probes read from the frame-level targets, and how each is scored: balanced accuracy
# (mean per-class recall; chance = 1 / classes present) for the class targets, AUROC (chance 0.5)
# for the sparse beat and downbeat frames, where accuracy would reward answering "no beat" always.
PROBE_TASKS = (("melody", "balanced_accuracy"), ("chord", "balanced_accuracy"), ("beat", "auroc"), ("downbeat", "auroc"))
PROBE_CONTEXT_S = 0.5  # each frame's features: its own latent and the mean latent over this much around it


def context_features(latent: np.ndarray, frame_rate: float, context_s: float = PROBE_CONTEXT_S) -> np.ndarray:
    """(T, D) latent -> (T, 2D): each frame's latent beside the mean over a centred `context_s` window,
    so a linear probe sees what about half a second of latent carries (a chord is not in one 16 ms frame)."""
    from scipy.ndimage import uniform_filter1d

    width = max(1, int(round(context_s * frame_rate)) | 1)
    return np.concatenate([latent, uniform_filter1d(latent, size=width, axis=0, mode="nearest")], axis=1)


def _probe_metric(kind: str, y_true: np.ndarray, prediction: np.ndarray) -> float:
    import warnings

    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    if kind == "auroc":
        return float(roc_auc_score(y_true, prediction)) if len(np.unique(y_true)) == 2 else float("nan")
    with warnings.catch_warnings():  # a probe may name classes a (resampled) test set lacks: a miss, not news
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(y_true, prediction))


def _song_interval(kind: str, y_true: np.ndarray, prediction: np.ndarray, song: np.ndarray, n_boot: int,
                   seed: int) -> tuple[float, float]:
    """95 % bootstrap interval over test songs: frames of one song are not independent."""
    songs = np.unique(song)
    rows = {s: np.flatnonzero(song == s) for s in songs}
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        chosen = np.concatenate([rows[s] for s in rng.choice(songs, len(songs), replace=True)])
        values.append(_probe_metric(kind, y_true[chosen], prediction[chosen]))
    values = np.asarray(values)[np.isfinite(values)]
    return (float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))) if len(values) else (float("nan"), float("nan"))


def probe_target(task: str, target: np.ndarray) -> np.ndarray:
    """A stored frame target reduced to what the distillation heads are taught (`models.leadsheet_heads`):
    melody pitch class, chord root and major/minor, beats widened to +-1 frame."""
    if task == "melody":
        return melody_pitch_class(target.astype(np.int64))
    if task == "chord":
        return chord_root_majmin(target.astype(np.int64))
    return widen_events(torch.from_numpy(np.asarray(target, np.float32))[None])[0].numpy()


def _frames(latents, tracks, task: str, frame_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and song index of the frames whose `task` target is known."""
    features, labels, songs = [], [], []
    for index, (z, (_, _, targets)) in enumerate(zip(latents, tracks)):
        y = probe_target(task, targets[task][: len(z)])
        keep = y != IGNORE_INDEX
        features.append(context_features(z, frame_rate)[: len(y)][keep])
        labels.append(y[keep].astype(np.int64))
        songs.append(np.full(int(keep.sum()), index))
    return np.concatenate(features), np.concatenate(labels), np.concatenate(songs)


def _fit_and_predict(kind: str, x_train, y_train, x_test) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    # Balanced class weights: the probe is scored on balanced accuracy / AUROC, not on the majority class.
    probe = LogisticRegression(max_iter=300, class_weight="balanced").fit(scaler.transform(x_train), y_train)
    x_test = scaler.transform(x_test)
    return probe.predict_proba(x_test)[:, 1] if kind == "auroc" else probe.predict(x_test)


def linear_probes(train_latents, train_tracks, test_latents, test_tracks, seed: int, frame_rate: float,
                  floor_train_latents=None, floor_test_latents=None, max_frames: int = 8000, n_boot: int = 200) -> dict[str, float]:
    """Logistic-regression probes on frozen latents (with about 0.5 s of context): what the latent carries.

    Per task: `<task>_score` on the test split with a 95 % interval over test songs (`_low`, `_high`),
    `<task>_chance` (what a label-blind probe scores in expectation), and two floors on the same frames: `<task>_shuffled`
    (the probe trained on permuted labels) and, given `floor_*_latents` (a randomly initialised VAE's),
    `<task>_random_vae`. A latent carries a task when its score clears both floors."""
    rng = np.random.default_rng(seed)
    results: dict[str, float] = {}
    for task, kind in PROBE_TASKS:
        x_train, y_train, _ = _frames(train_latents, train_tracks, task, frame_rate)
        x_test, y_test, song = _frames(test_latents, test_tracks, task, frame_rate)
        if len(np.unique(y_train)) < 2 or len(y_test) == 0:
            results[f"{task}_score"] = float("nan")
            continue
        chosen = rng.choice(len(x_train), min(max_frames, len(x_train)), replace=False)
        prediction = _fit_and_predict(kind, x_train[chosen], y_train[chosen], x_test)
        low, high = _song_interval(kind, y_test, prediction, song, n_boot, seed)
        shuffled = _fit_and_predict(kind, x_train[chosen], rng.permutation(y_train[chosen]), x_test)
        results.update({f"{task}_score": _probe_metric(kind, y_test, prediction), f"{task}_low": low, f"{task}_high": high,
                        # A label-blind probe naming the training classes at random: 1 / their number.
                        f"{task}_chance": 0.5 if kind == "auroc" else 1.0 / len(np.unique(y_train)),
                        f"{task}_shuffled": _probe_metric(kind, y_test, shuffled)})
        if floor_train_latents is not None:
            fx_train, _, _ = _frames(floor_train_latents, train_tracks, task, frame_rate)
            fx_test, _, _ = _frames(floor_test_latents, test_tracks, task, frame_rate)
            results[f"{task}_random_vae"] = _probe_metric(kind, y_test, _fit_and_predict(kind, fx_train[chosen], y_train[chosen], fx_test))
        results[f"{task}_metric"] = kind
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()}


@torch.no_grad()
def head_scores(heads, test_latents, test_tracks, seed: int, n_boot: int = 200) -> dict[str, float]:
    """The distillation heads' own held-out scores on the test split, on the probes' metrics and
    targets (`<task>_score`, `_low`, `_high`), so a head and a probe of the same latent can be set side by side."""
    results: dict[str, float] = {}
    logits = [heads(torch.from_numpy(z.T.copy())[None]) for z in test_latents]
    for task, kind in PROBE_TASKS:
        y_true, prediction, song = [], [], []
        for index, (output, (_, _, targets)) in enumerate(zip(logits, test_tracks)):
            y = probe_target(task, targets[task][: output["melody"].shape[-1]])
            keep = y != IGNORE_INDEX
            if kind == "auroc":
                channel = output["beat"][0, 0 if task == "beat" else 1]
                scores = torch.sigmoid(channel).numpy()
            else:
                scores = output[task][0].argmax(0).numpy()
            y_true.append(y[keep].astype(np.int64))
            prediction.append(scores[: len(y)][keep])
            song.append(np.full(int(keep.sum()), index))
        y_true, prediction, song = map(np.concatenate, (y_true, prediction, song))
        if len(y_true):
            low, high = _song_interval(kind, y_true, prediction, song, n_boot, seed)
            results.update({f"{task}_score": round(_probe_metric(kind, y_true, prediction), 4),
                            f"{task}_low": round(low, 4), f"{task}_high": round(high, 4)})
    return results


def split_tracks(segments: pd.DataFrame) -> dict[str, list[str]]:
    return {split: sorted(group["track_id"].unique()) for split, group in segments.groupby("split")}
