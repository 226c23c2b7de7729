"""The judge's text features: words and word pairs hashed to signed buckets, the same on every machine."""

import numpy as np
import pytest

from s2accompanist.models.hashed_words import HashedWords


def test_features_are_unit_rows_and_depend_only_on_the_words():
    text = HashedWords(64)
    rows = text.features(["Upbeat rock at 125 BPM", "upbeat  ROCK, at 125 bpm!", ""])
    assert rows.shape == (3, 64) and rows.dtype == np.float32
    assert np.isclose(np.linalg.norm(rows[0]), 1.0) and np.array_equal(rows[0], rows[1])  # case and punctuation are not words
    assert not rows[2].any()  # no words, no direction


def test_the_tempo_and_the_word_order_both_change_the_features():
    text = HashedWords(384)
    a, b, c = text.features(["rock at 125 bpm", "rock at 90 bpm", "bpm 125 at rock"])
    assert a @ b < 0.99  # the number is a word of its own
    assert a @ c < 0.99  # same words, other pairs


def test_buckets_are_fixed_numbers_not_python_hashes():
    # CRC-32 is the same in every process (str hashes are salted per process): pin one vector.
    row = HashedWords(8).features(["piano"])[0]
    assert row.tolist() == [0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0]  # crc32(b"piano") % 8 == 4, top bit 0: negative


def test_encode_gives_the_pooled_tensor_the_reference_clap_text_branch_reads():
    assert tuple(HashedWords(384).encode(["a", "b"]).pooled.shape) == (2, 384)
    with pytest.raises(ValueError, match="at least 2 buckets"):
        HashedWords(1)
