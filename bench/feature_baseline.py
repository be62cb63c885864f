"""A reference point for the neural models: logistic regression on hand-made spectral features.

Trains on the training recordings of a model's split (read from its metadata) and scores the
validation recordings, overall and within each subset, two ways: one classifier pooled over all
subsets (with classes balanced within each subset, as our training does) and one classifier per
subset. If the pooled classifier is much worse within a subset than the per-subset one, pooling
the devices hurts; if both beat the network, the network under-learns.

    .venv/bin/pip install -e '.[bench]'      # scikit-learn, for this script only
    .venv/bin/python bench/feature_baseline.py resources/models/audiofuse-default.keras
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV = REPO.parent / "shared" / "data" / "physionet2016-dev"


def features(path: Path) -> np.ndarray:
    from audiofuse_core.audio import load_audio
    from audiofuse_core.cycle_features import RATE, spectral_summary

    return spectral_summary(load_audio(path, sample_rate=RATE).samples, RATE)


def main() -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from audiofuse_core.datasets import scan_physionet
    from audiofuse_core.modelfile import read_model_metadata

    parser = argparse.ArgumentParser()
    parser.add_argument("model", help="model whose split to use")
    parser.add_argument("--features", choices=("all", "level-free"), default="all",
                        help="level-free: drop each band's mean level (the part a stethoscope's "
                             "frequency response shifts), keep its variation over time")
    parser.add_argument("--cache", default=str(REPO / "bench" / "results" / "features.npz"))
    args = parser.parse_args()
    split = read_model_metadata(args.model)["split"]
    train_names = set(split["training_records"])
    records = [r for d in sorted(DEV.glob("training-*")) for r in scan_physionet(d, probe=False).records]
    cache = Path(args.cache)
    if cache.is_file():
        feats = np.load(cache)["features"]
    else:
        feats = np.stack([features(r.path) for r in records])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, features=feats)
    if args.features == "level-free":
        feats = feats[:, 32:]
    y = np.array([r.label for r in records])
    subset = np.array([r.subset for r in records])
    train = np.array([r.name in train_names for r in records])

    weights = np.ones(len(y))
    for s in np.unique(subset):
        for c in (0, 1):
            m = train & (subset == s) & (y == c)
            if m.any():
                weights[m] = 0.5 * (train & (subset == s)).sum() / m.sum()

    def fit(mask, w=None):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
        clf.fit(feats[mask], y[mask], logisticregression__sample_weight=w)
        return clf

    pooled = fit(train, weights[train])
    p_pooled = pooled.predict_proba(feats)[:, 1]
    result = {"overall_pooled": roc_auc_score(y[~train], p_pooled[~train])}
    for s in np.unique(subset):
        val = ~train & (subset == s)
        if len(np.unique(y[val])) < 2 or val.sum() < 10:
            continue
        own = fit(train & (subset == s))
        result[s] = {"n": int(val.sum()),
                     "pooled": roc_auc_score(y[val], p_pooled[val]),
                     "per_subset": roc_auc_score(y[val], own.predict_proba(feats[val])[:, 1])}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
