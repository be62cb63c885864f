r"""A PhysioNet subset left out, with the bundled default's recipe and its 24-epoch ViT.

docs/results.md, "Leave one PhysioNet subset out", measured the default's recipe left out with
the 12-epoch ViT. This repeats it with the bundled ViT budget, for the subsets whose networks
were made with it:

    .venv/bin/python bench/robustness.py loso --subsets f --vit-epochs 24 --vit-patience 6 \
        --tag=-e24 --no-head                                  # the two networks (about an hour)
    .venv/bin/python bench/robustness.py loso-mean --subsets f --tag=-e24   # their mean, scored
    .venv/bin/python bench/loso_vit_budget.py f

The feature expert (five seeds, figures cycle+mel+profile/1) is trained on the other subsets
with the product's own code, as bench/cycle_sync.py --members does, and averaged one half each
with the network's probabilities (bench/results/loso-mean-e24-L.json), as in the table of the
12-epoch recipe (checked: with the 12-epoch networks, bench/results/loso-mean-f.json, this
code gives that table's 0.621 / 0.504 / 0.510 for training-f). Results:
bench/results/loso-e24-default.json.
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
SEEDS = (42, 43, 44, 45, 46)


def main(letters: list[str]) -> int:
    from feature_expert import development_data, left_out_network

    from audiofuse_core.feature_expert import fit_expert, record_features
    from audiofuse_core.metrics import roc_auc

    d = development_data()
    y, subset, names = d.y, d.subset, d.names
    x = record_features(d.records, "cycle+mel+profile/1", cache_dir=REPO / "runs" / "fx-bench")
    out = RESULTS / "loso-e24-default.json"
    result = json.loads(out.read_text()) if out.is_file() else {}
    for letter in letters:
        held = subset == f"training-{letter}"
        fit = ~held
        network = left_out_network(f"e24-{letter}", names[held])
        if network is None:
            print(f"training-{letter}: run bench/robustness.py loso and loso-mean with "
                  "--tag=-e24 first")
            continue
        expert = fit_expert(x[fit], y[fit], subset[fit], seed=SEEDS[0], members=len(SEEDS))
        p_expert = 1.0 / (1.0 + np.exp(-expert.numpy_forward()(x[held])))
        result[f"training-{letter}"] = {
            "n": int(held.sum()), "abnormal": int(y[held].sum()),
            "network (mean of experts, ViT 24 epochs)": round(roc_auc(y[held], network), 3),
            "feature expert alone": round(roc_auc(y[held], p_expert), 3),
            "their mean (the default's recipe)": round(
                roc_auc(y[held], 0.5 * network + 0.5 * p_expert), 3)}
        print(f"training-{letter}", json.dumps(result[f"training-{letter}"]), flush=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["f"]))
