"""Should the feature expert step back where its figures are unlike its training recordings?

Left out of training, training-f's figures lie far from the other subsets' (root-mean-square
standardised distance, median 3.2 against 0.74 for the validation split and 1.1 for CirCor),
and there the expert is worse than chance while the network is not. Candidate: the expert's
weight in the mean falls linearly from 0.5 to 0 as a recording's distance goes from the q-th
percentile of the training recordings' own distances to twice that. Scored (one expert seed,
42; the network of seed 42 or the one trained without the subset) on the validation split,
CirCor and training-a, -b, -f left out.

    .venv/bin/python bench/expert_ood.py      # results: bench/results/expert-ood.json
"""

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from feature_expert import (  # noqa: E402
    development_data,
    left_out_network,
    seed_network,
)

from audiofuse_core.feature_expert import fit_expert, record_features  # noqa: E402
from audiofuse_core.metrics import roc_auc  # noqa: E402

RESULTS = {}
QUANTILES = (0.95, 0.99, 0.999)


def distance(fit: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Root-mean-square distance of ``rows`` from the ``fit`` rows in standardised figures
    (missing figures filled as the expert fills them; each squared z capped at 100).
    """
    fill = np.nanmedian(fit, axis=0)
    fit = np.where(np.isnan(fit), fill, fit)
    centre, scale = fit.mean(axis=0), fit.std(axis=0) + 1e-6
    rows = np.where(np.isnan(rows), fill, rows)
    return np.sqrt(np.mean(np.minimum(((rows - centre) / scale) ** 2, 100.0), axis=1))


def score(x, y, subset, fit, rows, network, labels, where: str) -> None:
    expert = fit_expert(x[fit], y[fit], subset[fit], seed=42)
    p_expert = 1.0 / (1.0 + np.exp(-expert.numpy_forward()(rows)))
    far, own = distance(x[fit], rows), distance(x[fit], x[fit])
    out = {"n": len(labels)}
    for q in QUANTILES:
        cut = np.quantile(own, q)
        w = 0.5 * np.clip((2 * cut - far) / cut, 0.0, 1.0)
        out[f"q{q}"] = {"auc": round(roc_auc(labels, (1 - w) * network + w * p_expert), 3),
                        "mean weight": round(float(w.mean()), 3)}
    out["plain mean"] = round(roc_auc(labels, 0.5 * network + 0.5 * p_expert), 3)
    out["network"] = round(roc_auc(labels, network), 3)
    out["expert"] = round(roc_auc(labels, p_expert), 3)
    RESULTS[where] = out
    print(where, json.dumps(out), flush=True)


def main() -> int:
    d = development_data()
    x = record_features(d.records, "cycle+mel+profile/1", cache_dir=REPO / "runs" / "fx-bench")
    cx = record_features(d.circor, "cycle+mel+profile/1", cache_dir=REPO / "runs" / "fx-bench")

    def network(where, wanted):
        return seed_network(d, where, wanted)

    train, val = np.flatnonzero(d.train), ~d.train
    score(x, d.y, d.subset, train, x[val], network("validation", d.names[val]), d.y[val],
          "validation")
    score(x, d.y, d.subset, train, cx, network("circor", d.circor_names), d.c_y, "circor")
    for letter in "abf":
        held = d.subset == f"training-{letter}"
        score(x, d.y, d.subset, np.flatnonzero(~held), x[held],
              left_out_network(letter, d.names[held]), d.y[held], f"left out {letter}")
    (REPO / "bench" / "results" / "expert-ood.json").write_text(json.dumps(RESULTS, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
