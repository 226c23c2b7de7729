import numpy as np
import pytest
import soundfile as sf

from s2accompanist.audio import AudioError, load_audio, normalize_loudness, resample, rms_dbfs, to_channels, write_audio

SR = 8000


def _tone(seconds=1.0, hz=440.0, amplitude=0.5, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_write_then_load_round_trips_stereo(tmp_path, suffix):
    audio = np.stack([_tone(hz=440), _tone(hz=660)])
    path = write_audio(tmp_path / f"x{suffix}", audio, SR)
    loaded = load_audio(path, SR, 2)
    assert loaded.dtype == np.float32 and loaded.shape == audio.shape
    assert np.max(np.abs(loaded - audio)) < 1e-3  # 16-bit quantisation only
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file


def test_load_resamples_and_converts_channels(tmp_path):
    path = write_audio(tmp_path / "mono.wav", _tone(seconds=1.0, hz=300), SR)
    stereo = load_audio(path, 16000, 2)
    assert stereo.shape == (2, 16000)
    np.testing.assert_array_equal(stereo[0], stereo[1])
    spectrum = np.abs(np.fft.rfft(stereo[0]))
    assert abs(np.argmax(spectrum) - 300) <= 1  # 1 Hz bins: pitch survives resampling


def test_downmix_is_channel_mean():
    audio = np.stack([np.ones(10, np.float32), -np.ones(10, np.float32) * 0.5])
    np.testing.assert_allclose(to_channels(audio, 1), np.full((1, 10), 0.25))
    with pytest.raises(ValueError, match="only mono can be widened"):
        to_channels(np.zeros((2, 4)), 3)


def test_write_clips_to_full_scale(tmp_path):
    path = write_audio(tmp_path / "loud.wav", np.array([2.0, -3.0, 0.5], np.float32), SR)
    data, _ = sf.read(path)
    assert data.max() <= 1.0 and data.min() >= -1.0 and data[0] > 0.99


def test_write_mp3_round_trips_a_tone(tmp_path):
    path = write_audio(tmp_path / "x.mp3", _tone(seconds=2.0, hz=440, sr=16000), 16000)
    loaded = load_audio(path, 16000, 1)[0]
    assert abs(loaded.shape[0] - 32000) < 2000  # the encoder's padding may add a frame or two
    spectrum = np.abs(np.fft.rfft(loaded))
    assert abs(np.argmax(spectrum) * 16000 / loaded.shape[0] - 440) < 5


def test_write_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.wav, \.flac, \.mp3"):
        write_audio(tmp_path / "x.mp4", _tone(), SR)


def test_rms_and_loudness_normalisation():
    full_scale_sine = _tone(amplitude=1.0)
    assert rms_dbfs(full_scale_sine) == pytest.approx(-3.01, abs=0.01)
    assert rms_dbfs(normalize_loudness(full_scale_sine, -23.0)) == pytest.approx(-23.0, abs=1e-3)
    np.testing.assert_array_equal(normalize_loudness(np.zeros(100, np.float32), -20.0), 0.0)


def test_resample_length():
    assert resample(_tone(seconds=0.5), SR, 16000).shape == (1, 8000)


def _reason(path, **kwargs):
    with pytest.raises(AudioError) as info:
        load_audio(path, SR, 1, **kwargs)
    assert str(path) in str(info.value)
    return info.value.reason


def test_bad_files_are_rejected_with_reasons(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really audio")
    assert _reason(garbage) == "unreadable"
    assert _reason(tmp_path / "missing.wav") == "unreadable"

    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1)), SR)
    assert _reason(empty) == "empty"

    nan = tmp_path / "nan.wav"
    samples = _tone()
    samples[100] = np.nan
    sf.write(nan, samples, SR, subtype="FLOAT")
    assert _reason(nan) == "non_finite"

    quiet = write_audio(tmp_path / "quiet.wav", _tone(amplitude=1e-4), SR)
    assert _reason(quiet) == "silent"
    assert load_audio(quiet, SR, 1, silence_dbfs=-120.0).shape == (1, SR)

    short = write_audio(tmp_path / "short.wav", _tone(seconds=0.5), SR)
    assert _reason(short, min_duration_s=1.0) == "too_short"


def test_probe_reads_facts_from_content_and_scans_float_files_whole(tmp_path):
    from s2accompanist.audio import probe_audio

    flac_named_wav = tmp_path / "x.wav"
    sf.write(flac_named_wav, np.stack([_tone(seconds=3.0)] * 3, axis=1), SR, format="FLAC")
    info = probe_audio(flac_named_wav, min_duration_s=1.0)
    assert (info.format, info.channels, info.sample_rate, info.duration_s) == ("FLAC", 3, SR, 3.0)
    samples = _tone(seconds=3.0)
    samples[int(1.5 * SR)] = np.inf  # in neither the first nor the last second
    sf.write(tmp_path / "inf.wav", samples, SR, subtype="FLOAT")
    with pytest.raises(AudioError) as err:
        probe_audio(tmp_path / "inf.wav")
    assert err.value.reason == "non_finite"
    with pytest.raises(AudioError) as err:
        probe_audio(flac_named_wav, min_duration_s=5.0)
    assert err.value.reason == "too_short"
