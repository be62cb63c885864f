"""The feature expert (audiofuse_core.feature_expert) beside the network: three expert seeds, two
weights, two feature sets, with and without augmented copies; in-domain, on CirCor 2022 and on
PhysioNet subsets left out of training.

The expert is trained here exactly as ``audiofuse add-feature-expert`` trains it
(``fit_expert``, the product's own code), on the figures bench/cycle_features.py caches in
runs/. The network's probabilities are the bundled recipe's (the mean of the two experts of
each seed) read from bench/results/seed-ensemble-scores.json (in-domain, CirCor) and
bench/results/loso-mean-*.json (networks trained without one subset): the network is seed 42's
throughout, so the three seeds here measure the expert's own spread. (The whole recipe's three
seeds, networks retrained, are the model files runs/default-sN.keras: docs/results.md.)

    .venv/bin/python bench/cycle_features.py          # once: the cached figures (scikit-learn)
    .venv/bin/python bench/feature_expert.py [--augmented]

``--augmented`` also trains on two copies of every training recording degraded as training
augments windows (audiofuse_core.augment: device response, noise, speed...), figures computed
again on them (about 4 minutes on 2 cores, cached). Results: bench/results/feature-expert.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
DEV = REPO.parent / "shared" / "data" / "physionet2016-dev"
RESULTS = REPO / "bench" / "results"
SEEDS = (42, 43, 44)
WEIGHTS = (0.5, 0.3)


def feature_sets(cycle: np.ndarray, mel: np.ndarray) -> dict[str, np.ndarray]:
    from audiofuse_core.cycle_features import N_MELS

    return {"cycle+mel/1": np.hstack([cycle, mel]),
            "cycle+mel-dynamics/1": np.hstack([cycle, mel[:, N_MELS:]])}


def augmented_figures(records, copy: int) -> tuple[np.ndarray, np.ndarray]:
    """The figures of every recording after one random degradation (seeded by copy and index)."""
    cache = REPO / "runs" / f"cycle-features-aug{copy}.npz"
    names = [r.name for r in records]
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if list(stored["names"]) == names:
            return stored["cycle"], stored["mel"]
    from multiprocessing import Pool

    with Pool(2) as pool:
        out = pool.map(_augmented_one, [(str(r.path), 1000 * copy + i)
                                        for i, r in enumerate(records)], chunksize=8)
    cycle, mel = np.stack([o[0] for o in out]), np.stack([o[1] for o in out])
    np.savez(cache, names=np.array(names), cycle=cycle, mel=mel)
    return cycle, mel


def _augmented_one(item):
    from audiofuse_core.audio import load_audio
    from audiofuse_core.augment import augment_window
    from audiofuse_core.cycle_features import RATE, cycle_features, spectral_summary

    path, seed = item
    x = load_audio(path, sample_rate=RATE).samples
    y = augment_window(x, 0, len(x), RATE, np.random.default_rng(seed))
    return cycle_features(y, RATE), spectral_summary(y, RATE)


def expert_scores(x, y, subset, train, test, seed, extra=()) -> np.ndarray:
    """The product's expert, trained on ``train`` (plus augmented copies of those rows),
    calibrated as the product does only where it matters (ROC-AUC ignores it): raw sigmoid.
    """
    from audiofuse_core.feature_expert import fit_expert

    rows = [x[train], *[e[train] for e in extra]]
    reps = 1 + len(extra)
    expert = fit_expert(np.vstack(rows), np.tile(y[train], reps), np.tile(subset[train], reps),
                        seed=seed)
    return 1.0 / (1.0 + np.exp(-expert.numpy_forward()(x[test])))


def circor_row(x_train, y_train, subset_train, c_x, c_y, network, seed: int = 42) -> dict:
    """The expert trained on the given training rows and scored zero-shot on CirCor's figures
    ``c_x``: its ROC-AUC alone and averaged with the ``network``'s probabilities there.
    """
    from audiofuse_core.metrics import roc_auc

    both = np.vstack([x_train, c_x])
    is_train = np.arange(len(both)) < len(x_train)
    expert = expert_scores(both, np.concatenate([y_train, c_y]),
                           np.concatenate([subset_train, ["circor"] * len(c_y)]),
                           is_train, ~is_train, seed)
    return {"expert": round(roc_auc(c_y, expert), 3),
            "mean": round(roc_auc(c_y, 0.5 * expert + 0.5 * network), 3)}


def unseen_rows(x, train, y, subset, names, c_x, c_y, network_circor) -> dict:
    """The product's expert (seed 42) on devices it never heard: CirCor zero-shot
    (:func:`circor_row`) and each PhysioNet subset left out (:func:`left_out`).
    """
    return {"circor": circor_row(x[train], y[train], subset[train], c_x, c_y, network_circor),
            "left out": left_out(y, subset, names, lambda fit, held: expert_scores(
                x, y, subset, fit, held, 42))}


def seed_network(d, where: str, wanted, seed: int = 42) -> np.ndarray:
    """The bundled recipe's network of ``seed`` (the mean of its two experts' probabilities,
    bench/results/seed-ensemble-scores.json) for the recordings ``wanted`` at ``where``
    ("validation" or "circor"); ``d`` is :func:`development_data`'s.
    """
    experts = [dict(zip(d.scores[f"{kind}-s{seed}@{where}"]["names"],
                        d.scores[f"{kind}-s{seed}@{where}"]["probabilities"]))
               for kind in ("spectrogram", "waveform")]
    return np.array([0.5 * (experts[0][n] + experts[1][n]) for n in wanted])


def within_row(y, subset, p, mcc: bool = True) -> dict:
    """ROC-AUC overall (and MCC at Youden's threshold), within training-a, -b, -e, -f and their
    mean.
    """
    from audiofuse_core.metrics import best_threshold, binary_metrics, roc_auc

    row = {"overall": round(roc_auc(y, p), 3)}
    if mcc:
        row["mcc"] = round(binary_metrics(y, p, best_threshold(y, p), seed=0).mcc, 3)
    for letter in "abef":
        k = subset == f"training-{letter}"
        row[letter] = round(roc_auc(y[k], p[k]), 3)
    row["mean within"] = round(float(np.mean([row[c] for c in "abef"])), 3)
    return row


def left_out_network(letter: str, names) -> np.ndarray | None:
    """The mean-of-experts network trained without training-``letter`` (bench/robustness.py
    loso-mean): its probabilities for the recordings ``names``; None when it was not made.
    """
    path = RESULTS / f"loso-mean-{letter}.json"
    if not path.is_file():
        return None
    network = {Path(r["path"]).stem: r["probability"]
               for r in json.loads(path.read_text())["recordings"]}
    return np.array([network[n] for n in names])


def left_out(y, subset, names, score) -> dict:
    """Each of training-a, -b, -e, -f left out: ``score(fit, held)`` (boolean masks) gives the
    expert's probabilities on the held recordings when trained on the rest; its ROC-AUC alone
    and averaged with the network left out the same way.
    """
    from audiofuse_core.metrics import roc_auc

    rows = {}
    for letter in "abef":
        held = subset == f"training-{letter}"
        expert = score(~held, held)
        rows[letter] = {"expert": round(roc_auc(y[held], expert), 3)}
        network = left_out_network(letter, names[held])
        if network is not None:
            rows[letter]["mean"] = round(roc_auc(y[held], 0.5 * network + 0.5 * expert), 3)
    return rows


def development_data() -> SimpleNamespace:
    """The development recordings (bundled split's training part marked), their cached base
    figures (bench/cycle_features.py), the seed networks' scores and the CirCor recordings they
    were scored on, with their figures.
    """
    from cycle_features import load

    from audiofuse_core.datasets import scan, scan_physionet
    from audiofuse_core.modelfile import read_model_metadata

    split = read_model_metadata(REPO / "resources/models/audiofuse-waveform.keras")["split"]
    train_names = set(split["training_records"])
    records = [r for d in sorted(DEV.glob("training-*"))
               for r in scan_physionet(d, probe=False).records]
    cycle, mel = load(records, REPO / "runs" / "cycle-features.npz")
    names = np.array([r.name for r in records])
    scores = json.loads((RESULTS / "seed-ensemble-scores.json").read_text())
    circor_names = scores["waveform-s42@circor"]["names"]
    by_name = {r.name: r for r in scan(DEV.parent / "circor2022-dev").records}
    circor = [by_name[n] for n in circor_names]
    c_cycle, c_mel = load(circor, REPO / "runs" / "cycle-features-circor.npz")
    return SimpleNamespace(
        records=records, cycle=cycle, mel=mel, names=names,
        y=np.array([r.label for r in records]), subset=np.array([r.subset for r in records]),
        train=np.array([n in train_names for n in names]), scores=scores,
        circor_names=circor_names, circor=circor, c_cycle=c_cycle, c_mel=c_mel,
        c_y=np.array([r.label for r in circor]))


def main() -> int:
    from audiofuse_core.metrics import best_threshold, binary_metrics, roc_auc

    parser = argparse.ArgumentParser()
    parser.add_argument("--augmented", action="store_true")
    args = parser.parse_args()
    d = development_data()
    records, cycle, mel, y, subset, names, train = (d.records, d.cycle, d.mel, d.y, d.subset,
                                                     d.names, d.train)
    val = ~train
    scores, circor_names, c_cycle, c_mel, c_y = (d.scores, d.circor_names, d.c_cycle, d.c_mel,
                                                 d.c_y)
    sets, c_sets = feature_sets(cycle, mel), feature_sets(c_cycle, c_mel)
    augmented = {}
    if args.augmented:
        copies = [augmented_figures(records, k) for k in (1, 2)]
        augmented = {name: [feature_sets(*c)[name] for c in copies] for name in sets}

    def within(scores_: np.ndarray) -> dict:
        m = binary_metrics(y[val], scores_, best_threshold(y[val], scores_), seed=0)
        row = {"overall": round(m.roc_auc, 3), "low": round(m.roc_auc_low, 3),
               "high": round(m.roc_auc_high, 3), "mcc": round(m.mcc, 3)}
        for letter in "abef":
            k = subset[val] == f"training-{letter}"
            row[letter] = round(roc_auc(y[val][k], scores_[k]), 3)
        return row

    def seed_network(seed: int, where: str, wanted) -> np.ndarray:
        experts = [dict(zip(scores[f"{kind}-s{seed}@{where}"]["names"],
                            scores[f"{kind}-s{seed}@{where}"]["probabilities"]))
                   for kind in ("spectrogram", "waveform")]
        return np.array([0.5 * (experts[0][n] + experts[1][n]) for n in wanted])

    result: dict = {"seeds": {}, "left_out": {}}
    variants = [(name, False) for name in sets] + [(name, True) for name in augmented]
    for name, with_augmented in variants:
        key = name + (" + augmented copies" if with_augmented else "")
        extra = augmented.get(name, []) if with_augmented else []
        for seed in SEEDS:
            if seed != 42 and (name != "cycle+mel/1" or with_augmented):
                continue  # three seeds for the product's recipe; seed 42 for the alternatives
            network_val = seed_network(42, "validation", names[val])
            network_circor = seed_network(42, "circor", circor_names)
            expert_val = expert_scores(sets[name], y, subset, train, val, seed, extra)
            both_x = np.vstack([sets[name][train], c_sets[name]])
            n_train = int(train.sum())
            both_y = np.concatenate([y[train], c_y])
            both_subset = np.concatenate([subset[train], ["circor"] * len(c_y)])
            is_train = np.arange(len(both_y)) < n_train
            expert_circor = expert_scores(
                both_x, both_y, both_subset, is_train, ~is_train, seed,
                [np.vstack([e[train], c_sets[name]]) for e in extra])
            row = {"network": {"in_domain": within(network_val),
                               "circor": round(roc_auc(c_y, network_circor), 3)},
                   "expert": {"in_domain": within(expert_val),
                              "circor": round(roc_auc(c_y, expert_circor), 3)}}
            for w in WEIGHTS:
                row[f"weight {w}"] = {
                    "in_domain": within((1 - w) * network_val + w * expert_val),
                    "circor": round(roc_auc(c_y, (1 - w) * network_circor
                                            + w * expert_circor), 3)}
            result["seeds"].setdefault(key, {})[str(seed)] = row
            print(key, seed, json.dumps(row), flush=True)
        lo = {}
        for letter in "abef":
            held = subset == f"training-{letter}"
            expert = expert_scores(sets[name], y, subset, ~held, held, 42,
                                   [e for e in extra])
            lo[f"training-{letter}"] = {"expert": round(roc_auc(y[held], expert), 3)}
            network = left_out_network(letter, names[held])
            if network is not None:
                lo[f"training-{letter}"]["network"] = round(roc_auc(y[held], network), 3)
                for w in WEIGHTS:
                    lo[f"training-{letter}"][f"weight {w}"] = round(
                        roc_auc(y[held], (1 - w) * network + w * expert), 3)
        result["left_out"][key] = lo
        print(key, "left out", json.dumps(lo), flush=True)
    out = RESULTS / "feature-expert.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
