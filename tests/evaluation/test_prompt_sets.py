"""The synthetic benchmark prompt set: ATTM's shape, built from held-out songs only."""

import pandas as pd
import pytest

from s2accompanist.evaluation.concepts import extract_concepts
from s2accompanist.evaluation.prompts import in_distribution_prompts, out_of_distribution_prompts

TRACKS = pd.DataFrame({
    "track_id": ["a", "b", "c", "d"], "split": ["train", "train", "test", "valid"], "duration_s": [30.0, 30.0, 25.0, 8.0],
    "genre": [["jazz"], ["rock"], ["jazz"], ["pop"]], "instrument": [["piano"], ["drums"], ["piano", "bass"], ["synthesizer"]],
    "mood": [["calm"], ["energetic"], ["calm"], ["happy"]], "caption": ["A", "B", "A calm jazz piece", "D"],
})
SECTIONS = pd.DataFrame({"track_id": ["c", "c", "c"], "label": ["intro", "verse", "chorus"],
                         "start_s": [0.0, 8.0, 16.0], "end_s": [8.0, 16.0, 25.0], "caption": ["soft", "bass enters", "full"]})


def test_in_distribution_prompts_window_held_out_songs_with_their_sections():
    prompts = in_distribution_prompts(TRACKS, SECTIONS, n=5, clip_s=10.0, seed=0)
    assert len(prompts) == 5 and {p.metadata["track_id"] for p in prompts} == {"c"}  # d is too short, a/b are train
    for prompt in prompts:
        assert prompt.prompt == "A calm jazz piece" and prompt.duration_s == 10.0
        offset = prompt.metadata["offset_s"]
        assert 0 <= offset <= 15.0
        assert all(0 <= s.start_s < s.end_s <= 10.0 for s in prompt.segments)
        assert prompt.metadata["concepts"] == {"genre": ["jazz"], "instrument": ["piano", "bass"], "mood/theme": ["calm"]}
    assert in_distribution_prompts(TRACKS, SECTIONS, n=5, clip_s=10.0, seed=0) == prompts


def test_out_of_distribution_prompts_name_pairs_training_never_saw():
    prompts = out_of_distribution_prompts(TRACKS, n=6, clip_s=10.0, seed=0)
    seen = {("jazz", "calm"), ("rock", "energetic")}
    for prompt in prompts:
        concepts = prompt.metadata["concepts"]
        assert (concepts["genre"][0], concepts["mood/theme"][0]) not in seen
        assert concepts["genre"][0] in prompt.prompt.lower() and concepts["mood/theme"][0] in prompt.prompt


def test_out_of_distribution_prompts_read_as_words_and_parse_back_to_their_concepts():
    tracks = TRACKS.assign(genre=[["jazz"], ["hiphop"], ["jazz"], ["pop"]],
                           instrument=[["electricpiano"], ["drummachine"], ["doublebass", "acousticguitar"], ["synthesizer"]])
    prompts = out_of_distribution_prompts(tracks, n=6, clip_s=10.0, seed=0)
    for prompt in prompts:
        assert prompt.prompt[0].isupper()
        assert not {"electricpiano", "drummachine", "doublebass", "acousticguitar", "hiphop"} & set(prompt.prompt.lower().replace(",", " ").split())
        # The prompt names exactly its concepts (instrument order aside) and nothing the parser would read otherwise.
        assert {family: sorted(tags) for family, tags in extract_concepts(prompt.prompt).items()} == \
            {family: sorted(tags) for family, tags in prompt.metadata["concepts"].items()}


def test_no_held_out_song_long_enough_is_a_clear_error():
    with pytest.raises(ValueError, match="no valid/test song is at least 40.0 s long"):
        in_distribution_prompts(TRACKS, SECTIONS, n=2, clip_s=40.0, seed=0)
