"""`make gpu-check`: the paper-scale numbers only a GPU gives, with torch and this package's plain models alone.

A lent GPU machine may run its own Python with torch (and safetensors, which comes with
transformers) but none of this project's other pins, and cannot install anything. So this script
imports torch and `s2accompanist.models` only (no Lightning, no params schema), builds the paper
architectures from `PAPER_DIT_CONFIG` / `PAPER_VAE_CONFIG`, and measures on the first CUDA device:

1. the device's dense bf16 matmul peak (best of several 8192-cubed products): the MFU denominator;
2. the paper DiT's bf16-autocast training step (AdamW, the rectified-flow objective of
   `training/dit.py`, restated here): batch 32 x 95 s, or the largest batch that fits (halved on
   out-of-memory); latent frames per second, model FLOP utilisation (FLOPs counted by torch's
   FlopCounterMode on one step), peak memory;
3. the paper VAE's encode and decode of 10 s of 44.1 kHz stereo (real-time factor, peak memory);
4. a 10 s, 32-step Euler generation with text and structure guidance (three DiT passes a step).

    python bench/gpu_check.py                 # or: make gpu-check; about 3 min on an H100-class GPU
    python bench/gpu_check.py --quick --device cpu   # toy sizes: what the tests run

It prints a markdown section and, unless --quick, writes it into reports/perf.md (replacing an
earlier "gpu check" section). Never needed by the tests or the stages.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from s2accompanist.models.dit import DiT, PAPER_DIT_CONFIG, DiTConfig  # noqa: E402
from s2accompanist.models.structure import Segment, collate_structure  # noqa: E402
from s2accompanist.models.vae import PAPER_VAE_CONFIG, VAE  # noqa: E402

SECTION_HEADING = "## gpu check"
TEXT_TOKENS, SEGMENT_TOKENS, SECTIONS = 32, 16, 3


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Best wall time of `repeats` calls after one warm-up, in seconds."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def matmul_peak_tflops(device: torch.device, size: int, repeats: int) -> float:
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    seconds = timed(lambda: a @ b, device, repeats)
    return 2 * size**3 / seconds / 1e12


def dit_batch(config: DiTConfig, batch: int, frames: int, seconds: float, device: torch.device) -> dict[str, torch.Tensor]:
    """Random latents and captions, `SECTIONS` equal sections per item, shaped as the DiT stages collate them."""
    bounds = [frames * i // SECTIONS for i in range(SECTIONS + 1)]
    segments = [[Segment(i % 4, bounds[i], bounds[i + 1], torch.randn(SEGMENT_TOKENS, config.text_dim)) for i in range(SECTIONS)]
                for _ in range(batch)]
    conditions = {
        "text_tokens": torch.randn(batch, TEXT_TOKENS, config.text_dim),
        "text_mask": torch.ones(batch, TEXT_TOKENS, dtype=torch.bool),
        "text_pooled": torch.randn(batch, config.pooled_dim),
        "duration_s": torch.full((batch,), seconds),
        **collate_structure(segments, frames),
    }
    return {key: value.to(device) for key, value in conditions.items()}


def train_step(model: DiT, optimizer, conditions, latents: torch.Tensor) -> None:
    """One step of the rectified-flow objective of training/dit.py (velocity noise - x0 at a random time)."""
    times = torch.rand(latents.shape[0], device=latents.device)
    noise = torch.randn_like(latents)
    x_t = (1 - times[:, None, None]) * latents + times[:, None, None] * noise
    with torch.autocast(latents.device.type, dtype=torch.bfloat16):
        loss = (model(x_t, times, conditions) - (noise - latents)).float().pow(2).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def measure_training(config: DiTConfig, batch: int, seconds: float, frame_rate: float, device: torch.device,
                     peak_tflops: float, repeats: int) -> list[tuple[str, str, str, str]]:
    from torch.utils.flop_counter import FlopCounterMode

    frames = min(config.max_frames, round(seconds * frame_rate))
    model = DiT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    while True:
        try:
            reset_peak(device)
            conditions = dit_batch(config, batch, frames, seconds, device)
            latents = torch.randn(batch, config.latent_dim, frames, device=device)
            step_s = timed(lambda: train_step(model, optimizer, conditions, latents), device, repeats)
            break
        except torch.cuda.OutOfMemoryError:
            if batch == 1:
                raise
            batch //= 2
            optimizer.zero_grad(set_to_none=True)
    peak = peak_gib(device)
    with FlopCounterMode(display=False) as counter:
        train_step(model, optimizer, conditions, latents)
    flops = counter.get_total_flops()
    achieved = flops / step_s / 1e12
    return [
        ("paper DiT training throughput", f"{batch * frames / step_s:.0f}", "latent frames/s",
         f"{n_params:.1f}M params; batch {batch} x {seconds:g} s ({frames} frames); bf16 autocast, AdamW, clipping; best of {repeats} steps"),
        ("paper DiT training MFU", f"{100 * achieved / peak_tflops:.1f}", "%",
         f"{flops / 1e12:.1f} TFLOP per step (FlopCounterMode) at {achieved:.1f} TFLOP/s against the bf16 matmul peak"),
        ("paper DiT training peak memory", "n/a" if peak is None else f"{peak:.1f}", "GiB", f"batch {batch}; torch.cuda.max_memory_allocated"),
    ]


def measure_vae(config, seconds: float, device: torch.device, repeats: int) -> list[tuple[str, str, str, str]]:
    vae = VAE(config).to(device).eval()
    samples = round(seconds * config.sample_rate) // config.downsampling_ratio * config.downsampling_ratio
    audio = torch.randn(1, config.in_channels, samples, device=device) * 0.1
    rows = []
    with torch.no_grad():
        reset_peak(device)
        encode_s = timed(lambda: vae.encode(audio), device, repeats)
        latents = vae.encode(audio)[0]
        rows.append(("paper VAE encode", f"{seconds / encode_s:.1f}", "x real time",
                     f"{seconds:g} s of {config.in_channels}-channel {config.sample_rate} Hz audio; float32; peak "
                     + ("n/a" if peak_gib(device) is None else f"{peak_gib(device):.2f} GiB")))
        reset_peak(device)
        decode_s = timed(lambda: vae.decode(latents), device, repeats)
        rows.append(("paper VAE decode", f"{seconds / decode_s:.1f}", "x real time",
                     f"{latents.shape[-1]} latent frames; float32; peak " + ("n/a" if peak_gib(device) is None else f"{peak_gib(device):.2f} GiB")))
    return rows


def measure_generation(config: DiTConfig, seconds: float, frame_rate: float, steps: int, device: torch.device) -> list[tuple[str, str, str, str]]:
    from s2accompanist.sampling import generate, guided_velocity

    frames = round(seconds * frame_rate)
    model = DiT(config).to(device).eval()
    conditions = dit_batch(config, 1, frames, seconds, device)

    def model_fn(x, t, drop_text, drop_structure):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return model(x, t.expand(x.shape[0]), conditions, drop_text=drop_text, drop_structure=drop_structure).float()

    velocity = guided_velocity(model_fn, guidance_text=3.0, guidance_structure=1.5)
    with torch.no_grad():
        wall = timed(lambda: generate(velocity, (1, config.latent_dim, frames), steps, device=device), device, 1)
    return [("paper DiT guided generation", f"{wall:.2f}", "s", f"{seconds:g} s clip ({frames} frames), {steps} Euler steps, "
             "text and structure guidance (3 DiT passes per step), bf16 autocast; latents only (the VAE decode is timed above)")]


def markdown(device: torch.device, peak_tflops: float, rows: list[tuple[str, str, str, str]]) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{device.type} (toy sizes)"
    lines = [SECTION_HEADING, "",
             f"`bench/gpu_check.py` on {name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}. "
             "Paper architectures with random weights; numbers of this one machine.", "",
             "| measurement | value | unit | note |", "|---|---|---|---|",
             f"| bf16 matmul peak | {peak_tflops:.1f} | TFLOP/s | best dense bf16 product; the denominator of the MFU below |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"


def write_section(perf: Path, section: str) -> None:
    text = perf.read_text() if perf.is_file() else "# Performance\n"
    pattern = re.compile(rf"^{re.escape(SECTION_HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub("", text).rstrip("\n") + "\n\n" + section
    perf.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="toy sizes (tests, or a machine without a GPU); writes nothing")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "perf.md")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here; run with --quick --device cpu for a toy check", file=sys.stderr)
        return 2
    dit_config, vae_config = PAPER_DIT_CONFIG, PAPER_VAE_CONFIG
    batch, train_s, matmul, repeats, steps = 32, 95.0, (8192, 5), 3, 32
    if args.quick:
        dit_config = replace(PAPER_DIT_CONFIG, width=64, depth=2, heads=4, text_dim=32, max_frames=64)
        vae_config = replace(PAPER_VAE_CONFIG, channels=4, c_mults=(1, 2), strides=(2, 4))
        batch, train_s, matmul, repeats, steps = 2, 1.0, (256, 1), 1, 2
    frame_rate = PAPER_VAE_CONFIG.sample_rate / PAPER_VAE_CONFIG.downsampling_ratio  # the paper's latent rate, 21.5 Hz
    peak = matmul_peak_tflops(device, *matmul)
    rows = measure_training(dit_config, batch, train_s, frame_rate, device, peak, repeats)
    rows += measure_vae(vae_config, 10.0 if not args.quick else 0.5, device, repeats)
    rows += measure_generation(dit_config, 10.0 if not args.quick else 1.0, frame_rate, steps, device)
    section = markdown(device, peak, rows)
    print(section)
    if not args.quick:
        write_section(args.out, section)
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
