"""How optimistic are the default's validation figures because its calibrations were fitted on
the recordings they are scored on?

The bundled default's probability is made in four fitted steps, all on the 433 validation
recordings: a temperature for each expert network (ViT, CNN), one more for their mean (the
network), one for the feature expert, then one Platt scaling of the half-and-half mean. Each step
is monotone by itself, but the temperatures weigh the two networks against each other and the
network against the feature expert, so they move the ranking, and so ROC-AUC, a little.
docs/results.md measured the last step and the threshold out of fold; this measures the whole
chain: the validation recordings are cut into five folds (stratified by subset and label, as
bench/threshold_out_of_fold.py), every step is fitted on four and applied to the fifth, the five
held-out parts are pooled, twenty cuttings averaged. The networks' weights and the ViT's
early-stopping epoch (also chosen on these recordings) stay as they are: not measured here.

The scores are the product's own: the experts' window logits on the windows the training's
validation uses (up to 24 per recording, evenly spaced), the feature expert's logits on the
whole recording's figures. Checked first: the chain refitted on all 433 recordings gives the
model card's ROC-AUC.

    .venv/bin/python bench/calibration_chain_out_of_fold.py runs/default-e24-s4[234].keras

Window logits cached in runs/chain-logits-NAME.npz; results:
bench/results/calibration-chain-out-of-fold.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
DEV = REPO.parent / "shared" / "data" / "physionet2016-dev"
RESULTS = REPO / "bench" / "results"
REPEATS = 20
GRID = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))  # as training.fit_temperature


def logits(model_path: Path) -> dict:
    """Each expert's window logits (padded: records x windows, NaN where none), the feature
    expert's logits, labels and subsets of the model's validation recordings (cached).
    """
    cache = REPO / "runs" / f"chain-logits-{model_path.stem}.npz"
    if cache.is_file():
        return dict(np.load(cache, allow_pickle=False))
    from audiofuse_core.datasets import scan_physionet
    from audiofuse_core.feature_expert import record_features
    from audiofuse_core.models import load_model
    from audiofuse_core.training import _validation_windows, load_signals

    model = load_model(model_path)
    wanted = set(model.metadata["split"]["validation_records"])
    records = sorted((r for d in sorted(DEV.glob("training-*"))
                      for r in scan_physionet(d, probe=False).records if r.name in wanted),
                     key=lambda r: r.name)
    data = load_signals(records, model.preset, cache_dir=REPO / ".cache")
    assert len(data.records) == len(records), "validation recordings could not be read"
    windows, owner = _validation_windows(data.signals, model.preset, 24)
    out = {"label": np.array([r.label for r in records]),
           "subset": np.array([r.subset for r in records]),
           "member_temperatures": np.array(model.member_temperatures, dtype=np.float64),
           "member_weights": np.array(model.member_weights, dtype=np.float64)}
    width = int(np.bincount(owner).max())
    for k, member in enumerate(model.members):
        flat = np.concatenate([np.asarray(member(windows[i:i + 64], training=False))[:, 0]
                               for i in range(0, len(windows), 64)])
        padded = np.full((len(records), width), np.nan)
        for i in range(len(records)):
            mine = flat[owner == i]
            padded[i, :len(mine)] = mine
        out[f"member{k}"] = padded
    spec = model.metadata["feature_expert"]
    x = record_features(records, spec["feature_set"], cache_dir=REPO / "runs" / "fx-bench")
    out["feature"] = model.feature_expert.numpy_forward()(x).astype(np.float64)
    out["feature_temperature"] = np.array(spec["temperature"])
    out["network_temperature"] = np.array(model.metadata["temperature"])
    out["card_roc_auc"] = np.array(model.metadata["validation"]["overall"]["roc_auc"])
    out["weight"] = np.array(spec["weight"])
    np.savez(cache, **out)
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def fit_t(y: np.ndarray, window_logits: np.ndarray) -> float:
    """training.fit_temperature on a padded array (NaN: no window), vectorised over the grid."""
    p = np.nanmean(sigmoid(window_logits[None, :, :] / GRID[:, None, None]), axis=2)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    nll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=1)
    return float(GRID[int(np.argmin(nll))])


class Chain:
    """The default's four steps, fitted on the recordings ``fit`` (a boolean mask)."""

    def __init__(self, d: dict, fit: np.ndarray) -> None:
        from audiofuse_core.metrics import fit_platt

        y = d["label"][fit].astype(np.float64)
        self.t_members = [fit_t(y, d[f"member{k}"][fit])
                          for k in range(len(d["member_weights"]))]
        self.t_network = fit_t(y, self._mean_logit(d)[fit])
        self.t_feature = fit_t(y, d["feature"][fit][:, None])
        self.platt = fit_platt(y, self._mean(d)[fit])

    def _mean_logit(self, d: dict) -> np.ndarray:
        p = sum(w * sigmoid(d[f"member{k}"] / t)
                for k, (w, t) in enumerate(zip(d["member_weights"], self.t_members)))
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return np.log(p) - np.log(1 - p)

    def _mean(self, d: dict) -> np.ndarray:
        network = np.nanmean(sigmoid(self._mean_logit(d) / self.t_network), axis=1)
        feature = sigmoid(d["feature"] / self.t_feature)
        w = float(d["weight"])
        return (1 - w) * network + w * feature

    def __call__(self, d: dict) -> np.ndarray:
        from audiofuse_core.metrics import platt

        slope, intercept = self.platt
        mean = self._mean(d)
        return platt(mean, slope, intercept) if slope > 0 else mean


def figures(y: np.ndarray, p: np.ndarray, subset: np.ndarray) -> dict:
    from audiofuse_core.metrics import roc_auc

    out = {"roc_auc": roc_auc(y, p)}
    for s in ("training-a", "training-b", "training-e", "training-f"):
        out[s] = roc_auc(y[subset == s], p[subset == s])
    return out


def main() -> int:
    from threshold_out_of_fold import five_folds

    from audiofuse_core.metrics import best_threshold, binary_metrics

    out_path = RESULTS / "calibration-chain-out-of-fold.json"
    result = json.loads(out_path.read_text()) if out_path.is_file() else {}
    for path in map(Path, sys.argv[1:]):
        d = logits(path)
        y, subset = d["label"], d["subset"]
        everything = np.ones(len(y), bool)
        chain = Chain(d, everything)
        in_fold = chain(d)
        at = best_threshold(y, in_fold)
        row = {"in fold": {**figures(y, in_fold, subset),
                           "mcc": binary_metrics(y, in_fold, at, bootstrap=0).mcc},
               "card roc_auc": float(d["card_roc_auc"]),
               "temperatures in fold": {"members": chain.t_members,
                                        "network": chain.t_network,
                                        "feature": chain.t_feature},
               "temperatures stored": {"members": d["member_temperatures"].tolist(),
                                       "network": float(d["network_temperature"]),
                                       "feature": float(d["feature_temperature"])}}
        held = []
        for seed in range(REPEATS):
            fold = five_folds(y, subset, seed)
            p = np.zeros(len(y))
            decided = np.zeros(len(y))
            for k in range(5):
                step = Chain(d, fold != k)
                scored = step(d)
                p[fold == k] = scored[fold == k]
                decided[fold == k] = scored[fold == k] >= best_threshold(y[fold != k],
                                                                         scored[fold != k])
            held.append({**figures(y, p, subset),
                         "mcc": binary_metrics(y, decided, 0.5, bootstrap=0).mcc})
        row[f"out of fold (mean of {REPEATS} cuttings)"] = {
            k: float(np.mean([h[k] for h in held])) for k in held[0]}
        row["out of fold, spread over cuttings (sd)"] = {
            k: float(np.std([h[k] for h in held])) for k in held[0]}
        result[path.stem] = row
        print(path.stem, json.dumps(row, default=float), flush=True)
    out_path.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
