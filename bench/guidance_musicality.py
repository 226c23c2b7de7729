"""Does strong guidance cost the beat grid? Musicality of sft-full at the run's guidance and at weaker ones.

    .venv/bin/python bench/guidance_musicality.py [TEXT/STRUCTURE ...]   # from the repository root, after `make repro`

The beat grid (`dit.rhythm`) is kept in every guidance branch, so classifier-free guidance on text
and structure extrapolates away from the unconditional prediction and can swamp it. This
regenerates every in-distribution prompt with sft-full and with the untrained DiT at each
guidance setting given (default 3/1.5), scores them like the evaluate stage's musicality table
and writes reports/guidance_musicality.md with paired, song-clustered differences against the
untrained DiT at the same setting. The prompts are the held-out test prompts: this is a
diagnosis, not a way to choose the default (choose on training-song prompts). Not a DVC stage.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from s2accompanist.evaluation.benchmark import load_clips  # noqa: E402
from s2accompanist.evaluation.musicality_table import METRICS, paired_differences, score_clips, summarize  # noqa: E402
from s2accompanist.generate import Generator, chosen_guidance, item_seed, write_output  # noqa: E402
from s2accompanist.generation import read_prompt_file  # noqa: E402
from s2accompanist.io import write_text  # noqa: E402
from s2accompanist.params import load_params  # noqa: E402

COLUMNS = ("tempo_kept", "key_score", "notes_in_key", "notes_per_s")


def sample(checkpoint: str, vae: str, guidance: tuple[float, float], requests, P) -> list:
    """Every request through one DiT at one guidance setting, written and read back as the stages do."""
    g = P.generate
    generator = Generator(Path(f"data/checkpoints/{checkpoint}.safetensors"), Path(f"data/checkpoints/vae-{vae}.safetensors"),
                          g.sampler, g.steps, guidance[0], guidance[1], P.encode.chunk_s)
    with tempfile.TemporaryDirectory() as folder:
        for request in requests:
            audio, sidecar, _ = generator(request, item_seed(P.seed, request.id))
            write_output(Path(folder) / f"{request.id}.wav", audio, sidecar)
        return load_clips(Path(folder), [r.id for r in requests], P.audio.sample_rate)


def main(argv: list[str]) -> int:
    P = load_params()
    settings = [tuple(float(x) for x in s.split("/")) for s in (argv or ["3/1.5"])]
    requests = [r for r in read_prompt_file("data/prompts/prompts.jsonl", P.generate.clip_s)
                if r.metadata.get("split") == "in_distribution"]
    ids, rate, run = [r.id for r in requests], P.audio.sample_rate, chosen_guidance()
    per_item = [score_clips(f"sft-full {run[0]:g}/{run[1]:g} (the run's)", load_clips(Path("data/generated/sft-full"), ids, rate),
                            requests, rate)[0],
                score_clips(f"untrained {run[0]:g}/{run[1]:g}", load_clips(Path("data/generated/untrained-full"), ids, rate),
                            requests, rate)[0]]
    for text, structure in settings:
        for name, checkpoint in (("sft-full", "dit_sft-full"), ("untrained", "dit_untrained-full")):
            clips = sample(checkpoint, "semantic", (text, structure), requests, P)
            per_item.append(score_clips(f"{name} {text:g}/{structure:g}", clips, requests, rate)[0])
    per_item = pd.concat(per_item, ignore_index=True)
    summary = summarize(per_item, P.evaluate.n_bootstrap, P.seed)
    names = dict(METRICS)
    lines = ["# Guidance and musicality", "",
             "Written by `python bench/guidance_musicality.py` from the last default run; guidance is text / structure. "
             f"{len(requests)} held-out in-distribution prompts (a diagnosis on test prompts, not a selection). "
             "Intervals: 95 % bootstrap over held-out songs.", "",
             "| system | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for row in summary.to_dict("records"):
        lines.append(f"| {row['system']} | " + " | ".join(
            f"{row[c]:.3f} [{row[c + '_low']:.3f}, {row[c + '_high']:.3f}]" if c in row and pd.notna(row[c]) else "" for c in COLUMNS) + " |")
    lines += ["", "Paired against the untrained DiT at the same guidance (same prompts and seeds):", "",
              "| system | metric | difference | clips / songs |", "|---|---|---|---|"]
    for text, structure in [run] + settings:
        tag = f"{text:g}/{structure:g}"
        pair = per_item[per_item["system"].str.endswith(tag) | per_item["system"].str.endswith(f"{tag} (the run's)")]
        pair = pair.assign(system=pair["system"].str.replace(" (the run's)", "", regex=False))
        for row in paired_differences(pair, f"untrained {tag}", P.evaluate.n_bootstrap, P.seed).to_dict("records"):
            if row["metric"] in COLUMNS:
                lines.append(f"| {row['system']} | {names[row['metric']]} | {row['difference']:.3f} "
                             f"[{row['low']:.3f}, {row['high']:.3f}] | {row['n']} / {row['n_songs']} |")
    write_text(Path("reports/guidance_musicality.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
