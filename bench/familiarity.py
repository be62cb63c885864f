"""Unfamiliar recordings: does the distance of a recording's heart-cycle figures from the
training recordings' tell a recording from a device or site the model never heard?

    .venv/bin/python bench/familiarity.py add      # keep the limit in the bundled default
    .venv/bin/python bench/familiarity.py measure  # bench/results/familiarity.json

``add`` measures the bundled default's feature expert's own training recordings (the split its
file records) and writes the limit (the 99th percentile of their distances) into the file's
metadata; nothing else in the file changes, and its version gains "+familiarity".

``measure`` scores, with that file: the validation split (its figures and how many it calls
unfamiliar), CirCor's development recordings and the shared samples of PASCAL, Yaseen and
CirCor (other devices); then, for each PhysioNet subset left out, the limit fitted on the
other five subsets' training recordings (standardised as the expert standardises) and the
share of the left-out subset beyond it. Only the figures are needed for that, no network.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data"
DEFAULT = REPO / "resources" / "models" / "audiofuse-default.keras"
CACHE = REPO / "runs" / "fx-bench"
RESULTS = REPO / "bench" / "results" / "familiarity.json"


def development_records():
    from audiofuse_core.datasets import scan_physionet

    return [r for d in sorted((DATA / "physionet2016-dev").glob("training-*"))
            for r in scan_physionet(d, probe=False).records]


def add() -> int:
    from audiofuse_core.feature_expert import familiarity_reference, record_features
    from audiofuse_core.models import load_model, save_model

    model = load_model(DEFAULT)
    spec = dict(model.metadata["feature_expert"])
    by_name = {r.name: r for r in development_records()}
    train = [by_name[n] for n in sorted(model.metadata["split"]["training_records"])]
    x = record_features(train, spec["feature_set"], cache_dir=CACHE)
    spec["familiarity"] = familiarity_reference(model.feature_expert, x)
    meta = dict(model.metadata)
    meta["feature_expert"] = spec
    if "+familiarity" not in str(meta.get("version")):
        meta["version"] = f"{meta.get('version')}+familiarity"
    model.metadata = meta
    save_model(model, DEFAULT)
    print(json.dumps(spec["familiarity"], indent=1))
    return 0


def _scored(classifier, records, where: str) -> dict:
    """The classifier on ``records``: distances, answers, and the figures of the familiar and
    the unfamiliar ones apart.
    """
    from audiofuse_core.errors import AudioFuseError
    from audiofuse_core.metrics import roc_auc

    rows = []
    for record in records:
        try:
            p = classifier.predict_file(record.path)
        except AudioFuseError as exc:
            print(f"  {record.name}: {exc}", flush=True)
            continue
        found = p.extra["familiarity"]
        rows.append((record.label, p.probability, found["distance"], found["unfamiliar"],
                     p.label == "poor-quality", record.subset))
    y = np.array([r[0] for r in rows])
    prob = np.array([r[1] for r in rows])
    far = np.array([r[3] for r in rows], dtype=bool)
    refused = np.array([r[4] for r in rows], dtype=bool)
    out = {"n": len(rows), "abnormal": int(y.sum()), "unfamiliar": int(far.sum()),
           "unfamiliar_share": round(float(far.mean()), 3) if len(rows) else None,
           "unfamiliar_among_accepted": int((far & ~refused).sum()),
           "median_distance": round(float(np.median([r[2] for r in rows])), 3)}

    def auc(mask):
        labels = y[mask]
        return (round(float(roc_auc(labels, prob[mask])), 3)
                if 0 < labels.sum() < len(labels) else None)

    out["roc_auc_all"], out["roc_auc_familiar"], out["roc_auc_unfamiliar"] = (
        auc(np.ones(len(y), bool)), auc(~far), auc(far))
    subsets = sorted({r[5] for r in rows})
    if len(subsets) > 1:
        out["unfamiliar_by_subset"] = {
            s: f"{int(far[[r[5] == s for r in rows]].sum())} of {sum(r[5] == s for r in rows)}"
            for s in subsets}
    print(where, json.dumps(out), flush=True)
    return out


def measure() -> int:
    from audiofuse_core.datasets import scan
    from audiofuse_core.feature_expert import (
        FAMILIAR_QUANTILE,
        fit_expert,
        record_features,
    )
    from audiofuse_core.inference import Classifier

    classifier = Classifier(DEFAULT)
    spec = classifier.metadata["feature_expert"]
    if not spec.get("familiarity"):
        print("the bundled default keeps no familiarity limit: run `familiarity.py add` first")
        return 1
    results = {"model": classifier.version, "limit": spec["familiarity"]}
    records = development_records()
    val_names = set(classifier.metadata["split"]["validation_records"])
    results["validation"] = _scored(classifier, [r for r in records if r.name in val_names],
                                    "validation")
    results["circor2022-dev"] = _scored(classifier, scan(DATA / "circor2022-dev").records,
                                        "circor2022-dev")
    results["samples/pascal_chsc2011"] = _scored(
        classifier, scan(DATA / "samples" / "pascal_chsc2011").records, "samples/pascal_chsc2011")
    for name in ("yaseen2018", "circor2022"):  # their samples' labels are not in class folders
        found = {}
        for path in sorted((DATA / "samples" / name).rglob("*.wav")):
            p = classifier.predict_file(path)
            found[path.name] = {"distance": round(p.extra["familiarity"]["distance"], 3),
                                "unfamiliar": p.extra["familiarity"]["unfamiliar"],
                                "label": p.label}
        results[f"samples/{name}"] = found
        print(f"samples/{name}", json.dumps(found), flush=True)

    # each subset left out: the limit from the other five subsets' training recordings
    x = record_features(records, spec["feature_set"], cache_dir=CACHE)
    y = np.array([r.label for r in records])
    subset = np.array([r.subset for r in records])
    train = np.array([r.name not in val_names for r in records])
    left_out = {}
    for letter in "abef":
        held = subset == f"training-{letter}"
        fit = train & ~held
        # one member, few epochs: only the standardisation (fill, centre, scale) is used
        expert = fit_expert(x[fit], y[fit], subset[fit], seed=42, epochs=1)
        distance = expert.numpy_distance()
        limit = float(np.quantile(distance(x[fit]), FAMILIAR_QUANTILE))
        d = distance(x[held])
        left_out[f"training-{letter}"] = {
            "n": int(held.sum()), "limit": round(limit, 3),
            "median_distance": round(float(np.median(d)), 3),
            "unfamiliar_share": round(float(np.mean(d > limit)), 3),
            "own_validation_share": round(float(np.mean(
                distance(x[~train & ~held]) > limit)), 3)}
        print(f"left out {letter}", json.dumps(left_out[f"training-{letter}"]), flush=True)
    results["left_out"] = left_out
    RESULTS.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    commands = {"add": add, "measure": measure}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__)
        sys.exit(2)
    sys.exit(commands[sys.argv[1]]())
