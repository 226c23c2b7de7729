"""How the musicality table's key estimator was chosen: settings compared on training songs, then checked on the reference.

    .venv/bin/python bench/key_estimator_choice.py   # from the repository root, after `make repro`

Krumhansl-Schmuckler key finding reads a chroma; which chroma decides its accuracy. This scores
plain constant-Q chroma and log-compressed chroma of the HPSS harmonic part (margins 2 and 3,
log gains 3 to 100) with the MIREX weighted score against the known key, first on three
10-second windows of every training song of the DAG corpus (none is a benchmark song: the
choice), then on the key-stating reference clips (the check, never the choice). Writes
reports/key_estimator.md. `evaluation/musicality.py` holds the setting chosen. Not a DVC stage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import librosa
import mir_eval
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from s2accompanist.audio import load_audio  # noqa: E402
from s2accompanist.curation.musical_facts import estimate_key as krumhansl_schmuckler  # noqa: E402
from s2accompanist.evaluation.benchmark import load_clips  # noqa: E402
from s2accompanist.evaluation.musicality import KEY_HPSS_MARGIN, KEY_LOG_GAIN  # noqa: E402
from s2accompanist.generation import read_prompt_file, requested_key  # noqa: E402
from s2accompanist.io import write_text  # noqa: E402
from s2accompanist.params import load_params  # noqa: E402

WINDOW_S, WINDOWS_PER_SONG, SEED = 10.0, 3, 0
MARGINS, GAINS = (2.0, 3.0), (3.0, 10.0, 30.0, 100.0)


def chromas(clip: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    out = {"chroma_cqt": librosa.feature.chroma_cqt(y=clip, sr=sample_rate)}
    for margin in MARGINS:
        raw = librosa.feature.chroma_cqt(y=librosa.effects.harmonic(clip, margin=margin), sr=sample_rate, norm=None)
        out.update({f"HPSS margin {margin:g}, log1p({gain:g} x)": np.log1p(gain * raw) for gain in GAINS})
    return out


def mean_scores(items: list[tuple[str, np.ndarray]], sample_rate: int) -> dict[str, float]:
    scores: dict[str, list[float]] = {}
    for key, clip in items:
        for name, chroma in chromas(np.asarray(clip, np.float32), sample_rate).items():
            scores.setdefault(name, []).append(mir_eval.key.weighted_score(key, krumhansl_schmuckler(chroma)[0]))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def training_windows(sample_rate: int) -> list[tuple[str, np.ndarray]]:
    tracks = pd.read_parquet(REPO / "data/raw/tracks.parquet")
    rng, window, items = np.random.default_rng(SEED), int(WINDOW_S * sample_rate), []
    for row in tracks[tracks["split"] == "train"].itertuples():
        audio = load_audio(REPO / "data/raw" / row.audio_path, sample_rate, 1)[0]
        tonic, mode = row.key.split(":")
        for _ in range(WINDOWS_PER_SONG):
            start = int(rng.integers(0, max(1, len(audio) - window)))
            items.append((f"{tonic} {'major' if mode == 'maj' else 'minor'}", audio[start:start + window]))
    return items


def reference_clips(sample_rate: int, clip_s: float) -> list[tuple[str, np.ndarray]]:
    requests = [r for r in read_prompt_file(REPO / "data/prompts/prompts.jsonl", clip_s)
                if r.metadata.get("split") == "in_distribution" and requested_key(r.prompt)]
    clips = load_clips(REPO / "data/prompts/reference", [r.id for r in requests], sample_rate)
    return [(requested_key(r.prompt), clip) for r, clip in zip(requests, clips)]


def main() -> int:
    params = load_params()
    sample_rate = params.audio.sample_rate
    train, reference = training_windows(sample_rate), reference_clips(sample_rate, params.generate.clip_s)
    on_train, on_reference = mean_scores(train, sample_rate), mean_scores(reference, sample_rate)
    chosen = max((name for name in on_train if name != "chroma_cqt"), key=on_train.get)
    in_use = f"HPSS margin {KEY_HPSS_MARGIN:g}, log1p({KEY_LOG_GAIN:g} x)"
    lines = ["# Key estimator: the chroma Krumhansl-Schmuckler reads", "",
             f"MIREX weighted key score against the known key: {len(train)} windows of {WINDOW_S:g} s from the DAG corpus's "
             f"training songs (the choice) and the {len(reference)} key-stating reference clips (the check). "
             f"Best on the training windows: {chosen}; in use (evaluation/musicality.py): {in_use}.", "",
             "| chroma | training windows | reference clips |", "|---|---|---|"]
    lines += [f"| {name}{' (in use)' if name == in_use else ''} | {on_train[name]:.3f} | {on_reference[name]:.3f} |" for name in on_train]
    write_text(REPO / "reports/key_estimator.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
