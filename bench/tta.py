"""Test-time augmentation: the network's opinion averaged over copies of the recording as other
stethoscopes would give it (the opposite polarity, a spectral tilt either way) and over twice as
many windows (every half hop). Training already draws such copies; averaging over them at test time
marginalises the device's response instead of trusting the one the recording happens to have.
An inference-side change: nothing is trained again.

    .venv/bin/python bench/tta.py collect TAG      # every copy's network probability
    .venv/bin/python bench/tta.py report TAG [TAG...]
    .venv/bin/python bench/tta.py edges TAG training-b   # how much a short recording holds

``collect`` takes the model and the recordings from ``bench/results/window-pooling/TAG.npz``
(made by ``bench/window_pooling.py collect``: the model's 433 validation recordings and the 85
CirCor recordings ``evaluate`` scores, with the feature expert's probability of each), runs the
model's network on each copy of each recording, and keeps each copy's mean window probability
in ``bench/results/tta/TAG.npz``. The unaltered copy must give the network probability the
window-pooling file holds (checked). ``report`` averages the copies of each combination,
mixes the result with the feature expert's probability as the model file says (the final Platt
step keeps the order) and prints ROC-AUC overall, within training-a, -b, -e, -f and on CirCor.

``edges`` asks whether a subset's figure rests on the recordings' first or last seconds: the
network alone on its validation recordings with 0.5 or 1.25 s cut from the start or 1.25 s from
the end, and, over all the subset's recordings, whether the level of the first and last 0.25 s
(25-400 Hz, relative to the rest) or of the first 10 ms tells the classes apart (a recorder's
artefact the model could learn).
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
POOLING = REPO / "bench" / "results" / "window-pooling"
OUT = REPO / "bench" / "results" / "tta"
COPIES = ("base", "flip", "tilt+3", "tilt-3", "dense", "shift")
TILT_DB = 3.0  # dB per octave, inside the training augmentation's +-4
COMBINATIONS = {
    "none (the default)": ("base",),
    "polarity": ("base", "flip"),
    "tilts": ("base", "tilt+3", "tilt-3"),
    "windows every half hop": ("dense",),
    "polarity and tilts": ("base", "flip", "tilt+3", "tilt-3"),
    "all four, windows every half hop": ("dense", "flip", "tilt+3", "tilt-3"),
    # not a combination to adopt: the grid moved by half a hop, without the first half hop
    # (how much a short recording's figure rests on which of its few beats are heard)
    "alone: the grid moved half a hop": ("shift",),
}


def copies(signal: np.ndarray, preset) -> dict[str, np.ndarray]:
    """The band-passed windows of each copy of a prepared signal."""
    from audiofuse_core.augment import _tilt
    from audiofuse_core.features import model_windows

    rate, half = preset.sample_rate, preset.hop_samples // 2
    dense = preset.replace(hop_seconds=preset.hop_seconds / 2)
    base = model_windows(signal, preset)[0]
    return {"base": base, "flip": -base,
            "tilt+3": model_windows(_tilt(signal, rate, db_per_octave=TILT_DB), preset)[0],
            "tilt-3": model_windows(_tilt(signal, rate, db_per_octave=-TILT_DB), preset)[0],
            "dense": model_windows(signal, dense)[0],
            "shift": model_windows(signal[half:], preset)[0]}


def mean_probability(classifier, windows: np.ndarray) -> float:
    """The network's recording probability: its calibrated window probabilities averaged."""
    logits = classifier.window_logits(windows)
    return float(np.mean(1.0 / (1.0 + np.exp(-logits / classifier.temperature))))


def collect(tag: str) -> int:
    from audiofuse_core.datasets import scan
    from audiofuse_core.features import prepare_signal
    from audiofuse_core.inference import Classifier

    pooling = dict(np.load(POOLING / f"{tag}.npz"))
    paths = {r.name: r.path for folder in ("physionet2016-dev", "circor2022-dev")
             for r in scan(SHARED / folder, probe=False).records}
    classifier = Classifier(REPO / str(pooling["model"]), quality_gate=False)
    preset = classifier.preset
    table = {name: [] for name in COPIES}
    for i, name in enumerate(pooling["name"]):
        audio = classifier.load(paths[str(name)])
        signal = prepare_signal(audio.samples, audio.sample_rate, preset)
        for copy, windows in copies(signal, preset).items():
            table[copy].append(mean_probability(classifier, windows))
        if (i + 1) % 50 == 0:
            print(f"{i + 1} of {len(pooling['name'])}", flush=True)
    base = np.array(table["base"])
    worst = float(np.max(np.abs(base - pooling["network"])))
    assert worst < 1e-4, f"the unaltered copy differs from the Classifier's figure by {worst}"
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / f"{tag}.npz", **{k: np.array(v) for k, v in table.items()})
    print(f"{OUT / (tag + '.npz')}: {len(base)} recordings; the unaltered copy matches the "
          f"Classifier to {worst:.1e}")
    return 0


def report(tags: list[str]) -> int:
    from window_pooling import FIGURES, scores

    print("| seed | copies averaged | " + " | ".join(FIGURES) + " | network alone, overall / a / "
          "CirCor |")
    print("|---|---|" + "---|" * (len(FIGURES) + 1))
    results: dict[str, dict[str, dict[str, float]]] = {}
    for tag in tags:
        pooling = dict(np.load(POOLING / f"{tag}.npz"))
        data = dict(np.load(OUT / f"{tag}.npz"))
        weight = float(pooling["expert_weight"])
        subset, label = pooling["subset"], pooling["label"]
        results[tag] = {}
        for combination, members in COMBINATIONS.items():
            network = np.mean([data[m] for m in members], axis=0)
            figures = scores((1 - weight) * network + weight * pooling["expert"], label, subset)
            alone = scores(network, label, subset)
            results[tag][combination] = {**figures, **{f"network_{k}": v
                                                       for k, v in alone.items()}}
            print(f"| {tag} | {combination} | " + " | ".join(f"{figures[k]:.3f}"
                                                            for k in FIGURES)
                  + f" | {alone['overall']:.3f} / {alone['a']:.3f} / {alone['circor']:.3f} |")
    (OUT / "report.json").write_text(json.dumps({"tags": tags, "tilt_db_per_octave": TILT_DB,
                                                 "figures": results}, indent=1))
    return 0


def edges(tag: str, subset: str) -> int:
    from scipy.signal import butter, sosfiltfilt

    from audiofuse_core.audio import load_audio
    from audiofuse_core.augment import _rms
    from audiofuse_core.datasets import scan
    from audiofuse_core.features import model_windows, prepare_signal
    from audiofuse_core.inference import Classifier
    from audiofuse_core.metrics import roc_auc

    pooling = dict(np.load(POOLING / f"{tag}.npz"))
    records = [r for r in scan(SHARED / "physionet2016-dev", probe=False).records
               if r.subset == subset]
    classifier = Classifier(REPO / str(pooling["model"]), quality_gate=False)
    preset = classifier.preset
    rate, half = preset.sample_rate, preset.hop_samples // 2
    dense = preset.replace(hop_seconds=preset.hop_seconds / 2)

    def network(x: np.ndarray, windowing=preset) -> float:
        return mean_probability(classifier, model_windows(x, windowing)[0])

    cuts = {"whole": network, "without the first 0.5 s": lambda x: network(x[rate // 2:]),
            "without the first 1.25 s": lambda x: network(x[half:]),
            "without the last 1.25 s": lambda x: network(x[:-half]),
            "windows every 1.25 s": lambda x: network(x, dense)}
    validation = {str(n) for n, s in zip(pooling["name"], pooling["subset"]) if s == subset}
    opinions: dict[str, list[float]] = {k: [] for k in cuts}
    labels, levels = [], []
    band = butter(4, [25.0, 400.0], btype="band", fs=2000, output="sos")
    for record in records:
        raw = load_audio(record.path, sample_rate=2000).samples.astype(np.float64)
        y = sosfiltfilt(band, raw)
        quarter = 500  # 0.25 s at 2000 Hz
        middle = _rms(y[quarter:-quarter])
        levels.append((20 * np.log10(_rms(y[:quarter]) / middle),
                       20 * np.log10(_rms(y[-quarter:]) / middle),
                       np.abs(raw[:20]).mean() / (np.abs(raw).mean() + 1e-12)))
        labels.append(record.label)
        if record.name in validation:
            audio = classifier.load(record.path)
            signal = prepare_signal(audio.samples, audio.sample_rate, preset)
            for cut, run in cuts.items():
                opinions[cut].append((record.label, run(signal)))
    result: dict[str, object] = {"subset": subset, "recordings": len(records),
                                 "validation_recordings": len(opinions["whole"])}
    for cut, rows in opinions.items():
        y_true, p = zip(*rows)
        result[f"network, {cut}"] = roc_auc(np.array(y_true), np.array(p))
        print(f"network alone, {cut}: ROC-AUC {result[f'network, {cut}']:.3f}")
    table, y_all = np.array(levels), np.array(labels)
    for j, name in enumerate(("first 0.25 s, dB", "last 0.25 s, dB", "first 10 ms, raw level")):
        result[f"all recordings, {name}"] = roc_auc(y_all, table[:, j])
        print(f"all {len(records)} recordings, {name}: ROC-AUC {roc_auc(y_all, table[:, j]):.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"edges-{subset}.json").write_text(json.dumps(result, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("collect").add_argument("tag")
    sub.add_parser("report").add_argument("tags", nargs="+")
    e = sub.add_parser("edges")
    e.add_argument("tag")
    e.add_argument("subset")
    args = parser.parse_args()
    if args.command == "edges":
        return edges(args.tag, args.subset)
    return collect(args.tag) if args.command == "collect" else report(args.tags)


if __name__ == "__main__":
    sys.exit(main())
