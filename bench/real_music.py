"""Lead sheets and structure on real music: real scores rendered by our synthesizer, scored against the score's truth.

    .venv/bin/python bench/real_music.py      # or `make real-music`; offline, about 15 min on 2 cores

Builds the pieces of `corpus/real_scores.PIECES` (music21's bundled corpus, repeats written out,
our instruments) into data/cache/real_music/ (reused when already there), then writes:

- reports/real_music/real_music_leadsheet.{md,csv}: melody, chord root/majmin, beat and downbeat F
  (leadsheet/validation.py, mir_eval) for `transcribe` with librosa's and with madmom's beats,
  for madmom's beat tracker alone, and for madmom's chord recogniser.
- reports/real_music/real_music_segmentation.{md,csv}: HR.5F and HR3F (curation/validation.py,
  mir_eval.segment.detection) of the classical segmenter before and after the repetition novelty,
  and of a fixed 10 s grid, on the real pieces and on songs composed by the synthetic corpus's composer.

Mean rows carry a 95 % percentile-bootstrap interval over pieces (songs). Not a DVC stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from s2accompanist.corpus.real_scores import MAX_DURATION_S, PIECES, SAMPLE_RATE, build_real_music  # noqa: E402
from s2accompanist.corpus.synthetic.composer import compose_song  # noqa: E402
from s2accompanist.corpus.synthetic.renderer import draw_pans, render_stems  # noqa: E402
from s2accompanist.curation.segmentation import Segment, segment_track  # noqa: E402
from s2accompanist.curation.validation import fixed_grid_segments, segmentation_scores  # noqa: E402
from s2accompanist.evaluation.bootstrap import mean_with_ci  # noqa: E402
from s2accompanist.io import write_text  # noqa: E402
from s2accompanist.leadsheet.beat_tracking import LIBROSA_BACKEND, MADMOM_BACKEND  # noqa: E402
from s2accompanist.leadsheet.transcription import BACKEND as NOTES_BACKEND, transcribe  # noqa: E402
from s2accompanist.leadsheet.validation import METRICS, score_leadsheet  # noqa: E402
from s2accompanist.madmom_support import import_madmom, madmom_signal  # noqa: E402

SCRATCH = REPO / "data/cache/real_music"
TABLES = REPO / "reports/real_music"  # not reports/tables/: that folder is an output of the report stage, which DVC owns
N_BOOT, SEED = 1000, 0
SYNTHETIC_SEED, SYNTHETIC_SONGS, SYNTHETIC_RATE = 17, 36, 16000
MIN_SEGMENT_S = 4.0  # params.yaml curate.segmentation.min_segment_s
GRID_S = 10.0

LEADSHEET_BACKENDS = {
    "transcribe, librosa beats (before)": f"{NOTES_BACKEND} notes; {LIBROSA_BACKEND}; downbeats from accent",
    "transcribe, madmom beats (default)": f"{NOTES_BACKEND} notes; {MADMOM_BACKEND}",
    "madmom beats alone": "madmom 0.17 RNNBeatProcessor + DBNBeatTrackingProcessor (beats only)",
    "madmom chords": "madmom 0.17 CNNChordFeatureProcessor + CRFChordRecognitionProcessor (chords only)",
}
PER_PIECE_METRICS = {"beat_f_measure": "beat F", "downbeat_f_measure": "downbeat F", "chord_majmin": "majmin"}
SHORT_NAMES = dict(zip(LEADSHEET_BACKENDS, ("before", "default", "madmom", "madmom")))
SEGMENTERS = {
    "grid 10 s": lambda audio, sr: fixed_grid_segments(len(audio) / sr, GRID_S),
    "classical, checkerboard (before)": lambda audio, sr: segment_track(audio, sr, min_segment_s=MIN_SEGMENT_S, repetition_weight=0.0),
    "classical + repetition (default)": lambda audio, sr: segment_track(audio, sr, min_segment_s=MIN_SEGMENT_S),
    "classical + repetition, threshold 0.5": lambda audio, sr: segment_track(audio, sr, min_segment_s=MIN_SEGMENT_S, peak_threshold=0.5),
}


@lru_cache(maxsize=1)
def _madmom_processors():
    import_madmom()
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    from madmom.features.chords import CNNChordFeatureProcessor, CRFChordRecognitionProcessor

    return RNNBeatProcessor(), DBNBeatTrackingProcessor(fps=100), CNNChordFeatureProcessor(), CRFChordRecognitionProcessor()


def madmom_estimates(audio: np.ndarray, sample_rate: int) -> tuple[dict, dict]:
    """Lead sheets holding only madmom's beats (RNN + DBN) and only madmom's chords (CNN + CRF)."""
    beat_rnn, beat_dbn, chord_features, chord_crf = _madmom_processors()
    signal = madmom_signal(audio, sample_rate)
    beats = beat_dbn(beat_rnn(signal))
    chords = [[float(start), float(end), str(label)] for start, end, label in chord_crf(chord_features(signal))]
    return {"beats": [float(t) for t in beats]}, {"chords": chords}


def leadsheet_rows(pieces: list[tuple[dict, np.ndarray]]) -> pd.DataFrame:
    rows = []
    for truth, audio in pieces:
        estimates = dict(zip(list(LEADSHEET_BACKENDS)[:2], (transcribe(audio, SAMPLE_RATE, beats="librosa"), transcribe(audio, SAMPLE_RATE, beats="madmom"))))
        estimates.update(zip(list(LEADSHEET_BACKENDS)[2:], madmom_estimates(audio, SAMPLE_RATE)))
        for backend, estimate in estimates.items():
            scores = score_leadsheet(truth, estimate)
            # A backend that does not estimate something is not scored on it (score_leadsheet would say 0).
            produced = {"melody_raw_pitch_accuracy": "melody", "melody_overall_accuracy": "melody", "chord_root": "chords",
                        "chord_majmin": "chords", "beat_f_measure": "beats", "downbeat_f_measure": "downbeats"}
            rows.append({"piece_id": truth["piece_id"], "backend": backend,
                         **{m: (scores[m] if produced[m] in estimate else np.nan) for m in METRICS}})
        print(f"  lead sheet {truth['piece_id']}: done", flush=True)
    return pd.DataFrame(rows)


def segmentation_rows(items: list[tuple[str, str, list[Segment], np.ndarray, int]]) -> pd.DataFrame:
    rows = []
    for corpus, item_id, reference, audio, sample_rate in items:
        for segmenter, segment in SEGMENTERS.items():
            scores = segmentation_scores(reference, segment(audio, sample_rate))
            rows.append({"corpus": corpus, "piece_id": item_id, "segmenter": segmenter,
                         "hr05_f": scores["hr05_f"], "hr3_f": scores["hr3_f"], "n_true_boundaries": len(reference) - 1})
    return pd.DataFrame(rows)


def synthetic_songs(n_songs: int) -> list[tuple[str, str, list[Segment], np.ndarray, int]]:
    """Songs from the synthetic corpus's composer and renderer (20-40 s, as params.yaml's corpus), with their true sections."""
    items = []
    for index in range(n_songs):
        song = compose_song(np.random.default_rng([SYNTHETIC_SEED, index]), index, 20.0, 40.0)
        stems = render_stems(song.parts, song.stem_instruments, song.duration_s, SYNTHETIC_RATE,
                             draw_pans(np.random.default_rng([SYNTHETIC_SEED, index, 1]), list(song.parts)))
        mono = sum(stems.values()).mean(axis=0).astype(np.float32)
        sections = [Segment(s.label, s.start_s, s.end_s) for s in song.sections]
        items.append(("synthetic", f"song{index:02d}", sections, mono, SYNTHETIC_RATE))
    return items


def mean_row(frame: pd.DataFrame, metrics: list[str]) -> dict:
    """Mean of each metric with its bootstrap interval over the pieces that have it, as text."""
    row = {}
    for metric in metrics:
        values = frame[metric].dropna().to_numpy()
        if len(values) == 0:
            row[metric] = ""
            continue
        ci = mean_with_ci(values, N_BOOT, SEED)
        row[metric] = f"{ci['value']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"
    return row


def _markdown(frame: pd.DataFrame) -> str:
    text = frame.astype(object).where(frame.notna(), "").astype(str)
    lines = ["| " + " | ".join(text.columns) + " |", "|" + "---|" * len(text.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in text.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _round(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.round(3)


def write_leadsheet_table(rows: pd.DataFrame, seconds: float) -> None:
    rows.to_csv(TABLES / "real_music_leadsheet.csv", index=False, float_format="%.4f")
    means = pd.DataFrame([{"backend": b, **mean_row(rows[rows["backend"] == b], list(METRICS))} for b in LEADSHEET_BACKENDS])
    # Per piece, each metric for the backends that estimate it (the others would be empty columns).
    wide = rows.pivot(index="piece_id", columns="backend", values=list(METRICS))
    wide = wide[[(m, b) for m, b in wide.columns if m in PER_PIECE_METRICS and wide[(m, b)].notna().any()]]
    head = [
        "# Lead sheets on real music (real scores, our synthesizer)",
        "",
        f"What: melody raw-pitch and overall accuracy, chord root and majmin (duration-weighted), beat and downbeat F "
        f"(70 ms, no 5 s trim), scored by leadsheet/validation.py with mir_eval {_mir_eval_version()}.",
        f"On: {len(PIECES)} pieces from music21's corpus (corpus/real_scores.py), repeats expanded, first {MAX_DURATION_S:.0f} s, "
        f"rendered at {SAMPLE_RATE} Hz; truth from the score (meter beats, bar starts, top-part melody, per-beat chords). "
        "Fiddle tunes are single melodies: no chord truth, so their chord columns are empty.",
        "Backends:",
        *[f"- **{name}**: {what}" for name, what in LEADSHEET_BACKENDS.items()],
        f"Mean rows: mean over pieces with a 95 % percentile bootstrap interval over pieces ({N_BOOT} resamples). "
        f"Written by bench/real_music.py in {seconds:.0f} s.",
        "",
        "## Means",
        "",
        _markdown(means),
        "## Per piece: beat F, downbeat F and chord majmin by backend",
        "",
        "Backends: **before** = transcribe, librosa beats; **default** = transcribe, madmom beats; "
        "**madmom** = madmom beats alone (beat F) or madmom chords (majmin).",
        "",
        _markdown(_round(wide.reset_index()).set_axis(["piece_id", *[f"{PER_PIECE_METRICS[m]}, {SHORT_NAMES[b]}" for m, b in wide.columns]], axis=1)),
        "All metrics per piece and backend: real_music_leadsheet.csv.",
    ]
    write_text(TABLES / "real_music_leadsheet.md", "\n".join(head) + "\n")


def write_segmentation_table(rows: pd.DataFrame, seconds: float) -> None:
    rows.to_csv(TABLES / "real_music_segmentation.csv", index=False, float_format="%.4f")
    means = pd.DataFrame([{"corpus": c, "segmenter": s, **mean_row(rows[(rows["corpus"] == c) & (rows["segmenter"] == s)], ["hr05_f", "hr3_f"])}
                          for c in ("real", "synthetic") for s in SEGMENTERS])
    real = rows[rows["corpus"] == "real"]
    wide = real.pivot(index="piece_id", columns="segmenter", values="hr3_f")[list(SEGMENTERS)]
    wide.insert(0, "true boundaries", real.groupby("piece_id")["n_true_boundaries"].first())
    head = [
        "# Structure on real music: boundary hit rates of the classical segmenter",
        "",
        "What: HR.5F and HR3F, boundary hit-rate F at 0.5 s and 3 s (mir_eval.segment.detection, track ends trimmed, "
        "curation/validation.py `segmentation_scores`).",
        f"On: real: {len(PIECES)} real scores rendered by our synthesizer (corpus/real_scores.py, first {MAX_DURATION_S:.0f} s), "
        "sections from repeat signs and double bars with repeats expanded; synthetic: "
        f"{SYNTHETIC_SONGS} songs from the synthetic corpus's composer (20-40 s, seed {SYNTHETIC_SEED}) with their composed sections.",
        f"Backends (curation/segmentation.py `segment_track`, min_segment_s {MIN_SEGMENT_S:g} as params.yaml):",
        "- **grid 10 s**: fixed 10 s sections (the baseline of curation/validation.py).",
        "- **classical, checkerboard (before)**: beat-synchronous chroma + MFCC, Foote checkerboard novelty, "
        "peak threshold 0.25 (`repetition_weight=0`).",
        "- **classical + repetition (default)**: the same plus a repetition novelty (repeated passages in the "
        "time-lag recurrence matrix vote for their starts and ends), weight 1.5, peak threshold 0.25.",
        "- **classical + repetition, threshold 0.5**: the same with peak threshold 0.5 (fewer, stronger boundaries).",
        f"Mean rows: mean over pieces (songs) with a 95 % percentile bootstrap interval ({N_BOOT} resamples). "
        f"Written by bench/real_music.py in {seconds:.0f} s.",
        "",
        "## Means",
        "",
        _markdown(means),
        "## Real pieces: HR3F per piece",
        "",
        _markdown(_round(wide.reset_index())),
        "HR.5F, and every synthetic song: real_music_segmentation.csv.",
    ]
    write_text(TABLES / "real_music_segmentation.md", "\n".join(head) + "\n")


def _mir_eval_version() -> str:
    import mir_eval

    return mir_eval.__version__


def load_pieces(scratch: Path) -> list[tuple[dict, np.ndarray]]:
    missing = [p for p in PIECES if not (scratch / f"{p.piece_id}.wav").is_file() or not (scratch / f"{p.piece_id}.json").is_file()]
    if missing:
        build_real_music(scratch, tuple(missing))
    pieces = []
    for piece in PIECES:
        truth = json.loads((scratch / f"{piece.piece_id}.json").read_text())
        audio, rate = soundfile.read(scratch / f"{piece.piece_id}.wav", dtype="float32")
        if rate != SAMPLE_RATE or truth["duration_s"] > MAX_DURATION_S + 1e-6:
            raise ValueError(f"{scratch / piece.piece_id} was built with other settings ({rate} Hz, {truth['duration_s']} s); delete {scratch} and rerun")
        pieces.append((truth, audio))
    return pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, default=SCRATCH, help="where the rendered pieces are built (and reused)")
    parser.add_argument("--only", choices=["leadsheet", "segmentation"], help="write just one of the two tables")
    args = parser.parse_args()
    TABLES.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    pieces = load_pieces(args.scratch)
    print(f"{len(pieces)} pieces ready in {time.perf_counter() - started:.0f} s", flush=True)
    if args.only != "leadsheet":
        began = time.perf_counter()
        real = [("real", truth["piece_id"], _sections(truth), audio, SAMPLE_RATE) for truth, audio in pieces]
        write_segmentation_table(segmentation_rows(real + synthetic_songs(SYNTHETIC_SONGS)), time.perf_counter() - began)
        print(f"segmentation table in {time.perf_counter() - began:.0f} s", flush=True)
    if args.only != "segmentation":
        began = time.perf_counter()
        write_leadsheet_table(leadsheet_rows(pieces), time.perf_counter() - began)
        print(f"lead-sheet table in {time.perf_counter() - began:.0f} s", flush=True)
    print(f"bench/real_music.py: {time.perf_counter() - started:.0f} s in all", flush=True)


def _sections(truth: dict) -> list[Segment]:
    edges = [*truth["section_starts"], truth["duration_s"]]
    return [Segment("verse", a, b) for a, b in zip(edges[:-1], edges[1:])]


if __name__ == "__main__":
    main()
