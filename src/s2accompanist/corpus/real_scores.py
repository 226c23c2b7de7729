"""Real music with known truth, built offline: scores from music21's bundled corpus, rendered by our synthesizer.

The composition is real (Joplin, Mozart, Haydn, Beethoven, Schubert, Bach chorales, fiddle tunes
from Ryan's Mammoth Collection); only the timbres are ours (`synthetic/instruments.py`). The truth
comes from the score, with repeats written out (`expandRepeats`) and a fixed tempo per piece:

- beats and downbeats: the meter's beats (music21's `beatDuration`: a dotted quarter in 6/8, a half
  in 2/2) and bar starts; pickup bars and the short bars that pair with them keep the metric phase.
- melody: the top part, the highest note of each of its chords.
- chords: at every beat, the pitches sounding at its onset as a music21 `Chord` (a chordify slice),
  reduced to root and major/minor (dim/aug kept for the root score); fewer than three pitch classes
  or another quality is "X", which mir_eval leaves out. A tune without harmony has no chord truth.
- sections: bar lines where the form turns: a repeat sign, a double or final bar, or a jump back
  after expanding the repeats (a second ending skipping forward is not one); starts closer than
  `MIN_SECTION_S` are merged. A dance tune played through again starts a section each time.

Score tempo marks are ignored: each piece plays at the tempo listed in `PIECES`, so tempo varies
across pieces by design and the truth does not depend on how a file spells its metronome mark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .synthetic.renderer import draw_pans, render_stems
from .synthetic.song import Note

SAMPLE_RATE = 22050  # basic-pitch's rate: transcription needs no resampling
MAX_DURATION_S = 60.0  # keeps `make real-music` near ten minutes on two cores (madmom: ~0.2 s per second of audio)
VELOCITY = 90  # no dynamics: an accent the score does not write would plant the downbeats
_BARLINES_ENDING_A_SECTION = {"double", "final", "light-light", "light-heavy", "heavy-light", "heavy-heavy", "heavy"}
_EPS = 1e-6
MIN_SECTION_S = 2.0  # closer section starts are one bar line spelled twice (pickup, second ending)


@dataclass(frozen=True)
class RealPiece:
    """One score from music21's corpus, how fast it is played and on which of our instruments."""

    piece_id: str
    corpus_path: str
    beat_bpm: float  # beats (of the meter) per minute
    instruments: tuple[str, ...]  # one per part, the last one reused for any further parts
    times_through: int = 1  # dance tunes are played through more than once, as dancers need


# A mix of textures (solo piano, string quartet, voice and piano, four-part chorale, solo melody)
# and meters (2/4, 3/4, 4/4, 2/2, 6/8), each with sections marked by repeats or double bars.
PIECES: tuple[RealPiece, ...] = (
    RealPiece("joplin_maple_leaf_rag", "joplin/maple_leaf_rag.mxl", 92.0, ("piano",)),
    RealPiece("mozart_k156_iii_minuet", "mozart/k156/movement3.mxl", 132.0, ("violin", "violin", "strings", "doublebass")),
    RealPiece("mozart_k80_iii_minuet", "mozart/k80/movement3.mxl", 120.0, ("violin", "violin", "strings", "doublebass")),
    RealPiece("haydn_op1no1_ii_minuet", "haydn/opus1no1/movement2.mxl", 144.0, ("flute", "violin", "strings", "bass")),
    RealPiece("haydn_op1no1_iv_minuet", "haydn/opus1no1/movement4.mxl", 126.0, ("violin", "violin", "strings", "doublebass")),
    RealPiece("beethoven_op18no1_iii_scherzo", "beethoven/opus18no1/movement3.mxl", 168.0, ("violin", "violin", "strings", "doublebass")),
    RealPiece("beethoven_op59no3_iii_menuetto", "beethoven/opus59no3/movement3.mxl", 112.0, ("violin", "violin", "strings", "doublebass")),
    RealPiece("schubert_lindenbaum", "schubert/Lindenbaum.xml", 100.0, ("vocal", "piano", "piano")),
    RealPiece("bach_bwv103_6_chorale", "bach/bwv103.6.mxl", 76.0, ("organ",)),
    RealPiece("bach_bwv104_6_chorale", "bach/bwv104.6.mxl", 84.0, ("strings", "strings", "strings", "bass")),
    RealPiece("bach_bwv11_6_chorale", "bach/bwv11.6.mxl", 96.0, ("brass", "brass", "brass", "bass")),
    RealPiece("ryan_acrobats_hornpipe", "ryansMammoth/AcrobatsHornpipe.abc", 80.0, ("violin",), times_through=2),
    RealPiece("ryan_7th_regiment_reel", "ryansMammoth/7thRegimentReel.abc", 104.0, ("accordion",), times_through=3),
    RealPiece("ryan_bannocks_o_barley_meal_jig", "ryansMammoth/BannocksOBarleyMealJig.abc", 112.0, ("flute",), times_through=4),
    RealPiece("ryan_boatie_rows_strathspey", "ryansMammoth/BoatieRowsStrathspey.abc", 66.0, ("violin",), times_through=2),
    RealPiece("ryan_blue_stocking_clog", "ryansMammoth/BlueStockingClog.abc", 88.0, ("electricpiano",), times_through=2),
)


@dataclass
class ScoreTruth:
    """A rendered piece's truth, in seconds; `leadsheet` is in the format leadsheet/validation.py scores."""

    piece_id: str
    duration_s: float
    beats: list[float]
    downbeats: list[float]
    chords: list[list]  # [start, end, mir_eval label]
    melody: list[list]  # [start, end, midi]
    section_starts: list[float]  # 0.0 first
    parts: dict[str, list[Note]] = field(repr=False, default_factory=dict)
    stem_instruments: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def leadsheet(self) -> dict:
        return {"beats": self.beats, "downbeats": self.downbeats, "chords": self.chords, "melody": self.melody}


def load_score(corpus_path: str):
    """The music21 Score of a corpus path (the first score of an Opus)."""
    from music21 import corpus, stream

    parsed = corpus.parse(corpus_path)
    return parsed.scores[0] if isinstance(parsed, stream.Opus) else parsed


def score_truth(piece: RealPiece, max_duration_s: float = MAX_DURATION_S) -> ScoreTruth:
    """Truth and playable notes of `piece`, cut at the last bar line within `max_duration_s`."""
    score = load_score(piece.corpus_path)
    section_after, section_at = _section_bar_numbers(score.parts[0])
    expanded = score.expandRepeats()
    bars, offset_ql, time_signature = [], 0.0, None
    for _ in range(piece.times_through):
        previous_number = None  # a new time through starts a section like a repeat does
        for measure in expanded.parts[0].getElementsByClass("Measure"):
            time_signature = measure.timeSignature or time_signature
            if time_signature is None:
                raise ValueError(f"{piece.corpus_path}: bar {measure.number} has no time signature before it")
            # A bar split at a repeat sign keeps its number in both halves: only a lower number is a jump back.
            jumped_back = previous_number is not None and measure.number < previous_number
            starts_section = (previous_number is None or jumped_back or previous_number in section_after
                              or measure.number in section_at)
            bars.append({"number": measure.number, "offset": offset_ql,
                         "length": float(measure.duration.quarterLength), "bar_length": float(time_signature.barDuration.quarterLength),
                         "beat_length": float(time_signature.beatDuration.quarterLength), "section": starts_section,
                         "padding_left": float(measure.paddingLeft)})
            offset_ql += float(measure.duration.quarterLength)
            previous_number = measure.number
    seconds_per_quarter = 60.0 / (piece.beat_bpm * bars[0]["beat_length"])
    kept = [bar for bar in bars if (bar["offset"] + bar["length"]) * seconds_per_quarter <= max_duration_s + _EPS] or bars[:1]
    duration_s = (kept[-1]["offset"] + kept[-1]["length"]) * seconds_per_quarter

    beats, downbeats = _metric_grid(kept, seconds_per_quarter)
    parts = {_stem_name(i): _part_notes(part, kept, seconds_per_quarter) for i, part in enumerate(expanded.parts)}
    stem_instruments = {_stem_name(i): piece.instruments[min(i, len(piece.instruments) - 1)] for i in range(len(parts))}
    return ScoreTruth(
        piece_id=piece.piece_id,
        duration_s=round(duration_s, 4),
        beats=[round(t, 4) for t in beats],
        downbeats=[round(t, 4) for t in downbeats],
        chords=_beat_chords(parts, beats, duration_s),
        melody=[[round(n.start_s, 4), round(n.end_s, 4), n.pitch] for n in _highest_of_each_onset(parts[_stem_name(0)])],
        section_starts=_merge_close_starts([bar["offset"] * seconds_per_quarter for bar in kept if bar["section"]]),
        parts=parts,
        stem_instruments=stem_instruments,
    )


def _merge_close_starts(starts: list[float]) -> list[float]:
    """Section starts at least `MIN_SECTION_S` apart. Of two closer ones the later is the bar line (the earlier
    is a pickup or a second-ending bar closing the previous section), except that the piece's start stays."""
    kept = [0.0]
    for start in starts:
        if start - kept[-1] >= MIN_SECTION_S:
            kept.append(start)
        elif kept[-1] > 0:
            kept[-1] = start
    return [round(start, 4) for start in kept]


def _stem_name(part_index: int) -> str:
    # The top part plays as "lead": the renderer sets it 6 dB above the accompaniment, as a melody sits.
    return "lead" if part_index == 0 else f"part{part_index}"


def _section_bar_numbers(part) -> tuple[set[int], set[int]]:
    """Bar numbers after which a section ends (repeat end, double or final bar) and at which one starts (repeat start)."""
    from music21 import bar

    ends_after, starts_at = set(), set()
    for measure in part.getElementsByClass("Measure"):
        right, left = measure.rightBarline, measure.leftBarline
        if right is not None and (isinstance(right, bar.Repeat) or right.type in _BARLINES_ENDING_A_SECTION):
            ends_after.add(measure.number)
        if left is not None and (isinstance(left, bar.Repeat) or left.type in _BARLINES_ENDING_A_SECTION):
            starts_at.add(measure.number)
    return ends_after, starts_at


def _metric_grid(bars: list[dict], seconds_per_quarter: float) -> tuple[list[float], list[float]]:
    """Beat and downbeat times. A short bar continues the metric position where the previous one left off,
    so a pickup (or the half bar a strain ends on before the pickup) keeps beats on the meter."""
    beats, downbeats = [], []
    position = bars[0]["bar_length"] - bars[0]["length"] if bars[0]["length"] < bars[0]["bar_length"] - _EPS else 0.0
    for bar in bars:
        if bar["padding_left"] > 0:
            position = bar["padding_left"]
        if position >= bar["bar_length"] - _EPS:
            position = 0.0
        first_beat = np.ceil((position - _EPS) / bar["beat_length"]) * bar["beat_length"]
        for metric in np.arange(first_beat, position + bar["length"] - _EPS, bar["beat_length"]):
            time_s = (bar["offset"] + metric - position) * seconds_per_quarter
            beats.append(time_s)
            if abs(metric % bar["bar_length"]) < _EPS:
                downbeats.append(time_s)
        position = (position + bar["length"]) % bar["bar_length"]
        if abs(position - bar["bar_length"]) < _EPS:
            position = 0.0
    return beats, downbeats


def _part_notes(part, bars: list[dict], seconds_per_quarter: float) -> list[Note]:
    """Every sounding note of one expanded part in the kept bars, tied notes merged, grace notes dropped."""
    measures = list(part.stripTies().getElementsByClass("Measure"))
    piece_end_ql = bars[-1]["offset"] + bars[-1]["length"]
    notes = []
    for index, bar in enumerate(bars):
        measure = measures[index % len(measures)]  # bars run through the expanded tune `times_through` times
        for element in measure.recurse().notes:
            length = float(element.duration.quarterLength)
            if length <= 0:
                continue
            start = bar["offset"] + float(element.getOffsetInHierarchy(measure))
            end = min(start + length, piece_end_ql)
            for pitch in element.pitches:
                notes.append(Note(round(start * seconds_per_quarter, 6), round(end * seconds_per_quarter, 6), int(pitch.midi), VELOCITY))
    return sorted(notes, key=lambda n: (n.start_s, n.pitch))


def _highest_of_each_onset(notes: list[Note]) -> list[Note]:
    top: dict[float, Note] = {}
    for note in notes:
        if note.start_s not in top or note.pitch > top[note.start_s].pitch:
            top[note.start_s] = note
    return [top[start] for start in sorted(top)]


def _beat_chords(parts: dict[str, list[Note]], beats: list[float], duration_s: float) -> list[list]:
    """One chord label per beat (merged where it repeats); [] when no beat holds a major or minor triad."""
    from music21 import chord

    all_notes = [note for notes in parts.values() for note in notes]
    starts = np.array([n.start_s for n in all_notes])
    ends = np.array([n.end_s for n in all_notes])
    pitches = np.array([n.pitch for n in all_notes])
    edges = [*beats, duration_s]
    spans: list[list] = []
    for begin, end in zip(edges[:-1], edges[1:]):
        sounding = sorted(set(pitches[(starts <= begin + 1e-3) & (ends > begin + 1e-3)].tolist()))
        label = _chord_label(chord.Chord(sounding)) if sounding else "N"
        if spans and spans[-1][2] == label:
            spans[-1][1] = round(end, 4)
        else:
            spans.append([round(begin, 4), round(end, 4), label])
    if beats and beats[0] > 0:
        spans.insert(0, [0.0, round(beats[0], 4), "N"])
    return spans if any(label.endswith((":maj", ":min")) for _s, _e, label in spans) else []


def _chord_label(sounding) -> str:
    if len({p.pitchClass for p in sounding.pitches}) < 3:
        return "X"
    suffix = {"major": "maj", "minor": "min", "diminished": "dim", "augmented": "aug"}.get(sounding.quality)
    if suffix is None:
        return "X"
    return f"{sounding.root().name.replace('-', 'b')}:{suffix}"


def render_truth(truth: ScoreTruth, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """Mono float32 audio of the piece through this repository's synthesizer (stems panned, reverberated, mixed down)."""
    pans = draw_pans(np.random.default_rng([seed, len(truth.piece_id)]), list(truth.parts))
    stems = render_stems(truth.parts, truth.stem_instruments, truth.duration_s, sample_rate, pans)
    return sum(stems.values()).mean(axis=0).astype(np.float32)


def build_real_music(out_dir: Path, pieces: tuple[RealPiece, ...] = PIECES, sample_rate: int = SAMPLE_RATE,
                     max_duration_s: float = MAX_DURATION_S) -> list[dict]:
    """Write <piece_id>.wav and <piece_id>.json (truth) per piece into out_dir; return one summary row per piece."""
    import soundfile

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for piece in pieces:
        truth = score_truth(piece, max_duration_s)
        soundfile.write(out_dir / f"{piece.piece_id}.wav", render_truth(truth, sample_rate), sample_rate, subtype="FLOAT")
        record = {"piece_id": piece.piece_id, "corpus_path": piece.corpus_path, "beat_bpm": piece.beat_bpm,
                  "duration_s": truth.duration_s, "section_starts": truth.section_starts, **truth.leadsheet}
        (out_dir / f"{piece.piece_id}.json").write_text(json.dumps(record))
        rows.append({"piece_id": piece.piece_id, "corpus_path": piece.corpus_path, "beat_bpm": piece.beat_bpm,
                     "duration_s": truth.duration_s, "n_sections": len(truth.section_starts),
                     "has_chords": bool(truth.chords), "instruments": "+".join(dict.fromkeys(truth.stem_instruments.values()))})
    return rows
