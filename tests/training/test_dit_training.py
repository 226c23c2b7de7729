"""DiT training wrapper: batch collation, schedule, a short Lightning fit, overfitting, export."""

import time

import lightning as L
import pytest
import torch

from s2accompanist.models.dit import load_dit
from s2accompanist.models.structure import Segment
from s2accompanist.training.dit import DiTTrainingWrapper, collate_dit_batch, draw_guidance_branches, rectified_flow_loss, warmup_cosine

TINY = dict(latent_dim=4, width=32, depth=2, heads=4, text_dim=8, max_frames=64)


def items(seed: int = 0, n: int = 4) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        frames = 16 - 2 * (i % 2)
        out.append({
            "latents": torch.randn(4, frames, generator=generator),
            "text_tokens": torch.randn(3 + i % 3, 8, generator=generator),
            "text_pooled": torch.randn(8, generator=generator),
            "duration_s": 20.0 + i,
            "segments": [Segment(i % 8, 0, 6, torch.randn(2, 8, generator=generator)),
                         Segment((i + 3) % 8, 6, frames, torch.randn(3, 8, generator=generator))],
        })
    return out


def trainer(steps: int) -> L.Trainer:
    return L.Trainer(accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0)


def loader(batch: dict) -> torch.utils.data.DataLoader:
    # The same pre-collated batch every step.
    return torch.utils.data.DataLoader([batch], batch_size=None)


def test_collate_dit_batch_pads_and_masks():
    batch = collate_dit_batch(items())
    assert batch["latents"].shape == (4, 4, 16) and batch["latent_mask"].sum(1).tolist() == [16, 14, 16, 14]
    assert batch["text_mask"].sum(1).tolist() == [3, 4, 5, 3]
    assert batch["frame_segment"][1].tolist() == [0] * 6 + [1] * 8 + [-1] * 2
    assert batch["segment_tokens"].shape == (4, 2, 3, 8)
    assert "segment_labels" not in collate_dit_batch([{k: v for k, v in item.items() if k != "segments"} for item in items()])


def test_warmup_cosine():
    factors = [warmup_cosine(step, 4, 12) for step in range(14)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[8] == pytest.approx(0.5) and factors[12] == pytest.approx(0.0) and factors[13] == pytest.approx(0.0)


@pytest.fixture(scope="module")
def fitted():
    """A tiny DiT after a 3-step Lightning fit, with its weights from before."""
    L.seed_everything(0, verbose=False)
    wrapper = DiTTrainingWrapper(TINY, lr=1e-3, warmup_steps=1, total_steps=3, ema_decay=0.5)
    before = {k: v.clone() for k, v in wrapper.model.state_dict().items()}
    trainer(3).fit(wrapper, loader(collate_dit_batch(items())))
    return wrapper, before


def test_short_fit_updates_model_and_ema(fitted):
    wrapper, before = fitted
    assert wrapper.global_step == 3
    after, ema = wrapper.model.state_dict(), wrapper.ema.shadow.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2
    # EMA sits strictly between the start and the trained weights for a moved parameter.
    key = "blocks.0.modulation.1.weight"
    assert not torch.equal(ema[key], after[key]) and not torch.equal(ema[key], before[key])
    assert wrapper.hparams.dit_config == TINY and wrapper.hparams.ema_decay == 0.5


def test_overfits_a_fixed_batch():
    # A plain loop over the wrapper's own loss, optimiser and schedule (a Lightning fit is tested
    # above; here it would only add overhead): 30 steps on one batch of 2 items.
    torch.manual_seed(0)
    batch = collate_dit_batch(items(n=2))
    wrapper = DiTTrainingWrapper(TINY, lr=1e-2, warmup_steps=3, total_steps=30, structure_dropout=0.0, unconditional_dropout=0.0)
    optimizers = wrapper.configure_optimizers()
    optimizer, schedule = optimizers["optimizer"], optimizers["lr_scheduler"]["scheduler"]
    generator = torch.Generator().manual_seed(1)
    # The loss is judged on 16 fixed (time, noise) draws per item, not on the noisy training draws.
    times = torch.rand(16, generator=generator).repeat_interleave(2)
    noise = torch.randn((32,) + batch["latents"].shape[1:], generator=generator)
    fixed = {k: torch.cat([v] * 16) for k, v in batch.items()}
    keep = torch.zeros(32, dtype=torch.bool)

    def held_out_loss() -> float:
        with torch.no_grad():
            return float(rectified_flow_loss(wrapper.model, fixed, times, noise, keep, keep))

    initial = held_out_loss()
    start = time.perf_counter()
    for _ in range(30):
        t = torch.sigmoid(torch.randn(2))
        loss = rectified_flow_loss(wrapper.model, batch, t, torch.randn_like(batch["latents"]), keep[:2], keep[:2])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(wrapper.model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    elapsed = time.perf_counter() - start
    final = held_out_loss()
    print(f"tiny DiT: 30 plain steps in {elapsed:.2f} s ({30 / elapsed:.1f} steps/s); loss {initial:.3f} -> {final:.3f}")
    assert final < 0.8 * initial, (initial, final)


def test_export_round_trip(fitted, tmp_path):
    wrapper, _ = fitted
    path = wrapper.export(tmp_path / "dit.safetensors")
    loaded = load_dit(path)
    batch = collate_dit_batch(items(seed=3))
    conditions = {k: v for k, v in batch.items() if k != "latents"}
    t = torch.full((4,), 0.3)
    with torch.no_grad():
        expected = wrapper.ema.shadow(batch["latents"], t, conditions)
    assert torch.equal(loaded(batch["latents"], t, conditions), expected)
    for key, value in wrapper.ema.shadow.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_guidance_branches_are_drawn_as_configured():
    torch.manual_seed(0)
    drop_text, drop_structure = draw_guidance_branches(40000, structure_dropout=0.2, unconditional_dropout=0.3)
    # Exactly the sampler's three branches: text is never dropped without the structure.
    assert not (drop_text & ~drop_structure).any()
    assert float(drop_text.float().mean()) == pytest.approx(0.3, abs=0.01)
    assert float((drop_structure & ~drop_text).float().mean()) == pytest.approx(0.2, abs=0.01)
    assert float((~drop_structure).float().mean()) == pytest.approx(0.5, abs=0.01)


def test_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="unconditional_dropout"):
        DiTTrainingWrapper(TINY, unconditional_dropout=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        DiTTrainingWrapper(TINY, structure_dropout=0.6, unconditional_dropout=0.6)
    with pytest.raises(ValueError, match="warmup_steps"):
        DiTTrainingWrapper(TINY, warmup_steps=10, total_steps=5)
