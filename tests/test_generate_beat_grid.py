"""The generator gives a rhythm DiT the beat grid of the tempo its prompt states, and says so in the sidecar."""

import numpy as np
import pytest
import torch

from s2accompanist.checkpoints import save_checkpoint
from s2accompanist.generate import Generator
from s2accompanist.generation import GenerationRequest, requested_tempo
from s2accompanist.models.dit import DiT, DiTConfig
from s2accompanist.models.vae import VAE, VAEConfig

VAE_CONFIG = VAEConfig(in_channels=1, channels=4, c_mults=(1, 2), strides=(4, 8), latent_dim=4, sample_rate=16000)
RATE = VAE_CONFIG.sample_rate / 32


def test_requested_tempo_reads_the_prompt():
    assert requested_tempo("An energetic rock track in Eb minor at 125 BPM, upbeat.") == 125.0
    assert requested_tempo("slow and spacious around 69.5 bpm") == 69.5
    assert requested_tempo("A calm track with no stated pulse.") is None


@pytest.fixture
def checkpoints(tmp_path):
    torch.manual_seed(0)
    config = DiTConfig(latent_dim=4, width=32, depth=1, heads=4, text_dim=384, max_frames=512, rhythm=True)
    dit = DiT(config)
    with torch.no_grad():  # random output layers, so the grid shows in the audio
        for parameter in dit.parameters():
            parameter.normal_(0.0, 0.1)
    dit_path = save_checkpoint(tmp_path / "dit.safetensors", dit.state_dict(),
                               {"dit": config.to_dict(), "latent_std": 1.0, "frame_rate_hz": RATE,
                                "text_encoder": {"backend": "minilm", "checkpoint": None}, "latents": "semantic"})
    vae_path = save_checkpoint(tmp_path / "vae.safetensors", VAE(VAE_CONFIG).state_dict(), {"kind": "s2accompanist.vae", "vae": VAE_CONFIG.to_dict()})
    return dit_path, vae_path


def test_the_stated_tempo_becomes_the_grid(checkpoints):
    generator = Generator(*checkpoints, steps=2, guidance_text=2.0, guidance_structure=0.0)
    audio_120, sidecar, _ = generator(GenerationRequest("a", "A piano piece at 120 BPM.", 1.0), seed=3)
    assert sidecar["beat_grid_bpm"] == 120.0 and sidecar["backends"]["dit"] == "structure-dit+beat-grid"
    _, unstated, _ = generator(GenerationRequest("b", "A piano piece.", 1.0), seed=3)
    assert unstated["beat_grid_bpm"] is None
    audio_90, _, _ = generator(GenerationRequest("c", "A piano piece at 90 BPM.", 1.0), seed=3)
    assert audio_120.shape == audio_90.shape and not np.allclose(audio_120, audio_90)


def test_a_clip_is_as_long_as_requested_when_frames_do_not_divide_it(checkpoints):
    # 500 frames/s: 1.003 s is 501.5 frames; rounding down gave clips short of the request (9.985 s for 10 s at 2048 / 44.1 kHz).
    generator = Generator(*checkpoints, steps=1, guidance_text=1.0, guidance_structure=0.0)
    for seconds in (1.0, 1.003, 0.5011):
        audio, _, _ = generator(GenerationRequest("d", "A piano piece.", seconds), seed=0)
        assert audio.shape == (1, round(seconds * VAE_CONFIG.sample_rate)), seconds
