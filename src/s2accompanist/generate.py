"""Text (and per-section captions) to audio with a trained DiT and its VAE.

    python -m s2accompanist.generate --prompt "calm jazz with piano" \
        --sections "intro:0-4:soft piano; verse:4-10:drums enter" --duration 10 --out clip.wav

Impossible requests (overlapping or out-of-range segments, an empty prompt, a duration beyond
the model's maximum, a missing checkpoint) fail before any model is loaded. Every output gets a
JSON sidecar with the request, the seed actually used, the sampler settings, checkpoint hashes
and backend names.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open

from .checkpoints import CONFIG_KEY, CheckpointError, file_sha256
from .generation import GenerationRequest, RequestError, key_index, parse_sections, requested_key, requested_tempo, validate_request
from .io import write_json
from .labels import SECTION_LABELS


def item_seed(seed: int, request_id: str) -> int:
    """A per-item seed from the run seed and the item id: stable whatever order items run in."""
    return int(hashlib.sha256(f"{seed}:{request_id}".encode()).hexdigest()[:8], 16)


def checkpoint_config(path: str | Path, param: str) -> dict[str, Any]:
    """Read a checkpoint's config without loading its weights (to validate requests first)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{param}: checkpoint {path} does not exist; the dit_sft / vae stages write it (`dvc repro`)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            config = json.loads((handle.metadata() or {}).get(CONFIG_KEY, "{}"))
    except Exception as err:  # safetensors raises several types for truncated or foreign files
        raise CheckpointError(f"{param}: {path} is not a readable s2accompanist checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(config, dict) or (param.endswith("dit") and not {"dit", "frame_rate_hz"} <= set(config)):
        raise CheckpointError(f"{param}: {path} is not an exported DiT (its config has keys {sorted(config) if isinstance(config, dict) else config!r})")
    return config


class Generator:
    """A DiT checkpoint, the VAE whose latents it models, and the text encoder it was trained with."""

    def __init__(self, dit_path: str | Path, vae_path: str | Path, sampler: str = "euler", steps: int = 24,
                 guidance_text: float = 3.0, guidance_structure: float = 1.5, chunk_s: float = 10.0):
        from .models.dit import load_dit
        from .models.text_encoders import build_text_encoder
        from .models.vae import load_vae

        config = checkpoint_config(dit_path, "generate.dit")
        checkpoint_config(vae_path, "generate.vae")
        self.dit, self.vae = load_dit(dit_path, "generate.dit"), load_vae(vae_path, "generate.vae").eval()
        self.latent_std, self.frame_rate = float(config["latent_std"]), float(config["frame_rate_hz"])
        if abs(self.vae.config.frame_rate - self.frame_rate) > 1e-6:
            raise CheckpointError(f"the DiT was trained on latents at {self.frame_rate} Hz but the VAE {vae_path} makes "
                                  f"{self.vae.config.frame_rate} Hz; pair each DiT with the VAE of its `encode` variant")
        self.text_backend = config["text_encoder"]
        self.text_encoder = build_text_encoder(self.text_backend["backend"], self.text_backend["checkpoint"])
        self.max_s = self.dit.config.max_frames / self.frame_rate
        self.settings = {"sampler": sampler, "steps": steps, "guidance_text": guidance_text, "guidance_structure": guidance_structure}
        self.chunk_frames = max(1, round(chunk_s * self.frame_rate))
        dit_backend = ("structure-dit" if self.dit.config.structure else "dit") + ("+beat-grid" if self.dit.config.rhythm else "") + ("+key" if self.dit.config.key else "")
        self.provenance = {"dit_checkpoint": str(dit_path), "dit_sha256": file_sha256(dit_path),
                           "vae_checkpoint": str(vae_path), "vae_sha256": file_sha256(vae_path),
                           "backends": {"text_encoder": self.text_backend["backend"], "vae": "oobleck", "dit": dit_backend}}

    @torch.no_grad()
    def __call__(self, request: GenerationRequest, seed: int) -> tuple[np.ndarray, dict[str, Any], dict[str, float]]:
        """(audio (channels, samples), sidecar, timings in seconds) for one request."""
        from .models.rhythm import grid_phases
        from .models.structure import Segment, collate_structure
        from .sampling import generate, guided_velocity

        validate_request(request, self.max_s)
        started = time.perf_counter()
        # Enough latent frames to cover the request (215 rounded frames at 2048 / 44.1 kHz gave 9.985 s
        # for 10 s), the decoded audio then cut to the requested length.
        frames = min(self.dit.config.max_frames, max(1, math.ceil(request.duration_s * self.frame_rate - 1e-9)))
        samples = round(request.duration_s * self.vae.config.sample_rate)
        text = self.text_encoder.encode([request.prompt])
        conditions = {"text_tokens": text.tokens, "text_mask": text.mask, "text_pooled": text.pooled,
                      "duration_s": torch.tensor([request.duration_s]), "latent_mask": torch.ones(1, frames, dtype=torch.bool)}
        use_structure = self.dit.config.structure and bool(request.segments)
        if use_structure:
            captions = self.text_encoder.encode([s.caption or request.prompt for s in request.segments])
            segments = [Segment(SECTION_LABELS.index(s.label), int(round(s.start_s * self.frame_rate)),
                                max(int(round(s.start_s * self.frame_rate)) + 1, min(frames, int(round(s.end_s * self.frame_rate)))),
                                captions.tokens[i, : int(captions.mask[i].sum())])
                        for i, s in enumerate(request.segments)]
            conditions.update(collate_structure([segments], frames))
        # The beat grid of the tempo the prompt states; a prompt that states none gets the null grid.
        grid_bpm = requested_tempo(request.prompt) if self.dit.config.rhythm else None
        if grid_bpm is not None:
            beat_phase, bar_phase = grid_phases(frames, self.frame_rate, grid_bpm)
            conditions.update(beat_phase=torch.from_numpy(beat_phase).float()[None], bar_phase=torch.from_numpy(bar_phase).float()[None],
                              rhythm_known=torch.ones(1, dtype=torch.bool))
        stated_key = requested_key(request.prompt) if self.dit.config.key else None
        if self.dit.config.key:
            conditions["key_index"] = torch.tensor([key_index(stated_key)])
        encoded = time.perf_counter()

        def model_fn(x, t, drop_text, drop_structure):
            return self.dit(x, t.expand(x.shape[0]), conditions, drop_text=drop_text, drop_structure=drop_structure or not use_structure)

        # Without structure to follow, only text guidance applies.
        guidance_structure = self.settings["guidance_structure"] if use_structure else 0.0
        velocity = guided_velocity(model_fn, self.settings["guidance_text"], guidance_structure)
        latents = generate(velocity, (1, self.dit.config.latent_dim, frames), self.settings["steps"], self.settings["sampler"],
                           generator=torch.Generator().manual_seed(seed))
        sampled = time.perf_counter()
        overlap = self.vae.config.context_frames
        audio = self.vae.decode_chunked(latents * self.latent_std, self.chunk_frames, overlap)[0, :, :samples].numpy()
        decoded = time.perf_counter()
        sidecar = {**request.to_dict(), "seed": seed, **self.settings, "guidance_structure_applied": guidance_structure,
                   "structure_used": use_structure, "beat_grid_bpm": grid_bpm, "key_condition": stated_key, "sample_rate": self.vae.config.sample_rate, **self.provenance}
        timings = {"text_s": encoded - started, "sampling_s": sampled - encoded, "decode_s": decoded - sampled,
                   "total_s": decoded - started, "real_time_factor": (decoded - started) / request.duration_s}
        return audio, sidecar, timings


def write_output(out_path: Path, audio: np.ndarray, sidecar: dict[str, Any]) -> None:
    """The audio file and its JSON sidecar (same stem, .json)."""
    from .audio import write_audio

    write_audio(out_path, audio, sidecar["sample_rate"])
    write_json(out_path.with_suffix(".json"), sidecar)


CHOSEN_GUIDANCE = "data/guidance/chosen.json"


def chosen_guidance(path: str | Path = CHOSEN_GUIDANCE) -> tuple[float, float]:
    """The (text, structure) guidance scales the `guidance` stage chose, which every generate stage uses."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; the `guidance` stage writes it (dvc repro guidance)")
    chosen = json.loads(path.read_text())
    return float(chosen["guidance_text"]), float(chosen["guidance_structure"])


def main(argv: list[str] | None = None) -> int:
    from .params import load_params

    defaults = load_params().generate if Path("params.yaml").is_file() else None
    parser = argparse.ArgumentParser(description="Generate instrumental music from text, optionally per section.")
    parser.add_argument("--prompt", required=True, help="what the whole piece should sound like")
    parser.add_argument("--sections", default="", help="'LABEL:START-END:CAPTION; ...', labels: " + ", ".join(SECTION_LABELS))
    parser.add_argument("--duration", type=float, default=defaults.clip_s if defaults else 10.0, help="seconds")
    parser.add_argument("--out", type=Path, required=True, help="output .wav, .flac or .mp3 (a .json sidecar is written beside it)")
    parser.add_argument("--dit", default="data/checkpoints/dit_sft-full.safetensors")
    parser.add_argument("--vae", default="data/checkpoints/vae-semantic.safetensors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sampler", default=defaults.sampler if defaults else "euler", choices=["euler", "heun"])
    parser.add_argument("--steps", type=int, default=defaults.steps if defaults else 24)
    default_guidance = chosen_guidance() if Path(CHOSEN_GUIDANCE).is_file() else None
    parser.add_argument("--guidance-text", type=float, default=default_guidance[0] if default_guidance else 3.0,
                        help=f"default: the guidance stage's choice ({CHOSEN_GUIDANCE}) when it exists, else 3")
    parser.add_argument("--guidance-structure", type=float, default=default_guidance[1] if default_guidance else 1.5,
                        help="default: as --guidance-text, else 1.5")
    args = parser.parse_args(argv)
    from .audio import writable_format

    try:
        writable_format(args.out)  # before any model work: a name we cannot write fails in no time
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        request = GenerationRequest(id=args.out.stem, prompt=args.prompt, duration_s=args.duration,
                                    segments=parse_sections(args.sections))
        validate_request(request, max_duration_s=float("inf"))  # everything but the model's maximum length
        dit_config = checkpoint_config(args.dit, "--dit")
        checkpoint_config(args.vae, "--vae")
        validate_request(request, dit_config["dit"]["max_frames"] / dit_config["frame_rate_hz"])
        generator = Generator(args.dit, args.vae, args.sampler, args.steps, args.guidance_text, args.guidance_structure)
        audio, sidecar, timings = generator(request, args.seed)
    except (RequestError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_output(args.out, audio, sidecar)
    print(f"wrote {args.out} ({request.duration_s} s, seed {args.seed}, guidance {args.guidance_text:g}/{args.guidance_structure:g}) "
          f"in {timings['total_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

