"""How the network's window opinions are pooled into the recording's: the plain mean (the
default), a mean weighted by how clean each window is, or the median. An inference-side change:
no network is trained again, so it can be judged on every seed whose networks are at hand.

    .venv/bin/python bench/window_pooling.py collect MODEL TAG   # every window's probability
    .venv/bin/python bench/window_pooling.py report TAG [TAG...]  # the variants, seed by seed
    .venv/bin/python bench/window_pooling.py ensemble TAG TAG...  # whole recipes averaged

``collect`` runs the Classifier (quality gate off: only the probabilities are used) on the
model's 433 validation recordings and the 85 CirCor recordings ``evaluate`` scores, and keeps
each recording's window probabilities, window starts, the quality module's noisy seconds
(:func:`audiofuse_core.quality.noisy_seconds`, at 2000 Hz), the network's and the feature
expert's probabilities, in ``bench/results/window-pooling/TAG.npz`` (a few hundred kB): the
per-recording opinions later experiments can start from without the networks.

A window's clean share is the fraction of the 1-s cells whose centre lies inside it that the
quality module does not call noisy. The "clean-weighted" mean weights each window by that share
(all windows alike when none is clean). The recording's probability is then mixed with the
feature expert's as the model file says; the last Platt step keeps the order, so ROC-AUC within
and across subsets is judged on that mix.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "bench" / "results" / "window-pooling"
WINDOW_SECONDS = 5.0


def collect(model: Path, tag: str) -> int:
    from audiofuse_core.audio import load_audio
    from audiofuse_core.datasets import scan
    from audiofuse_core.inference import Classifier
    from audiofuse_core.modelfile import read_model_metadata
    from audiofuse_core.quality import ANALYSIS_RATE, noisy_seconds

    validation = set(read_model_metadata(model)["split"]["validation_records"])
    records = [r for r in scan(SHARED / "physionet2016-dev", probe=False).records
               if r.name in validation]
    records += scan(SHARED / "circor2022-dev", probe=False).records
    classifier = Classifier(model, quality_gate=False)
    rows: dict[str, list] = {k: [] for k in ("name", "subset", "label", "network", "expert",
                                             "n_windows", "n_seconds")}
    windows, starts, noisy = [], [], []
    for i, record in enumerate(records):
        prediction = classifier.predict_file(record.path)
        audio = load_audio(record.path, sample_rate=ANALYSIS_RATE)
        cells = noisy_seconds(audio.samples.astype(np.float64), ANALYSIS_RATE)
        rows["name"].append(record.name)
        rows["subset"].append(record.subset if record.dataset == "physionet2016" else "circor")
        rows["label"].append(record.label)
        rows["network"].append(prediction.extra["network_probability"])
        rows["expert"].append(prediction.extra["feature_expert_probability"])
        rows["n_windows"].append(len(prediction.window_probabilities))
        rows["n_seconds"].append(len(cells))
        windows.append(np.asarray(prediction.window_probabilities, np.float32))
        starts.append(np.asarray(prediction.window_starts, np.float32))
        noisy.append(cells)
        if (i + 1) % 50 == 0:
            print(f"{i + 1} of {len(records)}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    meta = read_model_metadata(model)
    np.savez_compressed(
        OUT / f"{tag}.npz", **{k: np.array(v) for k, v in rows.items()},
        window_probability=np.concatenate(windows), window_start=np.concatenate(starts),
        noisy=np.concatenate(noisy), model=str(model),
        expert_weight=float(meta["feature_expert"].get("weight", 0.5)))
    print(f"{OUT / (tag + '.npz')}: {len(records)} recordings")
    return 0


def _split(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(counts)[:-1])


def clean_share(starts: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    """Each window's share of 1-s cells (centres inside it) that are not noisy (1 without cells)."""
    centres = np.arange(len(noisy)) + 0.5
    shares = []
    for start in starts:
        inside = (centres >= start) & (centres < start + WINDOW_SECONDS)
        shares.append(1.0 - float(noisy[inside].mean()) if inside.any() else 1.0)
    return np.array(shares)


def pooled(data: dict, rule: str) -> np.ndarray:
    out = []
    for probs, starts, noisy in zip(_split(data["window_probability"], data["n_windows"]),
                                    _split(data["window_start"], data["n_windows"]),
                                    _split(data["noisy"], data["n_seconds"])):
        if rule == "mean":
            out.append(probs.mean())
        elif rule == "median":
            out.append(np.median(probs))
        else:  # clean-weighted
            weights = clean_share(starts, noisy)
            out.append(np.average(probs, weights=weights) if weights.sum() > 0 else probs.mean())
    return np.array(out)


RULES = ("mean", "clean-weighted", "median")


FIGURES = ("overall", "a", "b", "e", "f", "within", "circor")


def scores(probs: np.ndarray, label: np.ndarray, subset: np.ndarray) -> dict[str, float]:
    """ROC-AUC on the validation recordings, within training-a, -b, -e, -f, their mean, CirCor."""
    from audiofuse_core.metrics import roc_auc

    physionet = subset != "circor"
    figures = {"overall": roc_auc(label[physionet], probs[physionet])}
    for letter in "abef":
        mask = subset == f"training-{letter}"
        figures[letter] = roc_auc(label[mask], probs[mask])
    figures["within"] = float(np.mean([figures[k] for k in "abef"]))
    figures["circor"] = roc_auc(label[~physionet], probs[~physionet])
    return figures


def ensemble(tags: list[str]) -> int:
    """Whole recipes of several seeds averaged: their networks' probabilities averaged, their
    experts' averaged, then mixed as the model files say (plain window mean). The last Platt
    step of each model is left out (it keeps each seed's order, not the order of a mean).
    """
    data = [dict(np.load(OUT / f"{tag}.npz")) for tag in tags]
    first = data[0]
    for other, tag in zip(data[1:], tags[1:]):
        if not (np.array_equal(other["name"], first["name"])
                and float(other["expert_weight"]) == float(first["expert_weight"])):
            raise SystemExit(f"{tag}: not the same recordings or expert weight as {tags[0]}")
    weight = float(first["expert_weight"])
    label, subset = first["label"], first["subset"]
    rows: dict[str, dict[str, float]] = {}
    for tag, one in zip(tags, data):
        rows[tag] = scores((1 - weight) * one["network"] + weight * one["expert"], label, subset)
    network = np.mean([one["network"] for one in data], axis=0)
    expert = np.mean([one["expert"] for one in data], axis=0)
    rows[f"networks of {' + '.join(tags)}"] = scores(network, label, subset)
    rows[f"experts of {' + '.join(tags)}"] = scores(expert, label, subset)
    rows[f"ensemble {' + '.join(tags)}"] = scores((1 - weight) * network + weight * expert,
                                                   label, subset)
    print("| model | " + " | ".join(FIGURES) + " |")
    print("|---|" + "---|" * len(FIGURES))
    for title, figures in rows.items():
        print(f"| {title} | " + " | ".join(f"{figures[k]:.3f}" for k in FIGURES) + " |")
    (OUT / "ensemble.json").write_text(json.dumps({"tags": tags, "figures": rows}, indent=1))
    return 0


def report(tags: list[str]) -> int:
    table: dict[str, dict[str, list[float]]] = {rule: {} for rule in RULES}
    print("| seed | pooling | overall | a | b | e | f | mean within | CirCor | windows weighted "
          "below 1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for tag in tags:
        data = dict(np.load(OUT / f"{tag}.npz"))
        weight = float(data["expert_weight"])
        subset, label = data["subset"], data["label"]
        for rule in RULES:
            network = pooled(data, rule)
            if rule == "mean":  # the Classifier's own figure, to the rounding it stores
                assert np.allclose(network, data["network"], atol=1e-5), tag
            mixed = (1 - weight) * network + weight * data["expert"]
            figures = scores(mixed, label, subset)
            for key, value in figures.items():
                table[rule].setdefault(key, []).append(value)
            below = sum(int((clean_share(s, n) < 1).sum()) for s, n in zip(
                _split(data["window_start"], data["n_windows"]),
                _split(data["noisy"], data["n_seconds"])))
            print(f"| {tag} | {rule} | " + " | ".join(
                f"{figures[k]:.3f}" for k in FIGURES)
                + f" | {below} of {int(data['n_windows'].sum())} |")
    if len(tags) > 1:
        for rule in RULES:
            cells = [f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}"
                     for k, v in table[rule].items()]
            print(f"| mean | {rule} | " + " | ".join(cells) + " | |")
    (OUT / "report.json").write_text(json.dumps({"tags": tags, "figures": table}, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("model", type=Path)
    c.add_argument("tag")
    r = sub.add_parser("report")
    r.add_argument("tags", nargs="+")
    e = sub.add_parser("ensemble", help="whole recipes of several seeds averaged")
    e.add_argument("tags", nargs="+")
    args = parser.parse_args()
    if args.command == "collect":
        return collect(args.model, args.tag)
    return report(args.tags) if args.command == "report" else ensemble(args.tags)


if __name__ == "__main__":
    sys.exit(main())
