"""One Lightning Trainer factory for every training stage, driven by params.yaml's `trainer` section.

It owns what all stages share: seeding, device / strategy / precision / node settings,
gradient clipping and accumulation, a CSV log of the loss curve, and a `last.ckpt` that lets an
interrupted stage resume where it stopped instead of starting over.

Resuming is exact on one device: Lightning restores weights, optimiser state and step counters,
but by itself it would start the interrupted epoch again from its first batch and draw new random
numbers. `ResumePosition` stores how many batches of the epoch were trained and the random
generators' states in the checkpoint; `ResumableTrainer.fit` skips those batches and the states
are put back before training continues, so an interrupted and resumed run ends with the same
weights as one that never stopped (tests/training/test_training_resume.py).
"""

from __future__ import annotations

import csv
import logging
import os
import random
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from torch.utils.data import DataLoader

from ..io import atomic_path
from ..numerics import strict_mkl
from ..progress import progress


def seed_everything(seed: int, num_threads: int | None = None) -> None:
    """Seed Python, numpy and torch, and make CPU kernels deterministic, within a process (torch's
    deterministic algorithms) and across processes (MKL's strict mode, numerics.py)."""
    strict_mkl()
    L.seed_everything(seed, workers=True, verbose=False)
    if num_threads:
        torch.set_num_threads(num_threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def random_states() -> dict[str, Any]:
    """Python, numpy and torch generator states, as tensors and plain numbers: a checkpoint must load
    with `weights_only=True`, which refuses numpy arrays."""
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    states = {"python": random.getstate(), "torch": torch.get_rng_state(),
              "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached_gaussian)]}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    name, keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class ResumePosition(L.Callback):
    """Counts the batches of the current epoch trained so far, and saves the random generators'
    states with every checkpoint and puts them back when training resumes from it."""

    def __init__(self) -> None:
        self.batches_done = 0
        self._states_to_restore: dict[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return "ResumePosition"

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Here, not at load time: building the data iterators in between draws from the generators.
        if self._states_to_restore is not None:
            set_random_states(self._states_to_restore)
            self._states_to_restore = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.batches_done = 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches_done = batch_idx + 1

    def state_dict(self) -> dict[str, Any]:
        return {"random_states": random_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._states_to_restore = state_dict["random_states"]


class SkipTrainedBatches:
    """A train loader that, right after a resume, continues its epoch after the batches already trained on.

    Lightning stores `state_dict()` in the checkpoint and hands it back before iterating. The count
    comes from `ResumePosition` (batches trained), not from this iterator, which Lightning has
    already advanced by a prefetched batch when it saves. A shuffling loader with its own seeded
    `generator` gets that generator back as it was when the interrupted epoch began, so the epoch's
    order is the same. The skipped batches are loaded and dropped: cheap next to training on them,
    and it keeps every draw from the generators in the original order.
    """

    def __init__(self, loader: DataLoader, position: ResumePosition) -> None:
        self.loader, self.position = loader, position
        self._skip = 0
        self._epoch_start_generator: torch.Tensor | None = None
        self._generator_to_restore: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.loader)

    def state_dict(self) -> dict[str, Any]:
        generator = self.loader.generator
        return {"batches_done": self.position.batches_done,
                "epoch_start_generator": self._epoch_start_generator,
                "generator": None if generator is None else generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._skip = int(state_dict["batches_done"])
        mid_epoch = 0 < self._skip < len(self.loader)
        # Mid-epoch: replay the epoch's draws; after a complete epoch: carry on from where they were.
        self._generator_to_restore = state_dict["epoch_start_generator" if mid_epoch else "generator"]
        if not mid_epoch:
            self._skip = 0

    def __iter__(self) -> Iterator[Any]:
        generator = self.loader.generator
        if generator is not None:
            if self._generator_to_restore is not None:
                generator.set_state(self._generator_to_restore)
            self._epoch_start_generator = generator.get_state()
        self._generator_to_restore = None
        skip, self._skip = self._skip, 0
        batches = iter(self.loader)
        for _ in range(skip):
            next(batches)
        return batches


class CheckpointAfterStep(L.pytorch.callbacks.ModelCheckpoint):
    """The step-count checkpoint, holding the state after the module's own end-of-batch hook.

    Lightning runs callbacks' on_train_batch_end before the LightningModule's, and the training
    wrappers update their EMA weights in theirs: a checkpoint saved first would resume with the EMA
    one update behind. So on a step that saves, the module's hook runs here, before the save, and
    Lightning's call of it right after is made a no-op for that batch.

    A step that also validates is saved after its validation instead. Saved before it, a kill
    during that validation would resume past it: Lightning never runs it again, and the curve
    would miss its point (and validation's draws from the global generator would be skipped)."""

    _save_after_validation = False

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._every_n_train_steps >= 1 and trainer.global_step % self._every_n_train_steps == 0:
            # The loop's own test, the one it applies right after this hook (Lightning is pinned).
            if trainer.fit_loop.epoch_loop._should_check_val_fx(trainer.fit_loop._data_fetcher):
                self._save_after_validation = True
                return
            pl_module.on_train_batch_end(outputs, batch, batch_idx)

            def already_done(*args: Any, **kwargs: Any) -> None:
                del pl_module.on_train_batch_end  # back to the class's hook for the next batch

            pl_module.on_train_batch_end = already_done
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._save_after_validation and not self._should_skip_saving_checkpoint(trainer):
            self._save_after_validation = False
            candidates = self._monitor_candidates(trainer)
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)
        super().on_validation_end(trainer, pl_module)


class KeptCurveWriter(ExperimentWriter):
    """Lightning's CSV writer, except that on a resume it keeps the curve the interrupted run wrote
    (Lightning's deletes it) and drops only the rows from after the checkpoint, which the resumed
    run logs again."""

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        self._earlier_rows: list[dict[str, str]] | None = None
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as handle:
                reader = csv.DictReader(handle)
                self._earlier_rows = list(reader)
                self.metrics_keys = list(reader.fieldnames or [])

    def _check_log_dir_exists(self) -> None:
        pass  # the parent's version deletes the interrupted run's curve

    def save(self) -> None:
        if self._earlier_rows is not None and self.metrics:
            first_new_step = min(int(row["step"]) for row in self.metrics)
            kept = [row for row in self._earlier_rows if int(row["step"]) < first_new_step]
            with open(self.metrics_file_path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(kept)
            self._earlier_rows = None
        super().save()


class ResumableCSVLogger(L.pytorch.loggers.CSVLogger):
    @property
    def experiment(self) -> KeptCurveWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = KeptCurveWriter(log_dir=self.log_dir)
        return self._experiment


class ResumableTrainer(L.Trainer):
    """A Trainer whose `fit(..., ckpt_path=last.ckpt)` continues an interrupted run batch for batch."""

    def fit(self, model: L.LightningModule, train_dataloaders: Any = None, *args: Any, **kwargs: Any) -> None:
        position = next((c for c in self.callbacks if isinstance(c, ResumePosition)), None)
        # Several processes (DDP) need Lightning's own distributed sampler, which it only injects into a
        # plain DataLoader; there a resume restarts the epoch's data (Lightning warns about it).
        if position is not None and isinstance(train_dataloaders, DataLoader) and self.world_size == 1:
            train_dataloaders = SkipTrainedBatches(train_dataloaders, position)
        return super().fit(model, train_dataloaders, *args, **kwargs)


class StepProgress(L.Callback):
    """Optimizer steps as a bar on the terminal (progress.py), in place of Lightning's own bar,
    which inside a stage's notebook kernel would be written into the rendered notebook."""

    def __init__(self, desc: str = "train") -> None:
        self.desc, self.bar = desc, None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self.bar = progress(total=trainer.max_steps, initial=trainer.global_step, desc=self.desc, unit="step")

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if self.bar is not None:
            self.bar.update(trainer.global_step - self.bar.n)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def quiet_lightning() -> None:
    """Keep Lightning's routine chatter out of the rendered notebooks; its real warnings stay.

    Its start-up lines ("GPU available: False", tips for its cloud products, "`Trainer.fit`
    stopped") are INFO records of its rank-zero logger. Three warnings are expected here: the run
    folder already holds our resume checkpoint and CSV log on purpose, frozen modules are in eval
    mode on purpose, and a deprecation inside Lightning 2.6's own pytree helper is nothing our
    code can act on."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # Frozen parts (the pretrained text encoder) stay in eval mode while the rest trains, on purpose.
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")


def build_trainer(trainer_params: dict[str, Any], max_steps: int, run_dir: str | os.PathLike,
                  log_every_n_steps: int = 10, extra_callbacks: Sequence[L.Callback] = (), **overrides: Any) -> L.Trainer:
    """A Trainer writing `run_dir/last.ckpt` (for resume) and `run_dir/log/metrics.csv` (the curve)."""
    run_dir = Path(run_dir)
    quiet_lightning()
    checkpoint = CheckpointAfterStep(
        dirpath=run_dir, filename="last", save_last=False, every_n_train_steps=max(1, max_steps // 10),
        save_top_k=1, monitor=None, enable_version_counter=False,
    )
    # Flushed every step, so that a kill loses no row from before the last checkpoint.
    logger = ResumableCSVLogger(run_dir, name="log", version="", flush_logs_every_n_steps=1)
    options = dict(
        accelerator=trainer_params["accelerator"], devices=trainer_params["devices"],
        num_nodes=trainer_params["num_nodes"], strategy=trainer_params["strategy"],
        precision=trainer_params["precision"], accumulate_grad_batches=trainer_params["accumulate_grad_batches"],
        gradient_clip_val=trainer_params["gradient_clip_val"] or None,
        # Short runs (the smoke profile) still log a curve of a few points.
        max_steps=max_steps, callbacks=[ResumePosition(), StepProgress(run_dir.name), *extra_callbacks, checkpoint], logger=logger, log_every_n_steps=max(1, min(log_every_n_steps, max_steps // 5)),
        enable_model_summary=False, enable_progress_bar=False, deterministic="warn", num_sanity_val_steps=0,
    )
    options.update(overrides)
    return ResumableTrainer(**options)


def resume_path(run_dir: str | os.PathLike) -> str | None:
    """The checkpoint to resume from, if an earlier run of this stage was interrupted."""
    last = Path(run_dir) / "last.ckpt"
    return str(last) if last.is_file() else None


def export_curve(run_dir: str | os.PathLike, out_csv: str | os.PathLike, columns: tuple[str, ...]) -> list[dict[str, float]]:
    """Copy the logged training curve to a DVC plots CSV with columns (step, *columns)."""
    rows: list[dict[str, float]] = []
    source = Path(run_dir) / "log" / "metrics.csv"
    if source.is_file():
        with source.open() as handle:
            for row in csv.DictReader(handle):
                values = {c: row.get(c, "") for c in columns}
                if any(values.values()):
                    rows.append({"step": int(row["step"]), **{c: float(v) if v else float("nan") for c, v in values.items()}})
    with atomic_path(out_csv) as tmp:
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["step", *columns])
            writer.writeheader()
            writer.writerows(rows)
    return rows


def run_directory(stage: str, settings: dict[str, Any], root: str | os.PathLike = "data/runs") -> Path:
    """Scratch folder for a training run, keyed by a hash of everything that shapes it, so an
    interrupted run resumes only into a run with the same settings. Removed when the stage ends."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(root) / f"{stage}-{digest}"
