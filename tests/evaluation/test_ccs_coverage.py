import pytest

from s2accompanist.evaluation.ccs import concept_coverage

PROMPTS = [
    "energetic rock with electric guitar and drums",  # rock, electricguitar, drums, energetic
    "calm piano",  # piano, calm
    "something nice",  # no concept: excluded
]


def tag_sets(clip):
    return {
        "clip0": {"rock", "drums", "energetic"},  # misses electricguitar: 3/4
        "clip1": {"piano"},  # misses calm: 1/2
    }[clip]


def test_ccs_is_mean_of_per_item_coverage_and_excludes_empty_prompts():
    result = concept_coverage(PROMPTS, ["clip0", "clip1", "never-asked"], tag_sets, n_boot=100, seed=0)
    assert result["value"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert result["n_items"] == 2 and result["n_excluded"] == 1
    assert result["per_family"] == {
        "genre": pytest.approx(1.0),
        "instrument": pytest.approx((1 / 2 + 1) / 2),
        "mood/theme": pytest.approx(0.5),
    }
    table = result["per_concept"]
    assert set(table["item"]) == {0, 1}
    assert table.loc[table["tag"] == "electricguitar", "detected"].tolist() == [False]


def test_probabilities_are_thresholded():
    def tagger(clip):
        return {"piano": 0.9, "calm": clip, "jazz": 0.99}

    assert concept_coverage(["calm piano"], [0.7], tagger, threshold=0.5, n_boot=10)["value"] == 1.0
    assert concept_coverage(["calm piano"], [0.3], tagger, threshold=0.5, n_boot=10)["value"] == 0.5


def test_missing_family_reports_none():
    result = concept_coverage(["solo piano"], ["x"], lambda clip: {"piano"}, n_boot=10)
    assert result["per_family"] == {"genre": None, "instrument": 1.0, "mood/theme": None}


@pytest.mark.parametrize(
    "detector, error, message",
    [
        (lambda clip: {"electric guitar"}, KeyError, "not an MTG-Jamendo tag"),
        (lambda clip: {"piano": 1.5}, ValueError, "probability 1.5"),
        (lambda clip: "piano", TypeError, "return"),
    ],
)
def test_bad_detector_output_raises(detector, error, message):
    with pytest.raises(error, match=message):
        concept_coverage(["piano"], ["x"], detector, n_boot=10)


def test_shape_and_emptiness_errors():
    with pytest.raises(ValueError, match="2 prompts but 1 clips"):
        concept_coverage(["piano", "rock"], ["x"], tag_sets)
    with pytest.raises(ValueError, match="CCS is undefined"):
        concept_coverage(["something nice"], ["x"], tag_sets)


HEADS = ("rock", "jazz", "piano", "drums", "calm", "energetic")


def test_listed_concepts_replace_the_text_and_a_concept_without_a_head_is_not_a_miss():
    tagger = lambda clip: {tag: 1.0 if tag in clip else 0.0 for tag in HEADS}  # no head for electricguitar
    listed = [{"genre": ["rock"], "instrument": ["electricguitar", "drums"], "mood/theme": []}, None]
    result = concept_coverage(PROMPTS[:2], [{"rock"}, {"piano"}], tagger, n_boot=50, seed=0, prompt_concepts=listed)
    # item 0: rock found, drums missed, electricguitar not measurable; item 1 (from its text): piano found, calm missed
    assert result["n_not_measurable"] == 1
    assert result["value"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert "electricguitar" not in set(result["per_concept"]["tag"]) and "energetic" not in set(result["per_concept"]["tag"])
    with pytest.raises(KeyError):
        concept_coverage(PROMPTS[:1], ["x"], tagger, prompt_concepts=[{"genre": ["notatag"]}])


def test_false_alarms_tell_a_detector_that_fires_on_everything_from_one_that_hears():
    prompts = ["calm jazz piano", "energetic rock with drums"]
    always = concept_coverage(prompts, ["a", "b"], lambda clip: {tag: 0.9 for tag in HEADS}, n_boot=50, seed=0)
    assert always["value"] == 1.0 and always["false_alarm"]["value"] == 1.0 and always["margin"]["value"] == 0.0
    named = {"a": {"calm", "jazz", "piano"}, "b": {"energetic", "rock", "drums"}}
    hearing = concept_coverage(prompts, ["a", "b"], lambda clip: {tag: float(tag in named[clip]) for tag in HEADS},
                               n_boot=50, seed=0)
    assert hearing["value"] == 1.0 and hearing["false_alarm"]["value"] == 0.0 and hearing["margin"]["value"] == 1.0
    # Per clip too, so a margin can be paired between systems prompt by prompt.
    assert always["false_alarm_per_item"].tolist() == [1.0, 1.0] and hearing["false_alarm_per_item"].tolist() == [0.0, 0.0]
    judged = concept_coverage(prompts, ["a", "b"], lambda clip: named[clip], n_boot=50, seed=0)  # a judge: no false alarms to count
    assert judged["false_alarm"] is None and judged["margin"] is None and judged["false_alarm_per_item"].isna().all()
