"""Generation requests: parsing, prompt files, and impossible requests refused before any work."""

import json

import pytest

from s2accompanist.generate import item_seed, main
from s2accompanist.generation import (GenerationRequest, RequestError, SegmentRequest, parse_sections,
                                      read_prompt_file, validate_request, write_prompt_file)


def test_parse_sections_reads_labels_spans_and_captions():
    segments = parse_sections("intro:0-4:soft piano; verse:4-10:drums enter;")
    assert segments == (SegmentRequest("intro", 0.0, 4.0, "soft piano"), SegmentRequest("verse", 4.0, 10.0, "drums enter"))
    assert parse_sections("chorus:2.5-5") == (SegmentRequest("chorus", 2.5, 5.0, ""),)
    with pytest.raises(RequestError, match="LABEL:START-END:CAPTION"):
        parse_sections("intro from 0 to 4")


@pytest.mark.parametrize("segments, duration, message", [
    ((SegmentRequest("intro", 0, 5), SegmentRequest("verse", 4, 8)), 10.0, "overlaps the previous segment"),
    ((SegmentRequest("verse", 2, 12),), 10.0, "ends after the requested duration"),
    ((SegmentRequest("hook", 0, 2),), 10.0, "unknown label"),
    ((SegmentRequest("verse", 3, 3),), 10.0, "start must be >= 0 and before end"),
    ((), 200.0, r"outside \(0, 95.0\] s, the model's maximum"),
])
def test_impossible_requests_are_refused(segments, duration, message):
    with pytest.raises(RequestError, match=message):
        validate_request(GenerationRequest("x", "calm piano", duration, segments), max_duration_s=95.0)


def test_empty_prompt_is_refused():
    with pytest.raises(RequestError, match="prompt is empty"):
        validate_request(GenerationRequest("x", "  ", 10.0), max_duration_s=95.0)


def test_prompt_file_round_trip_and_bad_lines(tmp_path):
    requests = [GenerationRequest("a", "jazz", 10.0, (SegmentRequest("intro", 0, 4, "piano"),), {"split": "in_distribution"}),
                GenerationRequest("b", "rock", 8.0)]
    path = write_prompt_file(tmp_path / "p.jsonl", requests)
    assert read_prompt_file(path, 10.0) == requests
    path.write_text(path.read_text() + '{"id": "c"}\n')
    with pytest.raises(RequestError, match=r"p.jsonl:3: not a valid prompt line"):
        read_prompt_file(path, 10.0)
    path.write_text(json.dumps({"id": "a", "prompt": "x"}) + "\n" + json.dumps({"id": "a", "prompt": "y"}) + "\n")
    with pytest.raises(RequestError, match="duplicate id 'a'"):
        read_prompt_file(path, 10.0)


@pytest.mark.parametrize("label, canonical", [
    ("in_distribution", "in_distribution"), ("in-distribution", "in_distribution"), ("ID", "in_distribution"),
    ("In Distribution", "in_distribution"), ("in_domain", "in_distribution"),
    ("out-of-distribution", "out_of_distribution"), ("OOD", "out_of_distribution"), ("out_of_domain", "out_of_distribution"),
])
def test_prompt_file_split_labels_are_normalised(tmp_path, label, canonical):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "a", "prompt": "jazz", "split": label}) + "\n")
    assert read_prompt_file(path, 10.0)[0].metadata["split"] == canonical


@pytest.mark.parametrize("label", ["test", "in", "", None, 1])
def test_unknown_split_label_is_refused_with_the_accepted_ones(tmp_path, label):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "a", "prompt": "jazz"}) + "\n" + json.dumps({"id": "b", "prompt": "rock", "split": label}) + "\n")
    with pytest.raises(RequestError, match=rf"p.jsonl:2: prompt 'b': unknown split {label!r}; use one of: "
                                           r"in_distribution \(also id, in_domain\); out_of_distribution \(also ood, out_of_domain\)"):
        read_prompt_file(path, 10.0)


def test_item_seeds_are_stable_and_distinct():
    assert item_seed(0, "id_000") == item_seed(0, "id_000")
    assert len({item_seed(0, f"id_{i:03d}") for i in range(100)}) == 100
    assert item_seed(1, "id_000") != item_seed(0, "id_000")


def test_cli_refuses_before_loading_anything(tmp_path, capsys, repo_root):
    out = tmp_path / "clip.wav"
    code = main(["--prompt", "calm piano", "--out", str(out), "--dit", str(tmp_path / "none.safetensors")])
    assert code == 2 and "--dit: checkpoint" in capsys.readouterr().err and not out.exists()
    code = main(["--prompt", "calm piano", "--sections", "intro:0-5; verse:4-8", "--out", str(out)])
    assert code == 2 and "overlaps" in capsys.readouterr().err
    # An output format we cannot write is refused first, even with valid checkpoints absent.
    code = main(["--prompt", "calm piano", "--out", str(tmp_path / "clip.ogg"), "--dit", str(tmp_path / "none.safetensors")])
    assert code == 2 and "use a .wav, .flac, .mp3 suffix" in capsys.readouterr().err


def test_cli_names_a_truncated_or_foreign_checkpoint(tmp_path, capsys, repo_root):
    broken = tmp_path / "dit.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    code = main(["--prompt", "calm piano", "--out", str(tmp_path / "clip.wav"), "--dit", str(broken)])
    assert code == 2 and "dit.safetensors is not a readable s2accompanist checkpoint" in capsys.readouterr().err
