"""Does the sound repeat with the heart? Cycle-synchronous figures for the feature expert.

A murmur comes back in every heart cycle at the same place; a rub of the chest piece, a voice or
the room's noise does not. For each of the profile's 4 bands (25-100, 100-250, 250-400,
400-800 Hz) the band's log energy, cycle by cycle (resampled from S1 to S2 and S2 to the next S1
as audiofuse_core.cycle_features.cycle_profile does), is split into the part the median cycle
explains and the rest. Candidate figures, all free of a constant gain per band (a log energy's
variance does not see one):

* ``sync``: per band and half cycle (systole side, diastole side), the share of the band's
  variance over those frames that the median cycle explains (1: every cycle the same; 0: no
  repeating shape), 8 figures;
* ``sync+spread``: the same and the rest's own size (the standard deviation of the deviations
  from the median cycle), 16 figures.

Scored as bench/cycle_profile.py scores its sets: five-fold cross-validation on the training
split (the figure a choice would be made on: mean within-subset ROC-AUC of a, b, e, f), then
validation (expert alone and averaged with the seed-42 network), CirCor zero-shot and the
subsets left out, for the record. Also: the product's expert as an ensemble of five seeds whose
logits are averaged (what a model file would do) against the mean of their probabilities.

    .venv/bin/python bench/cycle_sync.py            # the candidate figures
    .venv/bin/python bench/cycle_sync.py --members  # the expert as five seeds in one layer
    .venv/bin/python bench/cycle_sync.py --gate-cycles  # its figures on the gate's cycles

Results: bench/results/cycle-sync.json.
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


def sync_figures(path: str) -> np.ndarray:
    from audiofuse_core.audio import load_audio
    from audiofuse_core.cycle_features import (
        PROFILE_GROUPS,
        RATE,
        band_log_energy,
        cycle_shapes,
        prepare,
    )
    from audiofuse_core.heartcycle import segment

    missing = np.full(4 * len(PROFILE_GROUPS), np.nan)
    x = prepare(load_audio(path, sample_rate=RATE).samples, RATE)
    cycles = segment(x, RATE)
    if cycles.heart_rate_bpm is None or cycles.cycle_count < 3:
        return missing
    shapes = cycle_shapes(band_log_energy(x), cycles)  # [cycles, bands, 16]
    if shapes is None:
        return missing
    median = np.median(shapes, axis=0)
    out_share, out_spread = [], []
    for half in (slice(0, 8), slice(8, 16)):
        part = shapes[:, :, half]
        total = part.var(axis=(0, 2))
        rest = (part - median[None, :, half]).var(axis=(0, 2))
        out_share.append(1.0 - rest / (total + 1e-9))
        out_spread.append(np.sqrt(rest))
    return np.concatenate([*out_share, *out_spread])


def gate_figures(path: str) -> np.ndarray:
    """The product's figures (cycle+mel+profile/1) measured on the heart cycles the quality gate
    finds in the recording as given (audiofuse_core.quality.analyse_recording, the cycles the
    app shows) instead of on a second segmentation of the band-passed recording.
    """
    from audiofuse_core.audio import load_audio
    from audiofuse_core.cycle_features import RATE, recording_features
    from audiofuse_core.quality import analyse_recording

    samples = load_audio(path, sample_rate=RATE).samples
    cycles = analyse_recording(samples, RATE)[1]
    return recording_features(np.asarray(samples, dtype=np.float64), RATE, cycles, profile=True)


def load_sync(records, cache: Path) -> np.ndarray:
    from cycle_profile import cached_figures

    return cached_figures(records, cache, sync_figures, "sync")


def members(d, x, seeds=(42, 43, 44, 45, 46)) -> dict:
    """The product's expert as five seeds whose logits are averaged (fit_expert(members=5)):
    five-fold CV on the training split (against the mean of their probabilities, and against
    fewer members), then the subsets left out, averaged with the networks left without them.
    """
    from cycle_profile import folds
    from feature_expert import left_out

    from audiofuse_core.feature_expert import fit_expert
    from audiofuse_core.metrics import roc_auc

    y, subset, train, names = d.y, d.subset, d.train, d.names
    tr = np.flatnonzero(train)
    fold = folds(y[tr], subset[tr])
    logits = np.zeros((len(seeds), len(tr)))
    for k in range(5):
        fit, test = tr[fold != k], tr[fold == k]
        for i, seed in enumerate(seeds):
            logits[i, fold == k] = fit_expert(x[fit], y[fit], subset[fit],
                                              seed=seed).numpy_forward()(x[test])

    def row(p):
        within = {c: round(roc_auc(y[tr][subset[tr] == f"training-{c}"],
                                   p[subset[tr] == f"training-{c}"]), 3) for c in "abef"}
        return {"overall": round(roc_auc(y[tr], p), 3), **within,
                "mean within": round(float(np.mean(list(within.values()))), 3)}

    rows = {"cv: one seed (42)": row(logits[0]),
            "cv: mean logit of five": row(logits.mean(axis=0)),
            "cv: mean probability of five": row((1.0 / (1.0 + np.exp(-logits))).mean(axis=0))}
    for n in (2, 3):
        rows[f"cv: mean logit of the first {n}"] = row(logits[:n].mean(axis=0))
    def five(fit, held):
        expert = fit_expert(x[fit], y[fit], subset[fit], seed=seeds[0], members=len(seeds))
        return 1.0 / (1.0 + np.exp(-expert.numpy_forward()(x[held])))

    rows["left out, five members"] = left_out(y, subset, names, five)
    print(json.dumps(rows), flush=True)
    return rows


def main() -> int:
    from cycle_profile import folds
    from feature_expert import (
        development_data,
        expert_scores,
        seed_network,
        unseen_rows,
        within_row,
    )

    from audiofuse_core.feature_expert import record_features

    d = development_data()
    y, subset, names, train = d.y, d.subset, d.names, d.train
    val = ~train
    x = record_features(d.records, "cycle+mel+profile/1", cache_dir=REPO / "runs" / "fx-bench")
    out = RESULTS / "cycle-sync.json"
    result = json.loads(out.read_text()) if out.is_file() else {}
    cx = record_features(d.circor, "cycle+mel+profile/1", cache_dir=REPO / "runs" / "fx-bench")
    if "--members" in sys.argv[1:]:
        result["five expert seeds in one layer (cycle+mel+profile/1)"] = members(d, x)
        out.write_text(json.dumps(result, indent=1))
        return 0
    if "--gate-cycles" in sys.argv[1:]:  # the same figures on the quality gate's cycles
        from cycle_profile import cached_figures

        sets = {"product (cycle+mel+profile/1)": (x, cx),
                "cycle+mel+profile/2 (the quality gate's heart cycles)": tuple(
                    cached_figures(r, REPO / "runs" / f"gate-cycles-{where}.npz", gate_figures,
                                   "figures")
                    for r, where in ((d.records, "dev"), (d.circor, "circor")))}
    else:
        sync = load_sync(d.records, REPO / "runs" / "cycle-sync.npz")
        c_sync = load_sync(d.circor, REPO / "runs" / "cycle-sync-circor.npz")
        sets = {"product (cycle+mel+profile/1)": (x, cx),
                "+ sync": (np.hstack([x, sync[:, :8]]), np.hstack([cx, c_sync[:, :8]])),
                "+ sync + spread": (np.hstack([x, sync]), np.hstack([cx, c_sync]))}

    def network(where, wanted):
        return seed_network(d, where, wanted)

    within = within_row

    tr = np.flatnonzero(train)
    fold = folds(y[tr], subset[tr])
    net_val = network("validation", names[val])
    net_circor = network("circor", d.circor_names)
    for name, (xs, cs) in sets.items():
        row = {}
        for seed in (42, 43):
            cv = np.zeros(len(tr))
            for k in range(5):
                inner_train, inner_test = np.zeros(len(y), bool), np.zeros(len(y), bool)
                inner_train[tr[fold != k]] = True
                inner_test[tr[fold == k]] = True
                cv[fold == k] = expert_scores(xs, y, subset, inner_train, inner_test, seed)
            row[f"cv on training split s{seed}"] = within(y[tr], subset[tr], cv, mcc=False)
        row["cv mean within, two seeds"] = round(float(np.mean(
            [row[f"cv on training split s{s}"]["mean within"] for s in (42, 43)])), 3)
        expert = expert_scores(xs, y, subset, train, val, 42)
        row["validation s42: expert"] = within(y[val], subset[val], expert)
        row["validation s42: mean"] = within(y[val], subset[val], 0.5 * expert + 0.5 * net_val)
        row.update(unseen_rows(xs, train, y, subset, names, cs, d.c_y, net_circor))
        result[name] = row
        print(name, json.dumps(row), flush=True)
        out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
