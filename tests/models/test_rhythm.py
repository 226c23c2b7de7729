"""The beat grid condition: phases from beat times and from a stated tempo, and how the DiT reads them."""

import numpy as np
import pytest
import torch
from test_dit import FRAMES, TINY, conditions, randomized

from s2accompanist.models.dit import DiT, DiTConfig
from s2accompanist.models.rhythm import event_phases, grid_phases
from s2accompanist.training.dit import collate_dit_batch
from s2accompanist.training.dit_stage import window_rhythm

RHYTHMIC = DiTConfig(**{**TINY.to_dict(), "rhythm": True})


def test_event_phases_interpolate_between_events_and_continue_outside():
    beats = np.array([1.0, 1.5, 2.0, 3.0])  # the last beat is twice as long
    phases = event_phases(np.array([0.75, 1.0, 1.25, 1.75, 2.5, 3.25]), beats)
    assert phases == pytest.approx([0.5, 0.0, 0.5, 0.5, 0.5, 0.25])
    assert event_phases(np.arange(3.0), np.array([1.0])) is None


def test_grid_phases_start_on_a_downbeat_at_the_stated_tempo():
    beat, bar = grid_phases(n_frames=9, frame_rate=4.0, bpm=120.0)  # frames every 0.25 s, beats every 0.5 s
    assert beat == pytest.approx([0, 0.5] * 4 + [0])
    assert bar == pytest.approx(np.arange(9) / 8 % 1.0)
    with pytest.raises(ValueError, match="positive tempo"):
        grid_phases(4, 4.0, 0.0)


def rhythm(batch: int = 2, bpm: float = 120.0) -> dict[str, torch.Tensor]:
    beat, bar = grid_phases(FRAMES, 10.0, bpm)
    return {"beat_phase": torch.tensor(beat).float().expand(batch, -1), "bar_phase": torch.tensor(bar).float().expand(batch, -1),
            "rhythm_known": torch.ones(batch, dtype=torch.bool)}


def test_the_grid_steers_a_rhythm_dit_and_its_null_stands_for_no_tempo():
    model = randomized(RHYTHMIC)
    x, t, cond = torch.randn(2, 4, FRAMES), torch.full((2,), 0.5), conditions()
    at_120, at_90 = model(x, t, {**cond, **rhythm()}), model(x, t, {**cond, **rhythm(bpm=90.0)})
    assert not torch.allclose(at_120, at_90, atol=1e-3)
    no_grid = model(x, t, cond)
    assert torch.allclose(model(x, t, {**cond, **rhythm()}, drop_rhythm=True), no_grid, atol=1e-6)
    unknown = {**cond, **rhythm(), "rhythm_known": torch.tensor([False, True])}
    mixed = model(x, t, unknown)
    assert torch.allclose(mixed[0], no_grid[0], atol=1e-6) and torch.allclose(mixed[1], at_120[1], atol=1e-6)
    # A DiT without rhythm ignores a grid it is given.
    plain = randomized(TINY)
    assert torch.equal(plain(x, t, {**cond, **rhythm()}), plain(x, t, cond))


@pytest.mark.parametrize("drop_rhythm", [False, True])
def test_every_rhythm_parameter_gets_a_gradient(drop_rhythm):
    model = DiT(RHYTHMIC)
    model(torch.randn(2, 4, FRAMES), torch.rand(2), {**conditions(), **rhythm()}, drop_rhythm=drop_rhythm).pow(2).sum().backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []


def test_windows_take_their_grid_from_the_lead_sheet_and_batches_pad_it():
    sheet = {"beats": [0.0, 0.5, 1.0, 1.5, 2.0], "downbeats": [0.0, 2.0]}
    window = window_rhythm(sheet, start=5, frames=4, rate=10.0)  # frames at 0.5, 0.6, 0.7, 0.8 s
    assert window["rhythm_known"] and window["beat_phase"].numpy() == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert window["bar_phase"].numpy() == pytest.approx([0.25, 0.3, 0.35, 0.4])
    assert not window_rhythm(None, 0, 4, 10.0)["rhythm_known"]
    assert not window_rhythm({"beats": [0.0, 0.5], "downbeats": [0.0]}, 0, 4, 10.0)["rhythm_known"]
    items = [{"latents": torch.zeros(4, n), "text_tokens": torch.zeros(2, 8), "text_pooled": torch.zeros(8), "duration_s": 1.0,
              **window_rhythm(s, 0, n, 10.0)} for n, s in ((4, sheet), (6, None))]
    batch = collate_dit_batch(items)
    assert batch["beat_phase"].shape == (2, 6) and batch["rhythm_known"].tolist() == [True, False]
