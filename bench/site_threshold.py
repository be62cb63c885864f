"""Does refitting the threshold at a new site help? Measured on the leave-one-subset-out models.

For each held-out subset X whose leave-X-out fusion model is in runs/ (bench/robustness.py
loso), the model scores every recording of X once. Then, in two folds (X's recordings split in
halves, stratified by label, seed 0, each half in turn), the threshold is refitted on one half
with the rule of `audiofuse refit-threshold` (Youden's J, audiofuse_core.metrics.best_threshold)
and judged on the other half, against the model's own threshold on that same half.

    .venv/bin/python bench/site_threshold.py [--subsets f b a]

Writes bench/results/site-threshold-X.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"


def halves(labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two index halves of ``labels``, each class split evenly."""
    rng = np.random.default_rng(seed)
    first = []
    for value in (0, 1):
        idx = np.flatnonzero(labels == value)
        rng.shuffle(idx)
        first.extend(idx[: len(idx) // 2])
    mask = np.zeros(len(labels), dtype=bool)
    mask[first] = True
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def measure(letter: str) -> dict:
    from audiofuse_core.datasets import scan
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.metrics import best_threshold, binary_metrics

    model = REPO / "runs" / f"loso-{letter}-fusion.keras"
    records = [r for r in scan(SHARED / "physionet2016-dev").records
               if r.subset == f"training-{letter}"]
    report = evaluate(model, records, bootstrap=200)
    labels, scores = report.scored()
    folds = []
    a, b = halves(labels)
    for fit, test in ((a, b), (b, a)):
        refit = best_threshold(labels[fit], scores[fit])
        folds.append({
            "fit_n": int(len(fit)), "test_n": int(len(test)), "threshold": report.threshold,
            "refit_threshold": refit,
            "own": binary_metrics(labels[test], scores[test], report.threshold,
                                  bootstrap=200).to_dict(),
            "refit": binary_metrics(labels[test], scores[test], refit, bootstrap=200).to_dict(),
        })
    return {"held_out": f"training-{letter}", "model": model.name, "n": int(len(labels)),
            "n_abnormal": int(labels.sum()), "roc_auc": report.overall["roc_auc"],
            "folds": folds}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subsets", nargs="+", default=["f", "b", "a"])
    args = parser.parse_args()
    print("| subset left out | n (abnormal) | ROC-AUC | threshold: own / refitted (per fold) "
          "| sensitivity own / refitted | specificity own / refitted | balanced accuracy own / "
          "refitted | MCC own / refitted |")
    print("|---|---|---|---|---|---|---|---|")
    for letter in args.subsets:
        if not (REPO / "runs" / f"loso-{letter}-fusion.keras").is_file():
            print(f"| training-{letter} | model not in runs/ | | | | | | |")
            continue
        data = measure(letter)
        (RESULTS / f"site-threshold-{letter}.json").write_text(json.dumps(data, indent=1))
        folds = data["folds"]

        def pair(key: str, folds=folds) -> str:
            own = np.mean([f["own"][key] for f in folds])
            refit = np.mean([f["refit"][key] for f in folds])
            return f"{own:.2f} / {refit:.2f}"
        refits = ", ".join(f"{f['refit_threshold']:.2f}" for f in folds)
        print(f"| {data['held_out']} | {data['n']} ({data['n_abnormal']}) | "
              f"{data['roc_auc']:.3f} | {folds[0]['threshold']:.2f} / {refits} | "
              f"{pair('sensitivity')} | {pair('specificity')} | {pair('balanced_accuracy')} | "
              f"{pair('mcc')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
