"""Is sft-full's lead over sft-no_structure its structure conditioning, or its extra guidance?

    .venv/bin/python bench/structure_guidance_control.py    # from the repository root, after `make repro` (default profile)

sft-full samples with nested guidance on text and on structure (the guidance stage's choice,
data/guidance/chosen.json); sft-no_structure has no structure to guide on and gets text guidance
alone. This regenerates every prompt with sft-full at structure guidance 1 (the structure
conditions are given, but not amplified) and scores it beside the run's two systems the way the
evaluate stage does. It writes reports/structure_guidance_control.md. Not a DVC stage: it reads a
finished run and writes nothing DVC tracks.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from s2accompanist.evaluation.benchmark import build_embedder, evaluate_system, load_clips, structure_scores  # noqa: E402
from s2accompanist.generate import Generator, chosen_guidance, item_seed, write_output  # noqa: E402
from s2accompanist.generation import read_prompt_file  # noqa: E402
from s2accompanist.io import write_text  # noqa: E402
from s2accompanist.params import load_params  # noqa: E402

COLUMNS = ("fad_clap", "clap_score", "boundary_hit_rate", "own_caption_rate")


def main() -> int:
    P = load_params()
    requests = read_prompt_file("data/prompts/prompts.jsonl", P.generate.clip_s)
    embedder = build_embedder(P.evaluate.embedder.model_dump(), P.refclap.checkpoint)
    reference = [r for r in requests if r.metadata.get("split") == "in_distribution"]
    reference_emb = embedder.embed_audio(load_clips(Path("data/prompts/reference"), [r.id for r in reference], embedder.sample_rate))
    g = P.generate
    guidance_text, guidance_structure = chosen_guidance()  # the run's, as the guidance stage chose them
    control = Generator(Path("data/checkpoints/dit_sft-full.safetensors"), Path("data/checkpoints/vae-semantic.safetensors"),
                        g.sampler, g.steps, guidance_text, 1.0, P.encode.chunk_s)
    ids = [r.id for r in requests]
    with tempfile.TemporaryDirectory() as folder:  # written and read back as the generate and evaluate stages do
        for request in requests:
            audio, sidecar, _ = control(request, item_seed(P.seed, request.id))
            write_output(Path(folder) / f"{request.id}.wav", audio, sidecar)
        control_clips = load_clips(Path(folder), ids, embedder.sample_rate)
    systems = {
        f"sft-full, guidance {guidance_text:g} / {guidance_structure:g} (the run's)": load_clips(Path("data/generated/sft-full"), ids, embedder.sample_rate),
        f"sft-full, guidance {guidance_text:g} / 1 (control)": control_clips,
        f"sft-no_structure, guidance {guidance_text:g} (the run's)": load_clips(Path("data/generated/sft-no_structure"), ids, embedder.sample_rate),
    }
    lines = ["# Structure guidance control", "",
             "Written by `python bench/structure_guidance_control.py` from the last default run; guidance is text / structure.",
             f"Embedder: {embedder.name}; {len(requests)} prompts, FAD against {len(reference)} held-out reference clips.", "",
             "| system | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, clips in systems.items():
        row, _ = evaluate_system(name, clips, requests, reference_emb, embedder, P.evaluate.ccs.threshold, P.evaluate.n_bootstrap, P.seed)
        row.update(structure_scores(clips, requests, embedder, embedder.sample_rate, P.evaluate.n_bootstrap, P.seed))
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.3f}" if c in row else "" for c in COLUMNS) + " |")
        print(lines[-1], flush=True)
    write_text(Path("reports/structure_guidance_control.md"), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
