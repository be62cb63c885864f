"""Is the bundled recipe's final probability calibrated, and would one last recalibration help?

The default model's probability is 0.5 x the network's calibrated probability + 0.5 x the
feature expert's calibrated probability. Each half is calibrated on the validation recordings;
their mean is not (averaging two informed, partly independent opinions pulls both towards the
middle and, here, above the abnormal rate where they disagree). This measures, on the cached
validation scores of the product's own Classifier (bench/threshold_out_of_fold.py), the
expected calibration error (ECE, 10 bins), the log loss and the Brier score of

- the probability as the model gives it now;
- the same after Platt scaling (sigmoid(a * logit(p) + b)) fitted on the same recordings
  (what the product would ship; optimistic);
- Platt scaling fitted out of fold: on four fifths of the validation recordings (stratified by
  subset and label, as bench/threshold_out_of_fold.py), applied to the fifth, the five parts
  pooled; 20 cuttings averaged. This is what a new recording would meet.

A monotone map changes no ranking, so ROC-AUC and the decisions at the matching threshold are
unchanged; only the number a clinician reads changes.

    .venv/bin/python bench/final_calibration.py runs/default-m5-s4[234].keras runs/default-e24-s4[234].keras

Results: bench/results/final-calibration.json.
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
REPEATS = 20


def scores(y: np.ndarray, p: np.ndarray) -> dict:
    from audiofuse_core.metrics import expected_calibration_error

    q = np.clip(p, 1e-6, 1 - 1e-6)
    return {"ece": expected_calibration_error(y, p),
            "log_loss": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))),
            "brier": float(np.mean((p - y) ** 2))}


def main() -> int:
    from threshold_out_of_fold import five_folds, validation_scores

    from audiofuse_core.metrics import fit_platt, platt

    result = {}
    for path in map(Path, sys.argv[1:]):
        rows = validation_scores(path)["recordings"]
        y = np.array([r["label"] for r in rows], dtype=np.float64)
        p = np.array([r["probability"] for r in rows])
        subset = np.array([r["subset"] for r in rows])
        a, b = fit_platt(y, p)
        held_out = []
        for seed in range(REPEATS):
            fold = five_folds(y, subset, seed)
            q = np.zeros_like(p)
            for k in range(5):
                q[fold == k] = platt(p[fold == k], *fit_platt(y[fold != k], p[fold != k]))
            held_out.append(scores(y, q))
        result[path.stem] = {
            "as given": scores(y, p),
            "Platt on the same recordings": {**scores(y, platt(p, a, b)), "a": a, "b": b},
            f"Platt out of fold (mean of {REPEATS} cuttings)": {
                k: float(np.mean([h[k] for h in held_out])) for k in held_out[0]},
        }
        print(path.stem, json.dumps({kind: {k: round(v, 3) for k, v in figures.items()}
                                     for kind, figures in result[path.stem].items()}), flush=True)
    out = RESULTS / "final-calibration.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
