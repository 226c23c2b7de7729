"""The guidance stage's sweep: prompts from training songs that state a tempo, and the choice rule."""

import pandas as pd
import pytest

from s2accompanist.corpus.synthetic.build import build_synthetic_corpus
from s2accompanist.corpus.synthetic.config import SyntheticCorpusConfig
from s2accompanist.evaluation.guidance_sweep import choose, summarize_sweep, sweep_requests
from s2accompanist.generation import requested_tempo

RATE = 16000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    build_synthetic_corpus(SyntheticCorpusConfig(n_songs=8, seed=3, sample_rate=RATE, duration_s_min=8.0, duration_s_max=10.0,
                                                 write_stems=False), out, progress=False)
    return out


def test_sweep_prompts_come_from_training_songs_that_state_a_tempo(corpus):
    requests, references = sweep_requests(corpus, 5, 4.0, 0, RATE, 1)
    tracks = pd.read_parquet(corpus / "tracks.parquet").set_index("track_id")
    assert len(requests) == len(references) == 5
    for request, reference in zip(requests, references):
        assert tracks.loc[request.metadata["track_id"], "split"] == "train"
        assert requested_tempo(request.prompt) is not None
        assert request.id.startswith("sweep_") and request.metadata["split"] == "guidance_sweep"
        assert reference.shape == (4 * RATE,)


def test_no_training_caption_with_a_tempo_is_a_clear_error(corpus, tmp_path):
    tracks = pd.read_parquet(corpus / "tracks.parquet")
    tracks["caption"] = "A calm piece."
    tracks.to_parquet(tmp_path / "tracks.parquet")
    (tmp_path / "sections.parquet").write_bytes((corpus / "sections.parquet").read_bytes())
    with pytest.raises(ValueError, match="single candidate"):
        sweep_requests(tmp_path, 3, 4.0, 0, RATE, 1)


def per_item(rows):
    return pd.DataFrame([{"guidance_text": t, "guidance_structure": s, "tempo_kept": tempo, "key_score": 0.0, "notes_in_key": 0.5,
                          "clap_score": clap, "fad": fad} for t, s, tempo, clap, fad in rows])


def test_the_best_mean_rank_wins():
    summary = summarize_sweep(per_item([(1.5, 1.0, 0.9, 0.10, 2.0), (3.0, 1.5, 0.8, 0.30, 1.0), (14.0, 6.0, 0.2, 0.35, 1.5)]))
    assert list(summary["n_clips"]) == [1, 1, 1]
    # ranks (tempo, clap, fad): 1.5/1 -> 1, 3, 3; 3/1.5 -> 2, 2, 1; 14/6 -> 3, 1, 2
    assert list(summary["mean_rank"]) == pytest.approx([7 / 3, 5 / 3, 2.0])
    assert tuple(choose(summary)[["guidance_text", "guidance_structure"]]) == (3.0, 1.5)


def test_a_tie_goes_to_the_weaker_guidance():
    summary = summarize_sweep(per_item([(6.0, 3.0, 0.5, 0.2, 1.0), (3.0, 1.5, 0.5, 0.2, 1.0)]))
    assert tuple(choose(summary)[["guidance_text", "guidance_structure"]]) == (3.0, 1.5)
