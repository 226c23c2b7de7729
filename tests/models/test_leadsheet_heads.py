"""Lead-sheet distillation heads: vocabulary, shapes, ignored frames, zero-weight ablation."""

import pytest
import torch

from s2accompanist.models.leadsheet_heads import (
    IGNORE_INDEX,
    MELODY_UNVOICED,
    N_CHORD_CLASSES,
    N_MELODY_CLASSES,
    NO_CHORD,
    LeadsheetHeads,
    chord_class,
    chord_root_majmin,
    distillation_losses,
    melody_class,
    melody_pitch_class,
    widen_events,
)


def test_vocabulary():
    assert (N_MELODY_CLASSES, N_CHORD_CLASSES) == (61, 85)
    assert melody_class(36) == 0 and melody_class(95) == 59 and melody_class(None) == MELODY_UNVOICED == 60
    assert melody_class(24) == 0 and melody_class(107) == 59  # folded by octaves
    assert chord_class(0, "maj") == 0 and chord_class(11, "7") == 83 and chord_class(None) == NO_CHORD == 84
    assert chord_class(2, "min") == 15
    with pytest.raises(ValueError, match="unknown chord quality 'sus4'"):
        chord_class(0, "sus4")


def targets(batch=2, frames=9):
    torch.manual_seed(0)
    return {
        "melody": torch.randint(0, N_MELODY_CLASSES, (batch, frames)),
        "chord": torch.randint(0, N_CHORD_CLASSES, (batch, frames)),
        "beat": (torch.rand(batch, frames) > 0.7).float(),
        "downbeat": (torch.rand(batch, frames) > 0.9).float(),
    }


def test_heads_predict_frame_aligned_logits():
    logits = LeadsheetHeads(latent_dim=5, hidden=8)(torch.randn(2, 5, 9))
    assert logits["melody"].shape == (2, 13, 9) and logits["chord"].shape == (2, 25, 9) and logits["beat"].shape == (2, 2, 9)


def test_heads_are_taught_pitch_class_root_majmin_and_widened_beats():
    assert melody_pitch_class(torch.tensor([melody_class(60), melody_class(71), melody_class(None), IGNORE_INDEX])).tolist() == [0, 11, 12, IGNORE_INDEX]
    chords = torch.tensor([chord_class(0, "maj7"), chord_class(9, "min7"), chord_class(11, "dim"), chord_class(4, "aug"), NO_CHORD, IGNORE_INDEX])
    assert chord_root_majmin(chords).tolist() == [0, 19, 23, 8, 24, IGNORE_INDEX]
    assert widen_events(torch.tensor([[0.0, 0, 1, 0, 0, 0, 0, 1]])).tolist() == [[0, 1, 1, 1, 0, 0, 1, 1]]


def test_weighted_sum_and_zero_weight_sends_no_gradient():
    torch.manual_seed(0)
    heads, latent = LeadsheetHeads(latent_dim=5, hidden=8), torch.randn(2, 5, 9, requires_grad=True)
    losses = distillation_losses(heads, latent, targets(), {"melody": 0.0, "chord": 2.0, "beat": 0.5})
    assert "melody" not in losses
    torch.testing.assert_close(losses["total"], 2.0 * losses["chord"] + 0.5 * losses["beat"])
    losses["total"].backward()
    assert all(p.grad is None for p in heads.melody.parameters())
    assert all(p.grad is not None for p in heads.chord.parameters())
    assert latent.grad.abs().sum() > 0

    off = distillation_losses(heads, latent, targets(), {"melody": 0.0, "chord": 0.0, "beat": 0.0})
    assert off["total"].item() == 0.0 and set(off) == {"total"}
    with pytest.raises(ValueError, match="unknown distillation weights"):
        distillation_losses(heads, latent, targets(), {"key": 1.0})


def test_ignored_frames_add_nothing_and_missing_labels_give_zero_not_nan():
    torch.manual_seed(0)
    heads, latent = LeadsheetHeads(latent_dim=5, hidden=8), torch.randn(2, 5, 9)
    full = targets()
    partial = {k: v.clone() for k, v in full.items()}
    for value in partial.values():
        value[:, 4:] = IGNORE_INDEX
    weights = {"melody": 1.0, "chord": 1.0, "beat": 1.0}
    cut = {k: v[:, :4] for k, v in full.items()}
    # Frames 4.. ignored == those frames absent; heads see context, so compare to logits of the full latent.
    logits = heads(latent)
    expected = torch.nn.functional.cross_entropy(logits["melody"][..., :4], melody_pitch_class(cut["melody"]))
    torch.testing.assert_close(distillation_losses(heads, latent, partial, weights)["melody"], expected)

    unlabelled = {k: torch.full_like(v, IGNORE_INDEX) for k, v in full.items()}
    losses = distillation_losses(heads, latent, unlabelled, weights)
    assert all(torch.isfinite(v) and v.item() == 0.0 for v in losses.values())
    # A target absent from the batch skips its task.
    assert set(distillation_losses(heads, latent, {"beat": full["beat"]}, weights)) == {"beat", "total"}
    with pytest.raises(ValueError, match=r"'chord' target has shape \(2, 8\)"):
        distillation_losses(heads, latent, {"chord": full["chord"][:, :8]}, weights)
