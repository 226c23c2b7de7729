"""Segments curation cannot use (past the audio, shorter than a beat) are rejects with a reason, never fatal."""

import dataclasses

from tiny_curation import CURATE, SR, write_corpus, write_refclap

from s2accompanist.curation.pipeline import build_backends, curate_corpus
from s2accompanist.curation.segmentation import Segment


def test_odd_segments_become_rejects_and_the_rest_is_curated(tmp_path):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    tracks = write_corpus(raw_dir, n_tracks=1)
    backends = build_backends(CURATE, str(write_refclap(tmp_path / "refclap.safetensors")))

    def songformer_like(track_id, mono, sample_rate):
        # A segmenter (or a SongFormer JSON for another edit of the song) that overruns the 8 s track.
        return [Segment("intro", 0.0, 4.0), Segment("verse", 4.0, 4.2), Segment("chorus", 4.2, 8.0), Segment("outro", 8.0, 12.0)]

    tables = curate_corpus(tracks, raw_dir, tmp_path / "out", CURATE, dataclasses.replace(backends, segment=songformer_like), SR, 1)
    assert tables["segments"]["segment_id"].tolist() == ["t0-00", "t0-02"]
    reasons = tables["rejects"].set_index("id")
    assert reasons.loc["t0-01", "stage"] == "segment" and "shorter than a beat" in reasons.loc["t0-01", "reason"]
    assert reasons.loc["t0-03", "stage"] == "segment" and "ends after the track's 8.00 s of audio" in reasons.loc["t0-03", "reason"]
