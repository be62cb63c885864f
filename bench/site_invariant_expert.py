"""Two ways to keep the site out of the feature expert's heart-cycle figures, measured beside the
product's expert.

Every PhysioNet subset is one stethoscope and site, and the expert's figures carry it (the
average spectrum most, the phase contrasts and the cycle's shape less). Within training-a the
pooled expert is weaker than one trained on training-a alone would be (docs/results.md, "Within
each subset"): what "abnormal" looks like in the figures shifts from site to site. Two candidate
remedies, each applied to the figures before the product's own ``fit_expert`` trains on them:

* ``nuisance projection k``: the k directions along which the subsets' mean figures differ
  *within each class* (normal recordings of one site against normal of another, abnormal against
  abnormal: so the difference between the classes is kept) are removed from the standardised
  figures of every recording. A fixed linear map: it folds into the expert's first layer, so
  the model file and prediction would not change.
* ``site-standardised``: each recording's figures standardised with its own site's mean and
  spread: for a training site, those of the site's training recordings; for a new site
  (CirCor, a left-out subset), those of all its recordings, without their labels. This needs a
  site's reference recordings before the first prediction, which the product does not ask for;
  it is measured to know what such a step could be worth, not as a drop-in change.

Each is scored as the product's expert (five members, seeds S..S+4) three ways: five-fold
cross-validation on the training split (folds stratified by subset and label; the figure a
choice would be made on), the validation split (the expert alone, and mixed half and half with
the bundled recipe's network as the model file mixes them, its temperature fitted on validation
as ``add_feature_expert`` does; networks of seed 42 and of the seed-43 rerun, from
bench/results/window-pooling/), CirCor 2022 zero-shot (the same experts and networks), and each
of training-a, -b, -e, -f left out (the expert trained on the other subsets' recordings, mixed
half and half with the network trained without that subset, bench/results/loso-mean-e24-*.json).

    .venv/bin/python bench/site_invariant_expert.py [VARIANT ...]

Results: bench/results/site-invariant-expert.json (each run adds or replaces its variants).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"
OUT = RESULTS / "site-invariant-expert.json"
NETWORKS = {42: "s42", 43: "s43-rerun"}  # expert seed -> the whole recipe's stored network
VARIANTS = ("product", "nuisance projection 1", "nuisance projection 2",
            "nuisance projection 4", "site-standardised")


class SiteTransform:
    """Fitted on training figures; maps any figures (with their sites) to the expert's input."""

    def __init__(self, variant: str):
        self.variant = variant

    def fit(self, x: np.ndarray, y: np.ndarray, site: np.ndarray) -> SiteTransform:
        self.fill = np.nanmedian(x, axis=0)
        z = np.where(np.isnan(x), self.fill, x)
        self.centre, self.scale = z.mean(axis=0), z.std(axis=0) + 1e-6
        self.sites = {s: self._moments(z[site == s]) for s in np.unique(site)}
        self.basis = np.zeros((0, x.shape[1]))
        if self.variant.startswith("nuisance projection"):
            k = int(self.variant.rsplit(" ", 1)[1])
            zs = (z - self.centre) / self.scale
            gaps = []
            for label in (0, 1):
                means = np.array([zs[(site == s) & (y == label)].mean(axis=0)
                                  for s in np.unique(site)
                                  if ((site == s) & (y == label)).sum() >= 3])
                gaps.append(means - means.mean(axis=0))
            self.basis = np.linalg.svd(np.vstack(gaps), full_matrices=False)[2][:k]
        return self

    @staticmethod
    def _moments(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return z.mean(axis=0), z.std(axis=0) + 1e-6

    def __call__(self, x: np.ndarray, site: np.ndarray) -> np.ndarray:
        z = np.where(np.isnan(x), self.fill, x)
        if self.variant == "site-standardised":
            out = np.empty_like(z)
            for s in np.unique(site):
                rows = site == s
                mean, spread = self.sites.get(s) or self._moments(z[rows])
                out[rows] = (z[rows] - mean) / spread
            return out
        zs = (z - self.centre) / self.scale
        zs = zs - (zs @ self.basis.T) @ self.basis
        return self.centre + self.scale * zs


def expert_logits(variant, x, y, site, fit, test, seed) -> np.ndarray:
    """The product's five-member expert trained on the ``fit`` rows after the variant's map,
    its logits on the ``test`` rows.
    """
    from audiofuse_core.feature_expert import fit_expert

    transform = SiteTransform(variant).fit(x[fit], y[fit], site[fit])
    expert = fit_expert(transform(x[fit], site[fit]), y[fit], site[fit], seed=seed, members=5)
    return expert.numpy_forward()(transform(x[test], site[test]))


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def figures(y, site, p, mcc: bool = False) -> dict:
    """bench/feature_expert.py's within_row on the PhysioNet rows, and CirCor's ROC-AUC where
    there are CirCor rows.
    """
    from feature_expert import within_row

    from audiofuse_core.metrics import roc_auc

    physionet = site != "circor"
    row = within_row(y[physionet], site[physionet], p[physionet], mcc=mcc)
    if (~physionet).any():
        row["circor"] = round(roc_auc(y[~physionet], p[~physionet]), 3)
    return row


def data():
    from audiofuse_core.datasets import scan, scan_physionet
    from audiofuse_core.feature_expert import record_features
    from audiofuse_core.modelfile import read_model_metadata

    split = read_model_metadata(REPO / "resources/models/audiofuse-default.keras")["split"]
    records = sorted((r for d in sorted((SHARED / "physionet2016-dev").glob("training-*"))
                      for r in scan_physionet(d, probe=False).records), key=lambda r: r.name)
    stored = np.load(RESULTS / "window-pooling" / "s42.npz")
    circor_names = [n for n, s in zip(stored["name"], stored["subset"]) if s == "circor"]
    by_name = {r.name: r for r in scan(SHARED / "circor2022-dev", probe=False).records}
    circor = [by_name[n] for n in circor_names]
    cache = REPO / "runs" / "fx-bench"
    x = np.vstack([record_features(records, cache_dir=cache),
                   record_features(circor, cache_dir=cache)])
    names = np.array([r.name for r in records] + circor_names)
    y = np.array([r.label for r in records] + [r.label for r in circor])
    site = np.array([r.subset for r in records] + ["circor"] * len(circor))
    train = np.isin(names, split["training_records"])
    val = np.isin(names, split["validation_records"])
    return x, y, site, names, train, val


def network(tag: str, names: np.ndarray) -> np.ndarray:
    stored = np.load(RESULTS / "window-pooling" / f"{tag}.npz")
    by_name = dict(zip(stored["name"], stored["network"]))
    return np.array([by_name[n] for n in names])


def score_variant(variant, x, y, site, names, train, val) -> dict:
    from cycle_profile import folds
    from feature_expert import left_out_network

    from audiofuse_core.metrics import roc_auc
    from audiofuse_core.training import fit_temperature

    row: dict = {}
    tr = np.flatnonzero(train)
    fold = folds(y[tr], site[tr])
    cv = np.zeros(len(tr))
    for k in range(5):
        fit = np.zeros(len(y), bool)
        fit[tr[fold != k]] = True
        test = np.zeros(len(y), bool)
        test[tr[fold == k]] = True
        cv[fold == k] = expert_logits(variant, x, y, site, fit, test, 42)
    row["cv on the training split (expert)"] = figures(y[tr], site[tr], cv)
    circor = site == "circor"
    scored = val | circor
    for seed, tag in NETWORKS.items():
        logits = expert_logits(variant, x, y, site, train, scored, seed)
        on_val = val[scored]
        temperature = fit_temperature(y[val], [np.array([v]) for v in logits[on_val]])
        p = sigmoid(logits / temperature)
        row[f"seed {seed}: expert"] = figures(y[scored], site[scored], p, mcc=True)
        row[f"seed {seed}: with the network ({tag})"] = figures(
            y[scored], site[scored], 0.5 * network(tag, names[scored]) + 0.5 * p, mcc=True)
    left = {}
    for letter in "abef":
        held = site == f"training-{letter}"
        fit = ~held & ~circor
        p = sigmoid(expert_logits(variant, x, y, site, fit, held, 42))
        left[letter] = {"expert": round(roc_auc(y[held], p), 3),
                        "with the network": round(roc_auc(
                            y[held], 0.5 * left_out_network(f"e24-{letter}", names[held]) + 0.5 * p), 3)}
    row["left out (seed 42)"] = left
    return row


def main() -> int:
    wanted = sys.argv[1:] or list(VARIANTS)
    unknown = sorted(set(wanted) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {VARIANTS}")
    x, y, site, names, train, val = data()
    result = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for variant in wanted:
        result[variant] = score_variant(variant, x, y, site, names, train, val)
        print(variant, json.dumps(result[variant]), flush=True)
        OUT.write_text(json.dumps(result, indent=1))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
