"""VAE encode and decode speed (x real time = seconds of audio per wall second, 2 torch threads) and peak memory, at the default and the paper profile with random weights (speed does not depend on training); and peak memory of chunked decoding against audio length, which should stay flat but for the output waveform itself. Each figure comes from its own fresh process; peak memory is the kernel's resident-set high-water mark (VmHWM, reset once the model is built and warmed up) minus the process's resident set after its imports, so it includes the weights. GFLOP/s counts convolutions only (torch's FlopCounterMode)."""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_support import (THREADS, WORKER_FLAG, counted_flops, measure_in_fresh_process, parameters_m, significant,  # noqa: E402
                           profile_params, reset_peak, resident_mib, timed, vae_config, worker_main)


@dataclass(frozen=True)
class VAESettings:
    """What to measure for one profile. `chunk_s=None` decodes in the profile's `encode.chunk_s` chunks, as generation does."""

    profile: str
    audio_s: float  # length coded by the encode / decode speed measurements
    chunked_lengths_s: tuple[float, ...]  # lengths for peak memory of chunked decoding
    chunk_s: float | None = None
    unchunked_contrast_s: float | None = None  # also decode this length in one piece, to show what chunking saves


FULL = (
    VAESettings("default", audio_s=10.0, chunked_lengths_s=(10.0, 30.0, 60.0, 120.0), unchunked_contrast_s=60.0),
    # A 10 s paper chunk takes tens of seconds to decode on 2 cores; shorter chunks over
    # shorter audio show the same flatness at the paper's widths in a practical time.
    VAESettings("paper", audio_s=2.0, chunked_lengths_s=(2.0, 4.0), chunk_s=2.0),
)
QUICK = (VAESettings("smoke", audio_s=0.5, chunked_lengths_s=(2.0, 4.0), chunk_s=1.0, unchunked_contrast_s=4.0),)


def code_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker: encode `seconds` of random audio, or decode as long a random latent, in one piece or (decode) in chunks of `chunk_frames`."""
    import torch

    from s2accompanist.models.vae import VAE, VAEConfig

    torch.manual_seed(0)
    vae = VAE(VAEConfig.from_dict(task["vae"])).eval()
    config, chunk, overlap = vae.config, task["chunk_frames"], task["overlap_frames"]

    def code(frames: int) -> torch.Tensor:
        if task["op"] == "encode":
            audio = 0.1 * torch.randn(1, config.in_channels, frames * config.downsampling_ratio)
            return vae.encode(audio)[0]
        latent = torch.randn(1, config.latent_dim, frames)
        return vae.decode(latent) if chunk is None else vae.decode_chunked(latent, chunk, overlap)

    frames = max(1, round(task["seconds"] * config.frame_rate))
    with torch.no_grad():
        # The first call at a shape pays for kernel set-up; warm up on the timed shape (for chunks, one window's).
        if chunk is None:
            _, flops = counted_flops(lambda: code(frames))
        else:
            code(min(chunk, frames))
            flops = None
        reset_peak()
        output, wall = timed(lambda: code(frames))
    return {"wall_s": wall, "peak_mib": resident_mib("VmHWM"), "flops": flops,
            "output_mib": output.numel() * output.element_size() / 2**20, "audio_s": frames / config.frame_rate,
            "weights_mib": sum(p.numel() * p.element_size() for p in vae.parameters()) / 2**20, "parameters": parameters_m(vae)}


def _measure(threads: int, **task: Any) -> dict[str, Any]:
    return measure_in_fresh_process(__file__, {"kind": "code", **task}, threads)


def profile_rows(settings: VAESettings, threads: int) -> list[dict]:
    from s2accompanist.models.vae import VAEConfig

    params = profile_params(settings.profile)
    vae = vae_config(params)
    config = VAEConfig.from_dict(vae)
    shape = f"{config.sample_rate} Hz, {config.in_channels} ch, {config.downsampling_ratio}x, {config.latent_dim} latent channels"
    rows = []
    for op in ("encode", "decode"):
        result = _measure(threads, vae=vae, op=op, seconds=settings.audio_s, chunk_frames=None, overlap_frames=0)
        rows.append({"name": f"{settings.profile} VAE {op}, {result['audio_s']:.3g} s in one piece", "value": significant(result['audio_s'] / result['wall_s']),
                     "unit": "x real time", "note": f"{result['parameters']} params, {shape}; {result['wall_s']:.2f} s wall, {threads} threads, "
                                                    f"{result['flops'] / result['wall_s'] / 1e9:.1f} GFLOP/s"})
        rows.append({"name": f"{settings.profile} VAE {op}, {result['audio_s']:.3g} s in one piece, peak memory", "value": f"{result['peak_mib']:.0f}",
                     "unit": "MiB", "note": f"includes {result['weights_mib']:.0f} MiB of weights"})
    chunk_s = settings.chunk_s if settings.chunk_s is not None else params.encode.chunk_s
    chunk_frames, overlap = max(1, round(chunk_s * config.frame_rate)), config.context_frames
    for length in settings.chunked_lengths_s:
        result = _measure(threads, vae=vae, op="decode", seconds=length, chunk_frames=chunk_frames, overlap_frames=overlap)
        rows.append({"name": f"{settings.profile} VAE chunked decode of {length:g} s, peak memory", "value": f"{result['peak_mib']:.0f}", "unit": "MiB",
                     "note": f"chunks of {chunk_frames} frames ({chunk_s:g} s) overlapping {overlap} frames per side; the output waveform alone is "
                             f"{result['output_mib']:.1f} MiB; {result['audio_s'] / result['wall_s']:.2f} x real time"})
    if settings.unchunked_contrast_s is not None:
        length = settings.unchunked_contrast_s
        result = _measure(threads, vae=vae, op="decode", seconds=length, chunk_frames=None, overlap_frames=0)
        rows.append({"name": f"{settings.profile} VAE decode of {length:g} s in one piece, peak memory", "value": f"{result['peak_mib']:.0f}", "unit": "MiB",
                     "note": f"for contrast with chunked decoding; {result['audio_s'] / result['wall_s']:.2f} x real time"})
    return rows


def run(settings: tuple[VAESettings, ...] = FULL, threads: int = THREADS) -> list[dict]:
    return [row for profile in settings for row in profile_rows(profile, threads)]


if __name__ == "__main__":
    if sys.argv[1:2] == [WORKER_FLAG]:
        worker_main({"code": code_task}, imports=("s2accompanist.models.vae",))
    else:
        # `--quick`: the smoke profile at toy lengths, to check the bench runs (its numbers mean nothing).
        for row in run(QUICK if "--quick" in sys.argv else FULL):
            print(f"{row['name']}: {row['value']} {row['unit']} ({row['note']})")
