"""Swap the stethoscope's colouring between subsets in the feature expert's training figures.

The feature expert's 32 average-spectrum figures (each log-Mel band's mean level against the
mean of all bands; audiofuse_core.cycle_features._mel_summary) are the part of its input a
stethoscope's frequency response shifts directly, and each PhysioNet subset is one stethoscope.
Here every training recording is copied once per other training subset with those 32 figures
moved by the difference between the two subsets' typical spectra (the mean over a subset's
normal recordings and, separately, its abnormal ones, averaged, so that the subset's abnormal
rate does not enter): the same heart as each other device would colour it, to first order.
The expert (the product's fit_expert, one member) then cannot lean on the colouring.

Scored as bench/cycle_sync.py scores its sets: five-fold cross-validation on the training split
(the swap made inside each fold's training part only), validation, CirCor zero-shot and the
subsets left out (swaps among the remaining five).

    .venv/bin/python bench/feature_swap.py

Results: bench/results/feature-swap.json.
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


def swapped(x: np.ndarray, y: np.ndarray, subset: np.ndarray, columns: slice):
    """The rows, then one copy of each per other subset with ``columns`` recoloured."""
    typical = {}
    for s in np.unique(subset):
        means = [np.nanmean(x[(subset == s) & (y == c), columns], axis=0)
                 for c in (0, 1) if ((subset == s) & (y == c)).any()]
        typical[s] = np.mean(means, axis=0)
    rows, labels, groups = [x], [y], [subset]
    for target in typical:
        mask = subset != target
        copy = x[mask].copy()
        shift = np.stack([typical[target] - typical[s] for s in subset[mask]])
        copy[:, columns] = copy[:, columns] + shift
        rows.append(copy)
        labels.append(y[mask])
        groups.append(subset[mask])
    return np.vstack(rows), np.concatenate(labels), np.concatenate(groups)


def scores(x, y, subset, fit, test, seed, swap: bool) -> np.ndarray:
    from audiofuse_core.cycle_features import N_CYCLE, N_MELS
    from audiofuse_core.feature_expert import fit_expert

    xs, ys, ss = x[fit], y[fit], subset[fit]
    if swap:
        xs, ys, ss = swapped(xs, ys, ss, slice(N_CYCLE, N_CYCLE + N_MELS))
    expert = fit_expert(xs, ys, ss, seed=seed)
    return 1.0 / (1.0 + np.exp(-expert.numpy_forward()(x[test])))


def main() -> int:
    from cycle_profile import folds
    from feature_expert import development_data, left_out

    from audiofuse_core.feature_expert import record_features
    from audiofuse_core.metrics import roc_auc

    d = development_data()
    y, subset, names, train = d.y, d.subset, d.names, d.train
    x = record_features(d.records, "cycle+mel+profile/1", cache_dir=REPO / "runs" / "fx-bench")
    cx = record_features(d.circor, "cycle+mel+profile/1", cache_dir=REPO / "runs" / "fx-bench")
    tr = np.flatnonzero(train)
    val = np.flatnonzero(~train)
    fold = folds(y[tr], subset[tr])

    def within(yy, ss, p):
        row = {"overall": round(roc_auc(yy, p), 3)}
        for c in "abef":
            k = ss == f"training-{c}"
            row[c] = round(roc_auc(yy[k], p[k]), 3)
        row["mean within"] = round(float(np.mean([row[c] for c in "abef"])), 3)
        return row

    experts = [dict(zip(d.scores[f"{kind}-s42@{where}"]["names"],
                        d.scores[f"{kind}-s42@{where}"]["probabilities"]))
               for kind in ("spectrogram", "waveform") for where in ("validation", "circor")]
    net_val = np.array([0.5 * (experts[0][n] + experts[2][n]) for n in names[val]])
    net_circor = np.array([0.5 * (experts[1][n] + experts[3][n]) for n in d.circor_names])
    result = {}
    for swap in (False, True):
        row = {}
        for seed in (42, 43):
            cv = np.zeros(len(tr))
            for k in range(5):
                cv[fold == k] = scores(x, y, subset, tr[fold != k], tr[fold == k], seed, swap)
            row[f"cv s{seed}"] = within(y[tr], subset[tr], cv)
        row["cv mean within, two seeds"] = round(float(np.mean(
            [row[f"cv s{s}"]["mean within"] for s in (42, 43)])), 3)
        e = scores(x, y, subset, tr, val, 42, swap)
        row["validation: expert"] = within(y[val], subset[val], e)
        row["validation: mean with the network"] = within(y[val], subset[val],
                                                          0.5 * e + 0.5 * net_val)
        both = np.vstack([x[tr], cx])
        labels = np.concatenate([y[tr], d.c_y])
        groups = np.concatenate([subset[tr], ["circor"] * len(d.c_y)])
        ce = scores(both, labels, groups, np.arange(len(tr)), np.arange(len(tr), len(both)),
                    42, swap)
        row["circor"] = {"expert": round(roc_auc(d.c_y, ce), 3),
                         "mean": round(roc_auc(d.c_y, 0.5 * ce + 0.5 * net_circor), 3)}
        row["left out"] = left_out(y, subset, names, lambda fit, held, swap=swap: scores(
            x, y, subset, fit, held, 42, swap))
        name = "colouring swapped between subsets" if swap else "the product's training"
        result[name] = row
        print(name, json.dumps(row), flush=True)
    (RESULTS / "feature-swap.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
