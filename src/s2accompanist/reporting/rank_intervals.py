"""How far a Borda rank can be trusted: each system's rank over resamples of the held-out songs.

A Borda rank orders systems whose metrics may differ by less than their intervals; read alone it
says "1st" and "2nd" where the data cannot tell the two apart. Here the songs behind the prompts
are resampled (a song's clips together, as the prompts were drawn), every system's three ATTM
metrics are recomputed on the same resample (FAD of its in-distribution clips against the fixed
reference set, mean CLAP score and mean per-clip CCS over all its prompts), the systems are
Borda-ranked again, and each system's 95 % range of ranks is kept. Neighbours whose ranges
overlap are not separable. CCS here is the mean of per-clip coverage, where the ATTM column pools
concepts, so a rank range need not contain the table's point rank when CCS decides it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..evaluation.bootstrap import bootstrap_values, check_bootstrap_args
from ..evaluation.fad import embedding_statistics, frechet_distance_from_stats
from .tables import borda_ranks


def borda_rank_intervals(per_item: pd.DataFrame, reference_emb: np.ndarray, systems: list[str], n_boot: int, seed: int,
                         ci: float = 0.95) -> pd.DataFrame:
    """(system, borda_rank_low, borda_rank_high) for `systems`, on the prompts all of them share.

    `per_item` has evaluate's per-item columns (system, id, song, split, clap, ccs, audio_embedding)."""
    check_bootstrap_args(n_boot, ci)
    if len(systems) < 2:
        return pd.DataFrame(columns=["system", "borda_rank_low", "borda_rank_high"])
    by_system = {s: per_item[per_item["system"] == s].set_index("id") for s in systems}
    ids = sorted(set.intersection(*(set(frame.index) for frame in by_system.values())))
    if not ids:
        raise ValueError(f"systems {systems} share no prompt; rank intervals need the same prompts for every system")
    first = by_system[systems[0]].loc[ids]
    songs, in_dist = first["song"].astype(str).to_numpy(), (first["split"] == "in_distribution").to_numpy()
    clap = np.stack([by_system[s].loc[ids, "clap"].to_numpy(float) for s in systems])
    ccs = np.stack([by_system[s].loc[ids, "ccs"].to_numpy(float) for s in systems])
    embeddings = [np.stack(by_system[s].loc[ids, "audio_embedding"].to_numpy()) for s in systems]
    reference = embedding_statistics(np.asarray(reference_emb, dtype=np.float64))

    def ranks(rows: np.ndarray) -> np.ndarray:
        kept = rows[in_dist[rows]]
        metrics = pd.DataFrame({
            "fad_clap": [frechet_distance_from_stats(*reference, *embedding_statistics(e[kept])) if len(kept) > 1 else np.nan
                         for e in embeddings],
            "clap_score": np.nanmean(clap[:, rows], axis=1), "ccs": np.nanmean(ccs[:, rows], axis=1)})
        return borda_ranks(metrics)["borda_rank"].to_numpy(float)

    drawn = bootstrap_values(ranks, len(ids), n_boot, seed, clusters=songs)  # (n_boot, systems)
    tail = (1.0 - ci) / 2.0  # a system missing a metric on some resample has no rank there: NaN, shown as n/a
    return pd.DataFrame({"system": systems,
                         "borda_rank_low": np.quantile(drawn, tail, axis=0, method="lower"),
                         "borda_rank_high": np.quantile(drawn, 1.0 - tail, axis=0, method="higher")})
