"""Benchmark prompt sets: the synthetic one (ATTM's shape, built from held-out songs only), and
ATTM's own prompt file with its reference clips."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from s2accompanist.audio import AudioError
from s2accompanist.evaluation.concepts import extract_concepts
from s2accompanist.evaluation.prompts import copy_attm_prompt_set, in_distribution_prompts, out_of_distribution_prompts
from s2accompanist.generation import RequestError, read_prompt_file

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


def _tone(seconds, sample_rate, channels=1, hz=440.0):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return np.stack([0.5 * np.sin(2 * np.pi * hz * (k + 1) * t) for k in range(channels)], axis=1).astype(np.float32)


@pytest.fixture
def attm(tmp_path):
    """An ATTM-style release: a prompt file labelling its splits in its own spellings, and a folder of
    reference clips at other rates and channel counts than the working ones, longer and shorter than 1 s."""
    prompt_file = tmp_path / "attm" / "prompts.jsonl"
    reference = tmp_path / "attm" / "reference"
    reference.mkdir(parents=True)
    lines = [{"id": "p1", "prompt": "Calm piano.", "split": "in-distribution"},
             {"id": "p2", "prompt": "Energetic rock.", "split": "ID", "duration": 0.5},
             {"id": "p3", "prompt": "Happy jazz with drums.", "split": "OOD"}]
    prompt_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    sf.write(reference / "p1.wav", _tone(1.5, 22050), 22050)  # another rate, longer than the clip: cut
    sf.write(reference / "p2.flac", _tone(0.3, 16000, channels=2), 16000)  # stereo, shorter than its 0.5 s: padded
    return prompt_file, reference


@pytest.mark.parametrize("channels", [1, 2])
def test_attm_prompt_set_writes_each_reference_clip_at_the_working_rate_channels_and_length(attm, tmp_path, channels):
    prompt_file, reference = attm
    out = tmp_path / "prompts"
    summary = copy_attm_prompt_set(prompt_file, reference, out, clip_s=1.0, sample_rate=16000, channels=channels)
    assert list(summary["split"]) == ["in_distribution", "in_distribution", "out_of_distribution"]
    assert [r.metadata["split"] for r in read_prompt_file(out / "prompts.jsonl", 1.0)] == list(summary["split"])
    assert sorted(p.name for p in (out / "reference").iterdir()) == ["p1.wav", "p2.wav"]  # none for the OOD prompt
    assert not (out / "reference_audio.json").exists()
    for name, seconds in (("p1", 1.0), ("p2", 0.5)):
        audio, rate = sf.read(out / "reference" / f"{name}.wav", always_2d=True)
        assert rate == 16000 and audio.shape == (int(seconds * 16000), channels)
    audio, _ = sf.read(out / "reference" / "p2.wav", always_2d=True)
    assert np.abs(audio[:4000]).max() > 0.1 and not audio[int(0.3 * 16000):].any()  # the clip, then silence


def test_attm_prompt_without_its_reference_clip_is_a_clear_error(attm, tmp_path):
    prompt_file, reference = attm
    (reference / "p2.flac").unlink()
    with pytest.raises(FileNotFoundError, match=rf"evaluate.reference_audio: {reference} has no reference clip .*'p2'"):
        copy_attm_prompt_set(prompt_file, reference, tmp_path / "prompts", 1.0, 16000, 1)
    assert not (tmp_path / "prompts" / "prompts.jsonl").exists()


def test_attm_unreadable_or_doubled_reference_clip_is_a_clear_error(attm, tmp_path):
    prompt_file, reference = attm
    (reference / "p2.flac").write_bytes(b"not audio")
    with pytest.raises(AudioError, match=rf"evaluate.reference_audio: the reference clip of prompt 'p2' in {reference} cannot be used"):
        copy_attm_prompt_set(prompt_file, reference, tmp_path / "prompts", 1.0, 16000, 1)
    sf.write(reference / "p2.wav", _tone(0.5, 16000), 16000)
    with pytest.raises(ValueError, match=r"2 reference clips for prompt 'p2' \(p2.flac, p2.wav\)"):
        copy_attm_prompt_set(prompt_file, reference, tmp_path / "prompts", 1.0, 16000, 1)


def test_attm_prompt_file_must_label_every_split(attm, tmp_path):
    prompt_file, reference = attm
    prompt_file.write_text(prompt_file.read_text() + json.dumps({"id": "p4", "prompt": "Sad folk."}) + "\n")
    with pytest.raises(RequestError, match=r"1 prompt\(s\) have no split \('p4'\)"):
        copy_attm_prompt_set(prompt_file, reference, tmp_path / "prompts", 1.0, 16000, 1)
    prompt_file.write_text(json.dumps({"id": "p1", "prompt": "Calm piano.", "split": "test"}) + "\n")
    with pytest.raises(RequestError, match=r"prompts.jsonl:1: prompt 'p1': unknown split 'test'; use one of: in_distribution"):
        copy_attm_prompt_set(prompt_file, reference, tmp_path / "prompts", 1.0, 16000, 1)
