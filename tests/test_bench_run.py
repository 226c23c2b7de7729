"""bench/run.py: a partial run names where the sections it keeps were measured, without nesting quotes run after run."""

from test_bench_models import load_bench


def test_a_partial_run_quotes_the_earlier_header_flat_and_each_line_once():
    run = load_bench("run")
    earlier = ("# Performance\n\nSections bench_a written by `make bench` on 2026-12-05 on: X\n\n" + run.KEPT_MARKER + "\n\n"
               "> Sections bench_a written by `make bench` on 2026-12-04 on: X\n> " + run.KEPT_MARKER + "\n"
               "> > Written by `make bench` on 2026-11-25.\n> > Machine: AMD EPYC\n")
    lines = run.provenance_lines(earlier)
    assert lines == ["Sections bench_a written by `make bench` on 2026-12-05 on: X",
                     "Sections bench_a written by `make bench` on 2026-12-04 on: X",
                     "Written by `make bench` on 2026-11-25.", "Machine: AMD EPYC"]
    again = "# Performance\n\n" + "\n".join(lines[:1]) + "\n\n" + run.KEPT_MARKER + "\n\n" + "\n".join("> " + line for line in lines)
    assert run.provenance_lines(again) == lines  # a second partial run adds nothing new and nests nothing
