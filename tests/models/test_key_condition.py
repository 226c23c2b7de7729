"""The stated key as a DiT condition: read from the caption, embedded, dropped with the text."""

import pytest
import torch
from test_dit import FRAMES, TINY, conditions, randomized

from s2accompanist.generation import key_index, requested_key
from s2accompanist.models.dit import DiT, DiTConfig

KEYED = DiTConfig(**{**TINY.to_dict(), "key": True})


def test_key_names_map_to_24_indices():
    assert key_index("C major") == 0 and key_index("B major") == 11 and key_index("C minor") == 12 and key_index("Bb minor") == 22
    assert key_index(requested_key("A calm reggae track in F# major at 60 BPM")) == 6
    assert key_index(requested_key("in Gb major")) == 6  # enharmonic spellings meet
    assert key_index(None) == -1 and requested_key("a major achievement") is None


def test_the_key_steers_the_model_and_goes_with_the_text():
    model = randomized(KEYED)
    x, t, cond = torch.randn(2, 4, FRAMES), torch.full((2,), 0.5), conditions()
    c_major, a_minor = {**cond, "key_index": torch.tensor([0, 0])}, {**cond, "key_index": torch.tensor([21, 21])}
    assert not torch.allclose(model(x, t, c_major), model(x, t, a_minor), atol=1e-3)
    assert torch.allclose(model(x, t, c_major, drop_text=True), model(x, t, a_minor, drop_text=True), atol=1e-6)
    unknown = model(x, t, {**cond, "key_index": torch.tensor([-1, -1])})
    assert torch.allclose(unknown, model(x, t, cond), atol=1e-6)  # no key given is the null key
    with pytest.raises(ValueError, match="key_index"):
        model(x, t, {**cond, "key_index": torch.tensor([24, 0])})


def test_every_key_parameter_gets_a_gradient():
    model = DiT(KEYED)
    model(torch.randn(2, 4, FRAMES), torch.rand(2), {**conditions(), "key_index": torch.tensor([3, -1])}).pow(2).sum().backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []
