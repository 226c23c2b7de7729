"""A training run SIGKILLed after a checkpoint resumes from it: the step count continues and the
final weights equal those of a run that was never interrupted.

Every run goes through the stages' own path: `build_trainer` + `trainer.fit(..., ckpt_path=resume_path(run_dir))`.
The interrupted run is a real child process (this file, run as a script) that kills itself with
SIGKILL in the step after `kill_at`, whose work is lost: `last.ckpt` holds step `kill_at`. It dies
at the end of that step's training batch, or (VAE) as that step's validation starts: a step that
validates is saved only after its validation, or the resume would skip it and the curve miss it.
The resumed and the uninterrupted run happen in this process. Compared: every tensor of the
training wrapper (model, EMA, lead-sheet heads) and the logged loss curve.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = 6
# build_trainer checkpoints every max(1, STEPS // 10) = 1 step. The VAE run is one epoch that
# validates after steps 2, 4 and 6; the DiT run is two shuffled epochs (killed inside the second).
TRAINER = dict(accelerator="cpu", devices=1, num_nodes=1, strategy="auto", precision="32-true",
               accumulate_grad_batches=1, gradient_clip_val=1.0)


def vae_run():
    """A tiny VAE wrapper (EMA and lead-sheet distillation on) with train and validation crops."""
    import torch

    from s2accompanist.models.vae import VAEConfig
    from s2accompanist.training.vae import VAETrainingWrapper

    config = VAEConfig(in_channels=1, channels=4, c_mults=(1, 2), strides=(2, 4), latent_dim=4, sample_rate=16000)
    frames = 256

    class Crops(torch.utils.data.Dataset):
        def __init__(self, length, offset):
            self.length, self.offset = length, offset

        def __len__(self):
            return self.length

        def __getitem__(self, index):
            generator = torch.Generator().manual_seed(self.offset + index)
            return {"audio": 0.3 * torch.randn(1, frames * config.downsampling_ratio, generator=generator),
                    "melody": torch.randint(0, 61, (frames,), generator=generator),
                    "chord": torch.randint(0, 85, (frames,), generator=generator),
                    "beat": (torch.rand(frames, generator=generator) > 0.8).float(),
                    "downbeat": (torch.rand(frames, generator=generator) > 0.95).float()}

    wrapper = VAETrainingWrapper(config.to_dict(), distill_weights={"melody": 1.0, "chord": 1.0, "beat": 0.5}, head_channels=8,
                                 stft_fft_sizes=(256, 64), mel_fft=256, ema_decay=0.9)
    train = torch.utils.data.DataLoader(Crops(STEPS * 2, 0), batch_size=2)
    valid = torch.utils.data.DataLoader(Crops(2, 1000), batch_size=2)
    # Validation every 2 steps, as vae_stage validates a few times per run: its loader draws from the
    # global generator too, so a resume must not replay or skip one.
    return wrapper, (train, valid), dict(val_check_interval=2, check_val_every_n_epoch=None)


def dit_run():
    """A tiny structure-conditioned DiT wrapper (text and structure dropout on) on random windows,
    shuffled by a seeded generator of the loader's own, as the refclap stage shuffles."""
    import torch

    from s2accompanist.models.structure import Segment
    from s2accompanist.training.dit import DiTTrainingWrapper, collate_dit_batch

    class Windows(torch.utils.data.Dataset):
        def __len__(self):
            return STEPS

        def __getitem__(self, index):
            generator = torch.Generator().manual_seed(index)
            return {"latents": torch.randn(4, 16, generator=generator), "text_tokens": torch.randn(3, 8, generator=generator),
                    "text_pooled": torch.randn(8, generator=generator), "duration_s": 16.0,
                    "segments": [Segment(index % 8, 0, 6, torch.randn(2, 8, generator=generator)),
                                 Segment((index + 3) % 8, 6, 16, torch.randn(3, 8, generator=generator))]}

    wrapper = DiTTrainingWrapper(dict(latent_dim=4, width=32, depth=2, heads=4, text_dim=8, max_frames=64, structure=True),
                                 lr=1e-3, warmup_steps=2, total_steps=STEPS, ema_decay=0.5, structure_dropout=0.3, unconditional_dropout=0.3)
    train = torch.utils.data.DataLoader(Windows(), batch_size=2, collate_fn=collate_dit_batch, shuffle=True,
                                        generator=torch.Generator().manual_seed(1))
    return wrapper, (train,), {}


def child(kind: str, run_dir: str, result: str, kill_at: int, kill_in: str = "train") -> None:
    import lightning as L
    import torch

    from s2accompanist.training.trainer import build_trainer, export_curve, resume_path, seed_everything

    seed_everything(0, num_threads=1)
    wrapper, loaders, options = {"vae": vae_run, "dit": dit_run}[kind]()
    steps_seen: list[int] = []

    class KillAfterCheckpoint(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            steps_seen.append(trainer.global_step)

        def kill_in_step_after_checkpoint(self, trainer, where):
            if where == kill_in and trainer.global_step == kill_at + 1:
                assert Path(resume_path(run_dir)).is_file(), "no checkpoint to resume from"
                os.kill(os.getpid(), signal.SIGKILL)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.kill_in_step_after_checkpoint(trainer, "train")  # checkpoint callbacks run last: the step's own is not saved

        def on_validation_start(self, trainer, pl_module):
            self.kill_in_step_after_checkpoint(trainer, "validation")

    trainer = build_trainer(TRAINER, max_steps=STEPS, run_dir=run_dir, extra_callbacks=[KillAfterCheckpoint()],
                            enable_progress_bar=False, **options)
    trainer.fit(wrapper, *loaders, ckpt_path=resume_path(run_dir))
    torch.save({k: v.detach().clone() for k, v in wrapper.state_dict().items()}, Path(result).with_suffix(".pt"))
    export_curve(run_dir, Path(result).with_suffix(".csv"), ("train/loss", "val/loss"))
    Path(result).write_text(json.dumps({"steps_seen": steps_seen, "global_step": trainer.global_step}))


def train_until_killed(kind: str, run_dir: Path, kill_at: int, kill_in: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, __file__, kind, str(run_dir), str(run_dir / "unused.json"), str(kill_at), kill_in],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("kind, kill_at, kill_in", [
    ("vae", 3, "train"),       # between two validations
    ("vae", 4, "train"),       # resumes from a checkpoint saved after step 4's validation
    ("vae", 3, "validation"),  # in step 4's validation: resumes from step 3 and validates step 4 again
    ("dit", 4, "train"),
])
def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, kind, kill_at, kill_in, recwarn):
    import torch

    killed = train_until_killed(kind, tmp_path / "run", kill_at=kill_at, kill_in=kill_in)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (tmp_path / "run" / "last.ckpt").is_file()

    child(kind, str(tmp_path / "run"), str(tmp_path / "resumed.json"), kill_at=-1)
    steps = json.loads((tmp_path / "resumed.json").read_text())
    assert steps["steps_seen"] == list(range(kill_at, STEPS)), "training started over instead of continuing"
    assert steps["global_step"] == STEPS
    assert not [w for w in recwarn if "not resumable" in str(w.message)], "Lightning restarted the interrupted epoch's data"

    child(kind, str(tmp_path / "straight"), str(tmp_path / "straight.json"), kill_at=-1)
    assert json.loads((tmp_path / "straight.json").read_text())["steps_seen"] == list(range(STEPS))
    expected = torch.load(tmp_path / "straight.pt", weights_only=True)
    got = torch.load(tmp_path / "resumed.pt", weights_only=True)
    differing = [k for k in expected if not torch.equal(expected[k], got[k])]
    curve = (tmp_path / "resumed.csv").read_text()
    assert curve == (tmp_path / "straight.csv").read_text(), "the loss curve lost or repeated rows across the resume"
    assert len(curve.splitlines()) > STEPS // 2
    assert not differing, f"resumed weights differ from an uninterrupted run's in {len(differing)} tensors, e.g. {differing[:3]}"


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
