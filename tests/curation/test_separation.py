"""Instrumental extraction: the `none` backend and Demucs from a random-weight model-zoo file.

A randomly initialised HTDemucs, reduced in channels, depth, FFT size and transformer so it runs
in about a second, is written the way the model zoo's files were: demucs's own `serialize_model`
then `save_with_checksum` (a `<signature>-<sha256 prefix>.th` file). The separator loads it through
the real path and must equal demucs's `apply_model` output with the vocals dropped.
"""

import numpy as np
import pytest
import torch

from s2accompanist.checkpoints import CheckpointError
from s2accompanist.curation.separation import VOCALS, DemucsSeparator, build_separator

MODEL_RATE = 16_000
SOURCES = ["drums", "bass", "other", "vocals"]


def _save_random_htdemucs(folder, sources=SOURCES, seed=0):
    from demucs.htdemucs import HTDemucs
    from demucs.states import save_with_checksum, serialize_model
    from omegaconf import OmegaConf

    torch.manual_seed(seed)
    model = HTDemucs(sources=sources, audio_channels=2, channels=8, depth=2, nfft=512, t_layers=1, t_heads=2,
                     dconv_comp=2, samplerate=MODEL_RATE, segment=2)
    save_with_checksum(serialize_model(model, OmegaConf.create({"seed": seed})), folder / "0123abcd.th")
    (path,) = folder.glob("0123abcd-*.th")
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return _save_random_htdemucs(tmp_path_factory.mktemp("demucs"))


@pytest.fixture(scope="module")
def separator(checkpoint):
    return build_separator({"backend": "demucs", "checkpoint": str(checkpoint)})


def _song(sample_rate, seconds, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    return np.stack([tone * (0.8 + 0.2 * c) for c in range(channels)]).astype(np.float32)


def test_none_returns_the_input_unchanged():
    audio = _song(8000, 1.0)
    assert build_separator({"backend": "none", "checkpoint": None})(audio, 8000) is audio


def test_the_accompaniment_is_every_source_apply_model_gives_except_vocals(separator, checkpoint):
    from demucs.apply import apply_model
    from demucs.states import load_model

    # Longer than the model's 2 s segment, so apply_model splits and cross-fades.
    audio = _song(MODEL_RATE, 5.0)

    accompaniment = separator(audio, MODEL_RATE)

    # The package's own route: torch.load of the file, load_model, then demucs.api's normalisation.
    reference_model = load_model(str(checkpoint)).eval()
    mix = torch.from_numpy(audio)
    mean, std = mix.mean(0).mean(), mix.mean(0).std() + 1e-8
    with torch.no_grad():
        sources = apply_model(reference_model, ((mix - mean) / std)[None], shifts=0, split=True, overlap=0.25)[0] * std + mean
    expected = sum(stem for name, stem in zip(reference_model.sources, sources) if name != VOCALS).numpy()
    assert accompaniment.shape == audio.shape and accompaniment.dtype == np.float32
    np.testing.assert_allclose(accompaniment, expected, atol=1e-5)
    vocals = sources[reference_model.sources.index(VOCALS)].numpy()
    assert np.abs(vocals).max() > 1e-3, "dropping vocals must change the output, else the check above proves nothing"
    np.testing.assert_allclose(separator.separate(audio, MODEL_RATE)[VOCALS], vocals, atol=1e-5)


def test_other_rates_and_mono_come_back_in_the_input_shape(separator):
    audio = _song(22_050, 2.5, channels=1)

    accompaniment = separator(audio, 22_050)

    assert accompaniment.shape == audio.shape and accompaniment.dtype == np.float32
    assert np.isfinite(accompaniment).all()
    assert separator.name.startswith(f"demucs ({separator.checkpoint.name}, sha256 ")


def test_a_missing_or_damaged_checkpoint_names_the_parameter_and_the_source(checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match=r"curate\.separation\.checkpoint is null.*955717e8-8726e21a\.th"):
        build_separator({"backend": "demucs", "checkpoint": None})
    with pytest.raises(CheckpointError, match=r"curate\.separation\.checkpoint: checkpoint file .*absent\.th does not exist.*dl\.fbaipublicfiles"):
        build_separator({"backend": "demucs", "checkpoint": str(tmp_path / "absent.th")})
    truncated = tmp_path / checkpoint.name
    truncated.write_bytes(checkpoint.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"curate\.separation\.checkpoint: Invalid checksum.*download it again"):
        DemucsSeparator.load(truncated)
    renamed = tmp_path / "htdemucs.th"
    renamed.write_bytes(checkpoint.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"curate\.separation\.checkpoint: .*htdemucs\.th cannot be read as a Demucs model package"):
        DemucsSeparator.load(renamed)


def test_files_holding_other_code_objects_are_not_unpickled(tmp_path):
    path = tmp_path / "evil.th"
    torch.save({"klass": np.random.default_rng, "args": (), "kwargs": {}, "state": {}}, path)
    with pytest.raises(CheckpointError, match=r"weights_only=True"):
        DemucsSeparator.load(path)


def test_a_model_without_vocals_is_refused(tmp_path):
    path = _save_random_htdemucs(tmp_path, sources=["drums", "bass", "other"])
    with pytest.raises(CheckpointError, match=r"\['drums', 'bass', 'other'\].*no 'vocals' source"):
        DemucsSeparator.load(path)


def test_unknown_backends_are_named():
    with pytest.raises(ValueError, match=r"curate\.separation\.backend 'spleeter'"):
        build_separator({"backend": "spleeter", "checkpoint": None})


def _si_sdr(estimate, reference):
    # Le Roux et al. 2019, per channel, without removing the mean (torchmetrics' default).
    scale = (estimate * reference).sum(-1, keepdims=True) / (reference**2).sum(-1, keepdims=True)
    target = scale * reference
    return float(np.mean(10 * np.log10((target**2).sum(-1) / ((target - estimate) ** 2).sum(-1))))


def test_separation_scores_measure_the_extracted_accompaniment_against_the_non_vocal_stems(tmp_path):
    import pandas as pd

    from s2accompanist.audio import write_audio
    from s2accompanist.curation.validation import separation_scores

    sr, rng = 8000, np.random.default_rng(3)
    stems = {name: (0.2 * rng.standard_normal((2, 2 * sr))).astype(np.float32) for name in ("lead", "bass", "vocal")}
    accompaniment = stems["lead"] + stems["bass"]
    extracted = (accompaniment + 0.02 * rng.standard_normal(accompaniment.shape)).astype(np.float32)
    for track, track_stems in (("t0", stems), ("t1", {k: v for k, v in stems.items() if k != "vocal"})):
        for name, audio in track_stems.items():
            write_audio(tmp_path / "raw" / "stems" / track / f"{name}.flac", audio, sr)
        write_audio(tmp_path / "raw" / "audio" / f"{track}.wav", sum(track_stems.values()), sr)
        write_audio(tmp_path / "curated" / "audio" / f"{track}.wav", extracted, sr)
    tracks = pd.DataFrame({"track_id": ["t0", "t1", "no_stems"], "audio_path": ["audio/t0.wav", "audio/t1.wav", "audio/x.wav"]})

    per_track, summary = separation_scores(tracks, tmp_path / "raw", tmp_path / "curated", sr, 2)

    assert per_track["track_id"].tolist() == ["t0", "t1"] and per_track["has_vocal"].tolist() == [True, False]
    vocal_track = per_track.iloc[0]
    # FLAC stores 16-bit samples, hence the tolerance.
    assert vocal_track.si_sdr_db == pytest.approx(_si_sdr(extracted, accompaniment), abs=0.05)
    assert vocal_track.mix_si_sdr_db == pytest.approx(_si_sdr(accompaniment + stems["vocal"], accompaniment), abs=0.05)
    assert vocal_track.improvement_db > 10
    assert summary["n_tracks"] == 2 and summary["n_vocal_tracks"] == 1
    assert summary["vocal_tracks"]["si_sdr_db"] == pytest.approx(vocal_track.si_sdr_db, abs=1e-3)
