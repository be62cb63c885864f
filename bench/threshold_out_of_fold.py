"""How optimistic is a threshold chosen on the recordings it is scored on?

The bundled models' decision thresholds maximise Youden's J on the validation split, and their
MCC, F1, sensitivity and specificity are then measured on the same 433 recordings. Here the
threshold is chosen out of fold instead: the validation recordings are cut into five folds
(stratified by subset and label), the threshold is chosen (Youden's J, as the product does) on
four and applied to the fifth, and the five held-out parts are pooled; twenty such cuttings,
averaged. ROC-AUC does not depend on the threshold and is not repeated here.

    .venv/bin/python bench/threshold_out_of_fold.py runs/default-m5-s4*.keras

Scores every model on the validation recordings with the product's Classifier (cached in
bench/results/validation-scores/NAME.json); results: bench/results/threshold-out-of-fold.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV = REPO.parent / "shared" / "data" / "physionet2016-dev"
RESULTS = REPO / "bench" / "results"
REPEATS = 20


def validation_scores(model: Path) -> dict:
    """The model's probabilities for its own validation recordings (the Classifier's path)."""
    cache = RESULTS / "validation-scores" / f"{model.stem}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    from audiofuse_core.datasets import scan_physionet
    from audiofuse_core.inference import Classifier
    from audiofuse_core.modelfile import read_model_metadata

    wanted = set(read_model_metadata(model)["split"]["validation_records"])
    records = [r for d in sorted(DEV.glob("training-*"))
               for r in scan_physionet(d, probe=False).records if r.name in wanted]
    classifier = Classifier(model)
    rows = []
    for r in records:
        p = classifier.predict_file(r.path)
        rows.append({"name": r.name, "subset": r.subset, "label": int(r.label),
                     "probability": float(p.probability), "refused": p.label == "poor-quality"})
    data = {"model": model.name, "threshold": classifier.threshold, "recordings": rows}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(data, indent=1))
    return data


def five_folds(y: np.ndarray, subset: np.ndarray, seed: int) -> np.ndarray:
    """Each recording's fold (0-4), stratified by subset and label; one cutting per seed."""
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), int)
    for s in np.unique(subset):
        for label in (0, 1):
            idx = np.flatnonzero((subset == s) & (y == label))
            rng.shuffle(idx)
            fold[idx] = (np.arange(len(idx)) + rng.integers(5)) % 5
    return fold


def out_of_fold(y: np.ndarray, p: np.ndarray, subset: np.ndarray, seed: int) -> dict:
    from audiofuse_core.metrics import best_threshold, binary_metrics

    fold = five_folds(y, subset, seed)
    predicted = np.zeros(len(y), int)
    for k in range(5):
        at = best_threshold(y[fold != k], p[fold != k])
        predicted[fold == k] = p[fold == k] >= at
    # the pooled held-out decisions, as binary_metrics would count them at threshold 0.5
    m = binary_metrics(y, predicted.astype(float), 0.5, bootstrap=0)
    return {"mcc": m.mcc, "f1_abnormal": m.f1_abnormal, "sensitivity": m.sensitivity,
            "specificity": m.specificity, "accuracy": m.accuracy}


def main() -> int:
    from audiofuse_core.metrics import binary_metrics

    result = {}
    for path in map(Path, sys.argv[1:]):
        data = validation_scores(path)
        rows = data["recordings"]
        y = np.array([r["label"] for r in rows])
        p = np.array([r["probability"] for r in rows])
        subset = np.array([r["subset"] for r in rows])
        same = binary_metrics(y, p, data["threshold"], bootstrap=0)
        runs = [out_of_fold(y, p, subset, seed) for seed in range(REPEATS)]
        result[path.stem] = {
            "n": len(y), "threshold": round(data["threshold"], 4),
            "threshold chosen on the same recordings": {
                k: round(getattr(same, k), 3) for k in runs[0]},
            f"threshold chosen out of fold (mean of {REPEATS} cuttings)": {
                k: round(float(np.mean([r[k] for r in runs])), 3) for k in runs[0]},
            "out of fold, spread over cuttings (sd)": {
                k: round(float(np.std([r[k] for r in runs])), 3) for k in runs[0]},
        }
        print(path.stem, json.dumps(result[path.stem]), flush=True)
    keys = list(result)
    if len(keys) > 1:
        for kind in ("threshold chosen on the same recordings",
                     f"threshold chosen out of fold (mean of {REPEATS} cuttings)"):
            values = {k: [result[m][kind][k] for m in keys] for k in result[keys[0]][kind]}
            result.setdefault("seeds", {})[kind] = {
                k: f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" for k, v in values.items()}
        print("seeds", json.dumps(result["seeds"]), flush=True)
    out = RESULTS / "threshold-out-of-fold.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
