"""Run one per-item function over many items: here (a process pool) or on a Ray cluster.

Both executors take the same picklable top-level function and return its results in input order,
so a stage's tables do not depend on where it ran. Every item is computed single-threaded
(BLAS and torch), wherever it runs: multi-threaded float32 reductions split the sums differently
with the thread count, which changed curated values in the 9th digit between executors. The function must build any model it needs
once per process (see `pipeline.curate_track`), because items reach workers one by one.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Sequence

from ..progress import progress

EXECUTORS = ("local", "ray")


def run_items(fn: Callable[[Any], Any], items: Sequence[Any], executor: str = "local", workers: int = 1,
              desc: str = "items", preload: Sequence[str] = ()) -> list[Any]:
    """fn(item) for every item, results in input order. executor 'local': `workers` processes
    (1 runs in this process, no pool); 'ray': Ray Data tasks, `workers` CPUs when this call
    starts a local Ray instance (a cluster named by RAY_ADDRESS, or already initialised, is used
    as it is).
    `preload`: modules a local pool imports once before it starts its workers."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r} is not one of {EXECUTORS}")
    if executor == "local" and workers == 1 or len(items) <= 1:
        return run_local(fn, items, 1, desc, preload)
    # The first item runs here, before any worker exists, so it compiles numba's on-disk JIT cache
    # (librosa's beat tracker) that the workers then only read: two fresh workers compiling at once
    # wrote a corrupt cache, and every later beat_track in that environment segfaulted.
    first = single_threaded(fn, items[0])
    rest = run_local(fn, items[1:], workers, desc, preload) if executor == "local" else run_ray(fn, items[1:], workers)
    return [first, *rest]


def run_local(fn: Callable[[Any], Any], items: Sequence[Any], workers: int, desc: str, preload: Sequence[str] = ()) -> list[Any]:
    item_fn = functools.partial(single_threaded, fn)
    if workers == 1 or len(items) <= 1:
        return [item_fn(item) for item in progress(items, desc=desc, unit="item")]
    results: list[Any] = [None] * len(items)
    # forkserver: workers start from a clean process that has imported fn's module (and `preload`)
    # once, so they neither inherit the parent's thread pools and locks (fork) nor each re-import
    # torch and transformers (spawn).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([fn_module(fn), *preload])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(item_fn, item): index for index, item in enumerate(items)}
        for future in progress(as_completed(futures), total=len(futures), desc=desc, unit="item"):
            results[futures[future]] = future.result()
    return results


def run_ray(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise RuntimeError("executor 'ray' needs the ray[data] package (pinned in pyproject.toml); "
                           "install the project's dependencies or use executor 'local'") from err
    started_here = not ray.is_initialized()
    if started_here and os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False)  # a running cluster: it decides the CPUs, not `workers`
    elif started_here:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        # Rows carry only an index: the items travel once, with the function, through Ray's own
        # serialisation, and each result comes back as one Python object in an object column,
        # so Arrow never infers a schema from them and nothing here unpickles by hand.
        rows = [{"index": index} for index in range(len(items))]
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
        done = dataset.map(_apply_to_row, fn_kwargs={"fn": fn, "items": list(items)}).take_all()
    finally:
        if started_here:
            ray.shutdown()
    results: list[Any] = [None] * len(items)
    for row in done:
        results[int(row["index"])] = row["result"][0]
    return results


def _apply_to_row(row: dict[str, Any], fn: Callable[[Any], Any], items: Sequence[Any]) -> dict[str, Any]:
    # A one-element list keeps Ray from unpacking a dataclass or dict result into columns.
    return {"index": row["index"], "result": [single_threaded(fn, items[int(row["index"])])]}


def fn_module(fn: Callable[[Any], Any]) -> str:
    """The module defining fn (or the function a functools.partial wraps)."""
    return getattr(fn, "func", fn).__module__


def single_threaded(fn: Callable[[Any], Any], item: Any) -> Any:
    """fn(item) with one BLAS / OpenMP thread and one torch thread, restored afterwards."""
    import torch
    from threadpoolctl import threadpool_limits

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            return fn(item)
    finally:
        torch.set_num_threads(torch_threads)
