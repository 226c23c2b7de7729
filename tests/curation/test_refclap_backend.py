"""The reference-CLAP curation backend encodes each segment once for both its tags and its embedding."""

import numpy as np
import torch

from s2accompanist.curation.refclap_backend import ReferenceClapBackend
from s2accompanist.models.reference_clap import ReferenceClap, ReferenceClapConfig

CONFIG = ReferenceClapConfig(tag_names=("rock", "piano", "calm"), sample_rate=8000, n_fft=256, hop_length=64, n_mels=16,
                             channels=(4, 8), embed_dim=16, text_hidden=32, min_seconds=0.25)


def test_tags_and_embedding_share_one_encoder_pass_and_match_the_model():
    torch.manual_seed(0)
    model = ReferenceClap(CONFIG).eval()
    calls = []
    model.audio_encoder.register_forward_hook(lambda *args: calls.append(1))
    backend = ReferenceClapBackend(model, text_encoder=None)
    clips = [np.random.default_rng(seed).standard_normal(8000).astype(np.float32) * 0.1 for seed in (1, 2)]

    for clip in clips:
        before = len(calls)
        tags = backend.tags(clip, 8000)
        embedding = backend.audio_embedding(clip, 8000)
        assert len(calls) - before == 1, "the second request for the same clip re-ran the encoder"
        with torch.no_grad():
            waveform = torch.from_numpy(clip)[None]
            assert torch.allclose(embedding, model.embed_audio(waveform))
            expected = dict(zip(CONFIG.tag_names, model.tag_probabilities(waveform)[0].tolist()))
        assert {tag: p for family in tags.values() for tag, p in family.items()} == expected
