"""Unsupervised adaptation to a new stethoscope: re-estimate the waveform expert's BatchNorm
statistics on the new site's recordings (no labels), "AdaBN" (Li et al., 2016).

Measured on the leave-one-subset-out models of bench/robustness.py (runs/loso-X-*.keras): the
left-out subset X is split in halves (stratified by label, seed 0, as bench/site_threshold.py
does); the statistics are re-estimated on one half's windows, labels unused, and the adapted
model is scored on the other half, against the unadapted model on that same half; both ways.

    .venv/bin/python bench/adapt_bn.py [--subsets f b a] [--kinds waveform fusion]
Writes bench/results/adapt-bn-X.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"


def adapt_batchnorm(model, windows: np.ndarray, batch_size: int = 64) -> int:
    """Set each BatchNorm layer of ``model``'s waveform expert to the mean and variance of its
    input over ``windows``, layer by layer (each measured after the earlier ones are adapted).
    Returns the number of layers adapted.
    """
    import keras
    from keras import ops

    encoder = model.waveform_encoder
    if encoder is None:
        return 0

    def encoder_input(batch):
        x = model.standardize(batch) if model.standardize is not None else batch
        return model.whiten(x) if getattr(model, "whiten", None) is not None else x

    for i, norm in enumerate(encoder.norms):
        total = total_sq = None
        count = 0
        for start in range(0, len(windows), batch_size):
            x = ops.expand_dims(encoder_input(windows[start:start + batch_size]), -1)
            for j in range(i + 1):
                x = encoder.convs[j](x)
                if j < i:
                    x = encoder.norms[j](x, training=False)
                    if j < len(encoder.pools):
                        x = encoder.pools[j](x)
            x = keras.ops.convert_to_numpy(x).astype(np.float64)
            flat = x.reshape(-1, x.shape[-1])
            total = flat.sum(0) if total is None else total + flat.sum(0)
            total_sq = (flat ** 2).sum(0) if total_sq is None else total_sq + (flat ** 2).sum(0)
            count += len(flat)
        mean = total / count
        norm.moving_mean.assign(mean.astype("float32"))
        norm.moving_variance.assign(np.maximum(total_sq / count - mean ** 2, 0).astype("float32"))
    return len(encoder.norms)


def record_windows(model, records, cap: int = 24):
    """Every recording's windows (at most ``cap``, evenly spaced), as the classifier cuts them."""
    from audiofuse_core.training import _validation_windows, load_signals

    data = load_signals(records, model.preset, cache_dir=REPO / ".cache")
    windows, owner = _validation_windows(data.signals, model.preset, cap)
    return data.records, windows, owner


def measure(letter: str, kind: str) -> dict:
    from site_threshold import halves

    from audiofuse_core.datasets import scan
    from audiofuse_core.metrics import roc_auc
    from audiofuse_core.models import load_model

    path = REPO / "runs" / f"loso-{letter}-{kind}.keras"
    records = [r for r in scan(SHARED / "physionet2016-dev").records
               if r.subset == f"training-{letter}"]
    model = load_model(path)
    kept, windows, owner = record_windows(model, records)
    labels = np.array([r.label for r in kept])

    def scores(m) -> np.ndarray:
        logits = np.asarray(m.predict(windows, batch_size=64, verbose=0))[:, 0]
        probs = 1.0 / (1.0 + np.exp(-logits))
        return np.array([probs[owner == i].mean() for i in range(len(kept))])

    plain = scores(model)
    folds = []
    first, second = halves(labels)
    for fit, test in ((first, second), (second, first)):
        adapted = load_model(path)
        adapt_batchnorm(adapted, windows[np.isin(owner, fit)])
        after = scores(adapted)
        folds.append({"fit_n": int(len(fit)), "test_n": int(len(test)),
                      "roc_auc_plain": roc_auc(labels[test], plain[test]),
                      "roc_auc_adapted": roc_auc(labels[test], after[test])})
    return {"held_out": f"training-{letter}", "kind": kind, "n": int(len(labels)),
            "n_abnormal": int(labels.sum()), "roc_auc_plain_all": roc_auc(labels, plain),
            "folds": folds}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subsets", nargs="+", default=["f", "b", "a"])
    parser.add_argument("--kinds", nargs="+", default=["waveform", "fusion"])
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    print("| subset left out | model | n (abnormal) | ROC-AUC unadapted / adapted, fold 1 | "
          "fold 2 | mean |")
    print("|---|---|---|---|---|---|")
    for letter in args.subsets:
        for kind in args.kinds:
            if not (REPO / "runs" / f"loso-{letter}-{kind}.keras").is_file():
                print(f"| training-{letter} | {kind} | model not in runs/ | | | |")
                continue
            data = measure(letter, kind)
            (RESULTS / f"adapt-bn-{letter}-{kind}.json").write_text(json.dumps(data, indent=1))
            f1, f2 = data["folds"]
            plain = np.mean([f["roc_auc_plain"] for f in data["folds"]])
            adapted = np.mean([f["roc_auc_adapted"] for f in data["folds"]])
            print(f"| {data['held_out']} | {kind} | {data['n']} ({data['n_abnormal']}) | "
                  f"{f1['roc_auc_plain']:.3f} / {f1['roc_auc_adapted']:.3f} | "
                  f"{f2['roc_auc_plain']:.3f} / {f2['roc_auc_adapted']:.3f} | "
                  f"{plain:.3f} / {adapted:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
