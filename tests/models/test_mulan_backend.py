"""MuQ-MuLan is refused with its reasons, from both places params can ask for it.

The refusal rests on facts about this environment and muq 0.1.0 (see models/mulan_backend.py).
The last test re-checks the environment facts: when one stops holding (torchaudio became
importable, or transformers regained `transformers.deepspeed`), it fails, as a prompt to build a
real adapter instead of refusing.
"""

import importlib.util

import pytest

from s2accompanist.curation.pipeline import BackendUnavailable, check_available
from s2accompanist.models.mulan_backend import WHERE_FROM
from s2accompanist.models.text_encoders import build_text_encoder


def test_the_alignment_backend_says_why_and_what_it_would_need():
    curate = {"separation": {"backend": "none", "checkpoint": None},
              "alignment": {"backend": "mulan", "checkpoint": "/models/MuQ-MuLan-large", "tokenizer": None}}
    with pytest.raises(BackendUnavailable) as refused:
        check_available(curate)
    message = str(refused.value)
    assert message.startswith("curate.alignment.backend 'mulan' cannot run in this environment: ")
    for reason in ("torchaudio", "transformers.deepspeed", "torchvision"):
        assert reason in message
    assert f"curate.alignment.checkpoint pointing at {WHERE_FROM} (currently '/models/MuQ-MuLan-large')" in message
    assert message.endswith("use 'laion_clap' or 'refclap'")


def test_the_text_encoder_says_why_and_names_its_parameter(tmp_path):
    with pytest.raises(NotImplementedError, match=r"^text_encoder\.backend 'mulan_text' cannot run .*torchaudio.*text_encoder\.checkpoint pointing at .*MuQ-MuLan-large.*use minilm, t5 or clap_text$"):
        build_text_encoder("mulan_text", tmp_path)


def test_the_environment_facts_behind_the_refusal_still_hold():
    assert importlib.util.find_spec("torchaudio") is None, "torchaudio is installed: it breaks lightning on CPU torch; remove it"
    assert importlib.util.find_spec("transformers.deepspeed") is None, "transformers.deepspeed exists again: revisit models/mulan_backend.py"
