"""The repetition novelty on a real dance tune: strains of one timbre, told apart only by what repeats."""

import numpy as np
import pytest

from s2accompanist.corpus.real_scores import PIECES, render_truth, score_truth
from s2accompanist.curation.segmentation import Segment, _repetition_novelty, segment_track
from s2accompanist.curation.validation import segmentation_scores

RATE = 16000


@pytest.fixture(scope="module")
def clog():
    """The Blue Stocking Clog (Ryan's Mammoth Collection), A A B B with repeats written out, on one electric piano:
    a section every 10.9 s at 88 BPM, as the score says; the first 34 s."""
    tune = next(p for p in PIECES if p.piece_id == "ryan_blue_stocking_clog")
    truth = score_truth(tune, max_duration_s=34.0)
    edges = [*truth.section_starts, truth.duration_s]
    return render_truth(truth, RATE), [Segment("verse", a, b) for a, b in zip(edges[:-1], edges[1:])]


def test_planted_sections_of_the_score_are_what_the_fixture_holds(clog):
    _audio, reference = clog
    assert [round(s.start_s, 2) for s in reference] == [0.0, 10.91, 21.82, 32.73]


def test_repetition_novelty_finds_the_strains_better_than_the_checkerboard(clog):
    audio, reference = clog
    with_repetition = segment_track(audio, RATE, min_segment_s=4.0)
    checkerboard_alone = segment_track(audio, RATE, min_segment_s=4.0, repetition_weight=0.0)
    new, old = segmentation_scores(reference, with_repetition)["hr3_f"], segmentation_scores(reference, checkerboard_alone)["hr3_f"]
    assert new >= 0.5
    assert new > old
    starts = np.array([s.start_s for s in with_repetition[1:]])
    assert np.min(np.abs(starts - 10.91)) <= 3.0 and np.min(np.abs(starts - 21.82)) <= 3.0
    assert all(s.duration_s >= 4.0 - 1e-6 for s in with_repetition)


@pytest.mark.parametrize("n_beats", [16, 17, 18, 19])
def test_too_few_beats_for_any_allowed_lag_give_no_repetition_evidence(n_beats):
    # A 9 s clip at 120 BPM with an 8 s kernel (8 beats of minimum lag): librosa refuses such a recurrence
    # matrix, and a curated track this short must still segment.
    features = np.random.default_rng(0).standard_normal((24, n_beats))
    novelty = _repetition_novelty(features, 0.5, 8)
    assert novelty.shape == (n_beats,) and np.all(np.isfinite(novelty))
