"""Train the feature expert on parts of each recording as well as the whole.

The expert sees one row of figures per recording: 1727 rows to learn 295 figures from. A
recording's figures measured on a part of it (a random stretch of half to all of it, at least
8 s) are another honest sample of the same heart through the same stethoscope; the figures
that move with the stretch chosen (a cycle more or less, a noisy second) are the ones the
expert should not lean on. Candidates:

* ``+ 2 parts``: every training recording's figures and those of two random stretches of it
  (seeded by copy and recording), the three rows of a recording weighted alike;
* ``+ jitter``: two copies of every training row with noise of 0.3 training standard
  deviations added to each figure (the same amount of data, no new measurement): tells
  whether ``+ 2 parts`` helps by what the parts measure or only by more rows.

Prediction is unchanged (the whole recording's figures). Scored as bench/cycle_sync.py scores
its sets: five-fold cross-validation on the training split (the figure a choice is made on:
mean within-subset ROC-AUC of a, b, e, f; the parts of the held-out fold's recordings are never
trained on), then validation (expert alone and averaged with the seed-42 network), CirCor
zero-shot and the subsets left out, for the record.

    .venv/bin/python bench/expert_crops.py   # figures of the parts: ~5 min on 2 cores, cached

Results: bench/results/expert-crops.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
RESULTS = REPO / "bench" / "results"
FEATURE_SET = "cycle+mel+profile/1"
SHORTEST_S = 8.0
COPIES = (1, 2)


def part_figures(item) -> np.ndarray:
    """The product's figures on one random stretch of the recording (half to all of it, at
    least SHORTEST_S seconds; the whole when it is shorter than that).
    """
    from audiofuse_core.audio import load_audio
    from audiofuse_core.cycle_features import RATE
    from audiofuse_core.feature_expert import feature_vector

    path, seed = item
    x = load_audio(path, sample_rate=RATE).samples
    rng = np.random.default_rng(seed)
    shortest = min(len(x), max(int(SHORTEST_S * RATE), len(x) // 2))
    length = int(rng.integers(shortest, len(x) + 1))
    start = int(rng.integers(0, len(x) - length + 1))
    return feature_vector(x[start:start + length], RATE, FEATURE_SET)


def load_parts(records, copy: int) -> np.ndarray:
    cache = REPO / "runs" / f"expert-parts-{copy}.npz"
    names = [r.name for r in records]
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if list(stored["names"]) == names:
            return stored["figures"]
    from multiprocessing import Pool

    with Pool(2) as pool:
        values = np.stack(pool.map(part_figures, [(str(r.path), 1000 * copy + i)
                                                  for i, r in enumerate(records)], chunksize=8))
    np.savez(cache, names=np.array(names), figures=values)
    return values


def main() -> int:
    from cycle_profile import folds
    from feature_expert import development_data, left_out, seed_network, within_row

    from audiofuse_core.feature_expert import fit_expert, record_features
    from audiofuse_core.metrics import roc_auc

    d = development_data()
    y, subset, names, train = d.y, d.subset, d.names, d.train
    val = ~train
    x = record_features(d.records, FEATURE_SET, cache_dir=REPO / "runs" / "fx-bench")
    cx = record_features(d.circor, FEATURE_SET, cache_dir=REPO / "runs" / "fx-bench")
    parts = [load_parts(d.records, c) for c in COPIES]
    spread = np.nanstd(x[train], axis=0)

    def jitter(rows: np.ndarray, copy: int) -> np.ndarray:
        rng = np.random.default_rng(copy)
        return rows + 0.3 * spread * rng.standard_normal(rows.shape)

    variants = {
        "product (whole recordings)": lambda idx: [],
        "+ 2 parts": lambda idx: [p[idx] for p in parts],
        "+ jitter": lambda idx: [jitter(x[idx], c) for c in COPIES],
    }

    def scores(extra_of, fit: np.ndarray, held_x: np.ndarray, seed: int) -> np.ndarray:
        rows = [x[fit], *extra_of(fit)]
        reps = len(rows)
        expert = fit_expert(np.vstack(rows), np.tile(y[fit], reps), np.tile(subset[fit], reps),
                            seed=seed)
        return 1.0 / (1.0 + np.exp(-expert.numpy_forward()(held_x)))

    def network(where, wanted):
        return seed_network(d, where, wanted)

    within = within_row

    out = RESULTS / "expert-crops.json"
    result = json.loads(out.read_text()) if out.is_file() else {}
    tr = np.flatnonzero(train)
    fold = folds(y[tr], subset[tr])
    net_val, net_circor = network("validation", names[val]), network("circor", d.circor_names)
    for name, extra_of in variants.items():
        row = {}
        for seed in (42, 43):
            cv = np.zeros(len(tr))
            for k in range(5):
                cv[fold == k] = scores(extra_of, tr[fold != k], x[tr[fold == k]], seed)
            row[f"cv on training split s{seed}"] = within(y[tr], subset[tr], cv, mcc=False)
        row["cv mean within, two seeds"] = round(float(np.mean(
            [row[f"cv on training split s{s}"]["mean within"] for s in (42, 43)])), 3)
        expert = scores(extra_of, np.flatnonzero(train), x[val], 42)
        row["validation s42: expert"] = within(y[val], subset[val], expert)
        row["validation s42: mean"] = within(y[val], subset[val], 0.5 * expert + 0.5 * net_val)
        circor = scores(extra_of, np.flatnonzero(train), cx, 42)
        row["circor"] = {"expert": round(roc_auc(d.c_y, circor), 3),
                         "mean": round(roc_auc(d.c_y, 0.5 * circor + 0.5 * net_circor), 3)}
        row["left out"] = left_out(y, subset, names, lambda fit, held, extra_of=extra_of: scores(
            extra_of, np.flatnonzero(fit), x[held], 42))
        result[name] = row
        print(name, json.dumps(row), flush=True)
        out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
