"""Speed of the default curation chain on 2 cores, as x real time = seconds of audio curated per second of wall time; target at least 50x for the whole chain. Each step is timed alone in this process with 2 torch threads, over a synthetic corpus composed here; the whole chain runs through `curate_corpus` serially (2 threads) and with the local executor's 2 worker processes (1 thread each, start-up included), with no cache."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from s2accompanist.audio import load_audio
from s2accompanist.checkpoints import save_checkpoint
from s2accompanist.corpus.synthetic.build import build_synthetic_corpus
from s2accompanist.corpus.synthetic.config import SyntheticCorpusConfig
from s2accompanist.curation.musical_facts import measure_facts
from s2accompanist.curation.pipeline import build_backends, curate_corpus, split_long
from s2accompanist.models.reference_clap import EXPORT_KIND, ReferenceClap, ReferenceClapConfig
from s2accompanist.params import load_params
from s2accompanist.training.reference_clap_stage import corpus_tag_names

N_SONGS = 8
SEED = 0
CORES = 2
DURATION_S = (20.0, 40.0)  # the default profile's song lengths


def run(n_songs: int = N_SONGS) -> list[dict]:
    params = load_params()
    curate, sample_rate = params.curate.model_dump(), params.audio.sample_rate
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=CORES):
        torch.set_num_threads(CORES)
        raw_dir = Path(tmp) / "raw"
        tracks = build_synthetic_corpus(SyntheticCorpusConfig(n_songs=n_songs, seed=SEED, sample_rate=sample_rate,
                                                               duration_s_min=DURATION_S[0], duration_s_max=DURATION_S[1],
                                                               write_stems=False), raw_dir, progress=False)["tracks"]
        refclap, refclap_note = reference_clap(Path(params.refclap.checkpoint), Path(tmp), tracks, sample_rate,
                                               params.refclap.embed_dim)
        backends = build_backends(curate, str(refclap))
        # Untimed first pass over one song: librosa's numba kernels compile and torch warms up once.
        step_rows(tracks.head(1), raw_dir, curate, backends, sample_rate, params.audio.channels, refclap_note)
        rows = step_rows(tracks, raw_dir, curate, backends, sample_rate, params.audio.channels, refclap_note)
        audio_s = float(tracks["duration_s"].sum())
        for label, executor in (("serial, 2 threads", {}), (f"local executor, {CORES} workers", {"workers": CORES})):
            started = time.perf_counter()
            curate_corpus(tracks, raw_dir, Path(tmp) / "curated", curate, backends, sample_rate, params.audio.channels,
                          refclap_checkpoint=str(refclap), **executor)
            wall = time.perf_counter() - started
            rows.append({"name": f"whole default chain ({label})", "value": f"{audio_s / wall:.1f}", "unit": "x real time",
                         "note": f"target >= 50x; {audio_s:.0f} s of audio from {n_songs} songs in {wall:.1f} s; {refclap_note}"})
    return rows


def reference_clap(trained: Path, tmp: Path, tracks, sample_rate: int, embed_dim: int) -> tuple[Path, str]:
    """The trained reference CLAP when the refclap stage has written it, else the same
    architecture with random weights (the speed is the same; the captions are not)."""
    if trained.is_file():
        return trained, f"trained reference CLAP {trained}"
    torch.manual_seed(SEED)
    config = ReferenceClapConfig(tag_names=tuple(corpus_tag_names(tracks)), sample_rate=sample_rate, embed_dim=embed_dim)
    path = save_checkpoint(tmp / "refclap.safetensors", ReferenceClap(config).state_dict(),
                           {"kind": EXPORT_KIND, "model": config.to_dict()})
    return path, f"random-weight reference CLAP ({trained} absent)"


def step_rows(tracks, raw_dir: Path, curate: dict, backends, sample_rate: int, channels: int, refclap_note: str) -> list[dict]:
    """x real time of each default step alone, over the same audio."""
    timings = dict.fromkeys(("decode", "separation", "segmentation", "facts + captions", "quality", "alignment"), 0.0)
    audio_s = 0.0
    embeddings, captions = [], []

    def timed(step, fn, *args):
        started = time.perf_counter()
        out = fn(*args)
        timings[step] += time.perf_counter() - started
        return out

    for track in tracks.itertuples():
        audio = timed("decode", load_audio, raw_dir / track.audio_path, sample_rate, channels)
        audio_s += audio.shape[1] / sample_rate
        audio = timed("separation", backends.separate, audio, sample_rate)
        mono = audio.mean(axis=0)
        sections = timed("segmentation", backends.segment, track.track_id, mono, sample_rate)
        for index, (_, segment) in enumerate(split_long(sections, curate["segment_s_max"])):
            clip = mono[int(segment.start_s * sample_rate):int(segment.end_s * sample_rate)]
            segment_id = f"{track.track_id}-{index:02d}"
            caption = timed("facts + captions", lambda: backends.captioner.caption(
                clip, sample_rate, segment_id, segment.label, measure_facts(clip, sample_rate)))
            captions.append(caption.text)
            timed("quality", backends.quality.grade, clip, sample_rate)
            embeddings.append(timed("alignment", backends.aligner.audio_embedding, clip, sample_rate))
    timed("alignment", backends.aligner.alignment, embeddings, captions)
    rows = []
    for step, seconds in timings.items():
        backend = {"separation": "separation", "segmentation": "segmentation", "facts + captions": "captioning",
                   "quality": "quality", "alignment": "alignment"}.get(step)
        name = f"{step} ({backends.names[backend]})" if backend else step
        note = f"{audio_s:.0f} s of audio in {seconds:.2f} s" + (f"; {refclap_note}" if backend in ("captioning", "alignment") else "")
        rows.append({"name": name, "value": f"{audio_s / seconds:.0f}" if seconds > 0 else "inf",
                     "unit": "x real time", "note": note})
    return rows


if __name__ == "__main__":  # a quick check on fewer songs: python bench/bench_curation.py 2
    import sys

    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else N_SONGS):
        print(row)
