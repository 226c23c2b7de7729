"""Truth read from a real score: Bach's chorale BWV 104.6 (A major, 4/4, a one-beat pickup, its first phrase repeated)."""

import numpy as np
import pytest

from s2accompanist.corpus.real_scores import PIECES, SAMPLE_RATE, RealPiece, render_truth, score_truth

CHORALE = RealPiece("bwv104_6", "bach/bwv104.6.mxl", 84.0, ("organ",))
BEAT_S = 60.0 / 84.0


@pytest.fixture(scope="module")
def chorale():
    return score_truth(CHORALE)


def test_beats_follow_the_meter_and_downbeats_skip_the_pickup(chorale):
    beats = np.array(chorale.beats)
    assert np.allclose(np.diff(beats), BEAT_S, atol=1e-3)
    assert beats[0] == 0.0
    # One pickup beat, then a bar of four beats each: the first downbeat is the second beat.
    assert chorale.downbeats[0] == pytest.approx(BEAT_S, abs=1e-3)
    assert np.allclose(np.diff(chorale.downbeats), 4 * BEAT_S, atol=1e-3)
    assert set(chorale.downbeats) <= set(chorale.beats)


def test_sections_are_the_repeated_first_phrase_then_the_rest(chorale):
    # The repeat sign after bar 4: the phrase (pickup + 4 bars = 16 beats) is played twice, then the second half starts.
    assert chorale.section_starts == pytest.approx([0.0, 16 * BEAT_S, 33 * BEAT_S], abs=1e-3)
    assert chorale.duration_s == pytest.approx(56 * BEAT_S, abs=1e-3)


def test_chords_are_per_beat_root_and_quality_from_the_score(chorale):
    labels = [label for _s, _e, label in chorale.chords]
    assert labels[:4] == ["A:maj", "D:maj", "E:maj", "B:min"]  # I IV V ii, as Bach harmonised the opening
    assert set(labels) <= {"N", "X"} | {f"{root}:{q}" for root in ("A", "B", "C#", "D", "E", "F#", "G#", "C", "G", "F", "Bb")
                                        for q in ("maj", "min", "dim", "aug")}
    starts = [s for s, _e, _l in chorale.chords]
    assert set(starts) <= set(chorale.beats) | {0.0}


def test_melody_is_the_soprano(chorale):
    assert [pitch for _s, _e, pitch in chorale.melody[:5]] == [69, 71, 73, 74, 76]  # A B C# D E


def test_a_fiddle_tune_has_no_chord_truth_and_renders_to_its_duration():
    tune = next(p for p in PIECES if p.piece_id == "ryan_7th_regiment_reel")
    truth = score_truth(tune, max_duration_s=12.0)
    assert truth.chords == []
    audio = render_truth(truth)
    assert audio.ndim == 1 and len(audio) == pytest.approx(truth.duration_s * SAMPLE_RATE, abs=2)
    assert np.sqrt(np.mean(audio**2)) > 0.01


def test_pieces_are_distinct_and_vary_in_tempo():
    assert len({p.piece_id for p in PIECES}) == len(PIECES) >= 12
    assert max(p.beat_bpm for p in PIECES) / min(p.beat_bpm for p in PIECES) > 2
