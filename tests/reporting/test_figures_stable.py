import matplotlib
import numpy as np
import pandas as pd
import pytest

from s2accompanist.reporting.figures import grade_histograms, mel_db, metric_bars, spectrogram_grid, training_curves


@pytest.fixture
def results():
    return pd.DataFrame(
        {
            "system": ["baseline", "ours"],
            "fad_clap": [0.76, 0.42],
            "fad_clap_low": [0.70, 0.40],
            "fad_clap_high": [0.80, 0.43],
            "clap_score": [0.09, 0.26],
        }
    )


def render_twice(tmp_path, render):
    first = render(tmp_path / "a" / "figure")
    second = render(tmp_path / "b" / "figure")
    assert set(first) == {"png", "pdf"}
    for fmt in ("png", "pdf"):
        assert first[fmt].read_bytes() == second[fmt].read_bytes(), fmt
    assert first["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first["pdf"].read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["figure.pdf", "figure.png"]
    return first


def test_metric_bars_are_byte_stable(tmp_path, results):
    backend = matplotlib.get_backend()
    render_twice(tmp_path, lambda stem: metric_bars(results, ["fad_clap", "clap_score"], stem))
    assert matplotlib.get_backend() == backend


def test_error_bars_change_the_picture(tmp_path, results):
    with_ci = metric_bars(results, ["fad_clap"], tmp_path / "with")
    without = metric_bars(results.drop(columns=["fad_clap_low", "fad_clap_high"]), ["fad_clap"], tmp_path / "without")
    assert with_ci["png"].read_bytes() != without["png"].read_bytes()


def test_training_curves_from_sparse_log_are_byte_stable(tmp_path):
    steps = np.arange(0, 200, 10)
    log = pd.DataFrame(
        {
            "step": steps,
            "epoch": steps // 100,
            "train_loss": np.exp(-steps / 80.0),
            "val_loss": np.where(steps % 50 == 0, np.exp(-steps / 100.0) + 0.05, np.nan),
        }
    )
    csv = tmp_path / "metrics.csv"
    log.to_csv(csv, index=False)
    render_twice(tmp_path, lambda stem: training_curves(csv, stem))
    with pytest.raises(ValueError, match="no 'iteration' column"):
        training_curves(csv, tmp_path / "x", step_column="iteration")


def test_grade_histograms_are_byte_stable(tmp_path):
    rng = np.random.default_rng(0)
    grades = pd.DataFrame({"aesthetics_pq": rng.normal(6, 1, 100), "alignment": rng.uniform(0, 1, 100)})
    grades["selected"] = grades["alignment"] >= grades["alignment"].quantile(0.8)
    render_twice(tmp_path, lambda stem: grade_histograms(grades, ["aesthetics_pq", "alignment"], stem, hue="selected"))


def test_missing_columns_are_named(tmp_path, results):
    with pytest.raises(ValueError, match=r"missing columns \['ccs'\]"):
        metric_bars(results, ["fad_clap", "ccs"], tmp_path / "x")


def _tone(hz: float, amplitude: float = 0.3, sample_rate: int = 8000) -> np.ndarray:
    t = np.arange(sample_rate) / sample_rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_spectrogram_grid_is_byte_stable_and_draws_missing_clips_empty(tmp_path):
    clips = {
        "id_000": {"reference": _tone(440), "ours": _tone(880)},
        "ood_000": {"reference": None, "ours": _tone(220)},
    }
    render_twice(tmp_path, lambda stem: spectrogram_grid(clips, 8000, stem, n_mels=32))
    quieter = {"id_000": {"reference": _tone(440), "ours": _tone(880, amplitude=0.03)},
               "ood_000": {"reference": None, "ours": _tone(220)}}
    # One dB scale for every panel: a quieter system must look different, not be normalised away.
    louder_png = spectrogram_grid(clips, 8000, tmp_path / "loud", n_mels=32)["png"].read_bytes()
    assert spectrogram_grid(quieter, 8000, tmp_path / "quiet", n_mels=32)["png"].read_bytes() != louder_png


def test_mel_db_puts_a_tone_in_its_band_on_a_shared_scale():
    loud, quiet = mel_db(_tone(1000), 8000, n_mels=32), mel_db(_tone(1000, amplitude=0.03), 8000, n_mels=32)
    assert loud.shape[0] == 32
    assert np.argmax(loud.mean(axis=1)) == np.argmax(quiet.mean(axis=1))
    assert loud.max() - quiet.max() == pytest.approx(20.0, abs=0.5)  # a tenth of the amplitude: 20 dB less


def test_spectrogram_grid_refuses_ragged_rows(tmp_path):
    with pytest.raises(ValueError, match=r"row 'b' has columns \['reference'\]"):
        spectrogram_grid({"a": {"reference": _tone(440), "ours": _tone(440)}, "b": {"reference": _tone(440)}}, 8000, tmp_path / "x")
    with pytest.raises(ValueError, match="nothing to draw"):
        spectrogram_grid({"a": {"reference": None}}, 8000, tmp_path / "x")
