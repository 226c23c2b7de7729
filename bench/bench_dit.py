"""DiT training throughput (latent frames per second) and generation real-time factor (wall seconds per second of audio, as `Generator` reports it: lower is faster) at the default and the paper profile on CPU with 2 torch threads and random weights; model FLOP utilisation (MFU) against this machine's measured float32 matmul peak; peak memory. FLOPs are counted by torch's FlopCounterMode on the real shapes (matmuls and attention; elementwise work and the optimiser are not counted, as is usual for MFU). Each figure comes from its own fresh process; peak memory is the kernel's resident-set high-water mark minus the process's resident set after its imports (method in bench/model_support.py)."""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_support import (THREADS, WORKER_FLAG, counted_flops, dit_config, matmul_peak_gflops,  # noqa: E402
                           measure_in_fresh_process, parameters_m, profile_params, reset_peak, resident_mib, significant, timed,
                           vae_config, worker_main)

# Caption lengths in tokens (a sentence-long prompt, a short phrase per section) and sections per
# clip: the shapes the text conditions take; they change only the cross-attention's cost.
TEXT_TOKENS = 32
SEGMENT_TOKENS = 16
SECTIONS = 3
# The target for the paper profile: a 10 s clip, 32 steps with guidance, on 2 cores.
PAPER_GENERATION_TARGET_S = 180.0


@dataclass(frozen=True)
class DiTSettings:
    """What to measure for one profile; None takes the profile's own value (dit_pretrain.batch_size, dit.crop_s, generate.*)."""

    profile: str
    train_steps: int  # timed optimiser steps, after one warm-up step
    train_batch: int | None = None
    train_crop_s: float | None = None
    clip_s: float | None = None
    sample_steps: int | None = None


FULL = (
    DiTSettings("default", train_steps=3),
    # The paper's batch of 32 x 95 s crops would take tens of minutes and far more memory per step
    # here; a short crop runs the same layers, at a smaller share of attention in the cost.
    DiTSettings("paper", train_steps=2, train_batch=4, train_crop_s=4.0),
)
QUICK = (DiTSettings("smoke", train_steps=1, train_batch=2, train_crop_s=1.0, clip_s=2.0, sample_steps=2),)
MATMUL_FULL = (2048, 10)  # matrix size, repeats (best of)
MATMUL_QUICK = (256, 2)


def _conditions(config, batch: int, frames: int, seconds: float) -> dict[str, Any]:
    """Random caption embeddings and `SECTIONS` equal sections, collated as `collate_dit_batch` does for training."""
    import torch

    from s2accompanist.models.structure import Segment
    from s2accompanist.training.dit import collate_dit_batch

    bounds = [frames * i // SECTIONS for i in range(SECTIONS + 1)]
    items = [{"latents": torch.randn(config.latent_dim, frames), "text_tokens": torch.randn(TEXT_TOKENS, config.text_dim),
              "text_pooled": torch.randn(config.pooled_dim), "duration_s": seconds,
              "segments": [Segment(i, bounds[i], bounds[i + 1], torch.randn(SEGMENT_TOKENS, config.text_dim))
                           for i in range(SECTIONS) if bounds[i + 1] > bounds[i]]}
             for _ in range(batch)]
    return collate_dit_batch(items)


def train_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker: optimiser steps as DiTTrainingWrapper takes them under Lightning (loss, backward, clipping, AdamW, schedule, EMA)."""
    import torch

    from s2accompanist.training.dit import DiTTrainingWrapper, draw_guidance_branches, rectified_flow_loss

    torch.manual_seed(0)
    run = task["run"]
    wrapper = DiTTrainingWrapper(task["dit"], lr=run["lr"], warmup_steps=run["warmup_steps"], total_steps=run["steps"],
                                 ema_decay=run["ema_decay"], structure_dropout=task["structure_dropout"], unconditional_dropout=task["unconditional_dropout"])
    optimizers = wrapper.configure_optimizers()
    optimizer, schedule = optimizers["optimizer"], optimizers["lr_scheduler"]["scheduler"]
    model, hparams = wrapper.model, wrapper.hparams
    batch = _conditions(wrapper.config, task["batch"], task["frames"], task["frames"] / task["frame_rate"])

    def step() -> None:
        size = task["batch"]
        times = torch.sigmoid(torch.randn(size) * hparams.logit_normal_std + hparams.logit_normal_mean)
        loss = rectified_flow_loss(model, batch, times, torch.randn_like(batch["latents"]),
                                   *draw_guidance_branches(size, hparams.structure_dropout, hparams.unconditional_dropout))
        loss.backward()
        if task["gradient_clip_val"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), task["gradient_clip_val"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        schedule.step()
        wrapper.ema.update(model)

    # The warm-up step also creates AdamW's state, which then stays for good.
    _, flops = counted_flops(step)
    reset_peak()
    walls = [timed(step)[1] for _ in range(task["steps"])]
    return {"step_s": sum(walls) / len(walls), "flops_per_step": flops, "peak_mib": resident_mib("VmHWM"), "parameters": parameters_m(model)}


def sample_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker: one clip as `Generator.__call__` makes it (guided ODE sampling, then chunked VAE decoding), text encoding aside."""
    import torch

    from s2accompanist.models.dit import DiT, DiTConfig
    from s2accompanist.models.vae import VAE, VAEConfig
    from s2accompanist.sampling import generate, guided_velocity

    torch.manual_seed(0)
    dit, vae = DiT(DiTConfig.from_dict(task["dit"])).eval(), VAE(VAEConfig.from_dict(task["vae"])).eval()
    frames, chunk, overlap = task["frames"], task["chunk_frames"], vae.config.context_frames
    conditions = _conditions(dit.config, 1, frames, frames / vae.config.frame_rate)
    conditions.pop("latents")
    forward_passes = 0

    def model_fn(x, t, drop_text, drop_structure):
        nonlocal forward_passes
        forward_passes += 1
        return dit(x, t.expand(x.shape[0]), conditions, drop_text=drop_text, drop_structure=drop_structure)

    velocity = guided_velocity(model_fn, task["guidance_text"], task["guidance_structure"])
    shape = (1, dit.config.latent_dim, frames)
    with torch.no_grad():
        _, flops_per_call = counted_flops(lambda: velocity(torch.randn(shape), torch.ones(1)))
        # A short decode sets up the VAE's kernels; a full window would cost as much as the timed decode at paper scale.
        vae.decode_chunked(torch.randn(1, vae.config.latent_dim, min(chunk, frames, 4 * overlap)), chunk, overlap)
        passes_per_call = forward_passes
        forward_passes = 0
        reset_peak()
        latents, sampling_s = timed(lambda: generate(velocity, shape, task["steps"], task["sampler"], generator=torch.Generator().manual_seed(0)))
        _, decode_s = timed(lambda: vae.decode_chunked(latents, chunk, overlap))
    return {"sampling_s": sampling_s, "decode_s": decode_s, "forward_passes": forward_passes, "passes_per_call": passes_per_call,
            "sampling_flops": flops_per_call * forward_passes / passes_per_call, "peak_mib": resident_mib("VmHWM"),
            "parameters": parameters_m(dit), "vae_parameters": parameters_m(vae)}


def matmul_task(task: dict[str, Any]) -> dict[str, Any]:
    return {"gflops": matmul_peak_gflops(task["size"], task["repeats"])}


def training_rows(settings: DiTSettings, params, dit: dict[str, Any], frame_rate: float, text_source: str, peak_gflops: float, threads: int) -> list[dict]:
    batch = settings.train_batch or params.dit_pretrain.batch_size
    crop_s = settings.train_crop_s if settings.train_crop_s is not None else params.dit.crop_s
    frames = max(1, int(crop_s * frame_rate))  # as the dit stages crop
    result = measure_in_fresh_process(__file__, {
        "kind": "train", "dit": dit, "run": params.dit_pretrain.model_dump(), "batch": batch, "frames": frames, "frame_rate": frame_rate,
        "steps": settings.train_steps, "structure_dropout": params.dit.structure_dropout, "unconditional_dropout": params.dit.unconditional_dropout,
        "gradient_clip_val": params.trainer.gradient_clip_val}, threads)
    achieved = result["flops_per_step"] / result["step_s"] / 1e9
    name = f"{settings.profile} DiT training"
    return [
        {"name": f"{name} throughput", "value": f"{batch * frames / result['step_s']:.1f}", "unit": "latent frames/s",
         "note": f"{result['parameters']} params (text width: {text_source}); batch {batch} x {crop_s:g} s crop ({frames} frames); "
                 f"forward, backward, clipping, AdamW, EMA; {result['step_s']:.2f} s per step, mean of {settings.train_steps} after a warm-up; {threads} threads"},
        {"name": f"{name} model FLOP utilisation", "value": significant(100 * achieved / peak_gflops), "unit": "%",
         "note": f"{result['flops_per_step'] / 1e9:.1f} GFLOP per step (forward + backward) at {achieved:.1f} GFLOP/s, against the matmul peak above"},
        {"name": f"{name} peak memory", "value": f"{result['peak_mib']:.0f}", "unit": "MiB",
         "note": "weights, gradients, AdamW state, EMA copy and activations"},
    ]


def generation_rows(settings: DiTSettings, params, dit: dict[str, Any], frame_rate: float, peak_gflops: float, threads: int) -> list[dict]:
    generation = params.generate
    clip_s = settings.clip_s if settings.clip_s is not None else generation.clip_s
    steps = settings.sample_steps or generation.steps
    frames = max(1, round(clip_s * frame_rate))  # as Generator sizes a request
    # The cost does not depend on the scales' values, only on guidance being on: the first candidate.
    guidance_text, guidance_structure = generation.guidance[0]
    result = measure_in_fresh_process(__file__, {
        "kind": "sample", "dit": dit, "vae": vae_config(params), "frames": frames, "steps": steps, "sampler": generation.sampler,
        "guidance_text": guidance_text, "guidance_structure": guidance_structure,
        "chunk_frames": max(1, round(params.encode.chunk_s * frame_rate))}, threads)
    total_s = result["sampling_s"] + result["decode_s"]
    achieved = result["sampling_flops"] / result["sampling_s"] / 1e9
    name = f"{settings.profile} generation of a {clip_s:g} s clip"
    target = (f"; target < {PAPER_GENERATION_TARGET_S:.0f} s: {'met' if total_s < PAPER_GENERATION_TARGET_S else 'not met'}"
              if settings.profile == "paper" else "")
    return [
        {"name": f"{name}, real-time factor", "value": significant(total_s / clip_s), "unit": "wall s per audio s",
         "note": f"{steps} {generation.sampler} steps, {result['forward_passes']} DiT forward passes ({result['passes_per_call']} per velocity: "
                 f"guidance text {guidance_text:g}, structure {guidance_structure:g}); DiT {result['parameters']}, "
                 f"VAE {result['vae_parameters']} params; text encoding not included; {threads} threads"},
        {"name": f"{name}, wall time", "value": significant(total_s), "unit": "s",
         "note": f"sampling {significant(result['sampling_s'])} s + chunked VAE decoding {significant(result['decode_s'])} s{target}"},
        {"name": f"{name}, sampling model FLOP utilisation", "value": significant(100 * achieved / peak_gflops), "unit": "%",
         "note": f"{result['sampling_flops'] / 1e9:.0f} GFLOP of DiT forward passes at {achieved:.1f} GFLOP/s, against the matmul peak above"},
        {"name": f"{name}, peak memory", "value": f"{result['peak_mib']:.0f}", "unit": "MiB", "note": "DiT and VAE weights, sampling and decoding"},
    ]


def run(settings: tuple[DiTSettings, ...] = FULL, threads: int = THREADS, matmul: tuple[int, int] = MATMUL_FULL) -> list[dict]:
    size, repeats = matmul
    peak = measure_in_fresh_process(__file__, {"kind": "matmul", "size": size, "repeats": repeats}, threads)["gflops"]
    rows = [{"name": f"float32 matmul peak, {threads} threads", "value": f"{peak:.1f}", "unit": "GFLOP/s",
             "note": f"best of {repeats} ({size} x {size}) @ ({size} x {size}); the denominator of every MFU below"}]
    for profile in settings:
        params = profile_params(profile.profile)
        dit, frame_rate, text_source = dit_config(params)
        rows += training_rows(profile, params, dit, frame_rate, text_source, peak, threads)
        rows += generation_rows(profile, params, dit, frame_rate, peak, threads)
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == [WORKER_FLAG]:
        worker_main({"train": train_task, "sample": sample_task, "matmul": matmul_task},
                    imports=("s2accompanist.training.dit", "s2accompanist.models.dit", "s2accompanist.models.vae", "s2accompanist.sampling"))
    else:
        # `--quick`: the smoke profile at toy sizes, to check the bench runs (its numbers mean nothing).
        quick = "--quick" in sys.argv
        for row in run(QUICK if quick else FULL, matmul=MATMUL_QUICK if quick else MATMUL_FULL):
            print(f"{row['name']}: {row['value']} {row['unit']} ({row['note']})")
