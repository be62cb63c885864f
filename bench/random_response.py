"""The table of ``bench/experiments.py random-response``: the waveform CNN trained with a random
smooth frequency response (``--spread 6``) against the same seed without it (``--spread 0``; for
seed 42 the bundled CNN), each alone, in its mean with the bundled ViT and with the feature
expert added (the default's recipe), on our validation split and on CirCor zero-shot.

    .venv/bin/python bench/random_response.py [--seeds 42 43 44] [--spread 6] [--both]

With ``--weight-average M``: the same table for both experts kept as a moving average of their
weights (``bench/experiments.py weight-average --spectrogram``) against the same plain recipe;
with ``--vit-epochs N`` too, the averaged ViT continued to a budget of N epochs
(``bench/experiments.py weight-average --spectrogram --vit-epochs N``).

With ``--both``: both experts coloured (``bench/experiments.py random-response --spectrogram``):
the coloured ViT alone, the mean of the two coloured experts and the default's recipe on it,
against the same seed's plain recipe with the 24-epoch ViT (bench/results/vit-e24/, made by
bench/vit_budget.sh; for seed 42 the bundled models).

Reads bench/results/random-response-d*-s*-*.json; prints Markdown (the paired differences:
with the response less without, per seed, then their mean; then each arm's mean and standard
deviation over the seeds that have both).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"
SUBSETS = ("training-a", "training-b", "training-e", "training-f")
STAGES = (("waveform", "CNN alone"), ("mean-bundled-vit", "mean with the bundled ViT"),
          ("default-mean-bundled-vit", "+ feature expert (default's recipe)"))
BOTH = (("spectrogram", "ViT alone"), ("mean", "mean of the two experts"),
        ("default-mean", "+ feature expert (default's recipe)"))
PLAIN_E24 = {"spectrogram": "spectrogram", "mean": "mean", "default-mean": "default"}
COLUMNS = ("overall", "MCC", "a", "b", "e", "f", "CirCor")


def _row(validation: dict, circor: float) -> dict[str, float]:
    row = {"overall": validation["overall"]["roc_auc"], "MCC": validation["overall"]["mcc"]}
    for subset in SUBSETS:
        row[subset[-1]] = validation["per_subset"][subset]["roc_auc"]
    row["CirCor"] = circor
    return row


def _experiment(prefix: str, seed: int, stage: str) -> dict[str, float] | None:
    tag = f"{prefix}-s{seed}"
    validation = RESULTS / f"{tag}-{stage}-validation.json"
    circor = RESULTS / f"{tag}-circor-{stage}.json"
    if not (validation.is_file() and circor.is_file()):
        return None
    return _row(json.loads(validation.read_text())["validation"],
                json.loads(circor.read_text())["overall"]["roc_auc"])


def _bundled(stage: str) -> dict[str, float]:
    """Seed 42 without the response: the bundled models themselves."""
    from audiofuse_core.metrics import roc_auc
    from audiofuse_core.modelfile import read_model_metadata

    models = REPO / "resources" / "models"
    if stage == "waveform":
        meta = read_model_metadata(models / "audiofuse-waveform.keras")
        return _row(meta["validation"], json.loads(
            (RESULTS / "circor-waveform.json").read_text())["overall"]["roc_auc"])
    meta = read_model_metadata(models / "audiofuse-default.keras")
    if stage == "mean-bundled-vit":  # the default's network; its CirCor opinions are stored
        stored = np.load(RESULTS / "window-pooling" / "s42.npz", allow_pickle=True)
        circor = np.array([not str(s).startswith("training-") for s in stored["subset"]])
        return _row(meta["network"]["validation"],
                    roc_auc(stored["label"][circor], stored["network"][circor]))
    return _row(meta["validation"], json.loads(
        (RESULTS / "circor-default.json").read_text())["overall"]["roc_auc"])


def _plain_e24(stage: str, seed: int) -> dict[str, float] | None:
    """The same seed's plain recipe with the 24-epoch ViT (bench/vit_budget.sh)."""
    name = f"{PLAIN_E24[stage]}-e24-s{seed}.json"
    folder = RESULTS / "vit-e24"
    if not (folder / name).is_file():
        return None
    return _row(json.loads((folder / name).read_text())["validation"],
                json.loads((folder / f"circor-{name}").read_text())["overall"]["roc_auc"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--spread", type=float, default=6.0)
    parser.add_argument("--both", action="store_true",
                        help="both experts coloured, against the plain 24-epoch-ViT recipe")
    parser.add_argument("--weight-average", type=float, metavar="M",
                        help="instead: both experts kept as a moving average of their weights "
                             "(bench/experiments.py weight-average --spectrogram --momentum M)")
    parser.add_argument("--vit-epochs", type=int, metavar="N",
                        help="with --weight-average: the averaged ViT continued to N epochs")
    args = parser.parse_args()
    if args.vit_epochs and not args.weight_average:
        parser.error("--vit-epochs needs --weight-average")
    args.both = args.both or bool(args.weight_average)
    stages = BOTH if args.both else STAGES
    if args.weight_average:  # the results' prefix, the column, the two arms, the difference
        prefix, what, arm, base, versus = (
            f"weight-average-m{args.weight_average:g}", "weights",
            f"average {args.weight_average:g}", "raw", "the averaged weights less the raw ones")
        if args.vit_epochs:
            prefix += f"-v{args.vit_epochs}"
            arm += f", ViT {args.vit_epochs} epochs"
            versus = (f"the averaged weights and a {args.vit_epochs}-epoch ViT less the raw ones "
                      "and 24 epochs")
    else:
        prefix, what, arm, base, versus = (f"random-response-d{args.spread:g}", "response",
                                           f"{args.spread:g} dB", "none",
                                           "the response less without")

    print(f"| seed | model | {what} | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    pairs: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {
        stage: [] for stage, _ in stages}  # (with, without) per seed that has both
    for seed in args.seeds:
        for stage, label in stages:
            if args.both:
                plain = _plain_e24(stage, seed)
            else:
                plain = (_bundled(stage) if seed == 42
                         else _experiment("random-response-d0", seed, stage))
            coloured = _experiment(prefix, seed, stage)
            for name, row in ((arm, coloured), (base, plain)):
                if row is not None:
                    print(f"| {seed} | {label} | {name} | "
                          + " | ".join(f"{row[c]:.3f}" for c in COLUMNS) + " |")
            if plain is not None and coloured is not None:
                pairs[stage].append((coloured, plain))
    print(f"\nWith {versus}, mean over the seeds (and each seed's):\n")
    print("| model | seeds | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for stage, label in stages:
        rows = [{c: with_[c] - without[c] for c in COLUMNS} for with_, without in pairs[stage]]
        if not rows:
            continue
        cells = [f"{statistics.mean(r[c] for r in rows):+.3f} ("
                 + ", ".join(f"{r[c]:+.3f}" for r in rows) + ")" for c in COLUMNS]
        print(f"| {label} | {len(rows)} | " + " | ".join(cells) + " |")
    print("\nEach arm, mean ± standard deviation over the same seeds:\n")
    print(f"| model | {what} | seeds | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for stage, label in stages:
        for index, name in ((0, arm), (1, base)):
            rows = [pair[index] for pair in pairs[stage]]
            if len(rows) < 2:
                continue
            cells = [f"{statistics.mean(r[c] for r in rows):.3f} ± "
                     f"{statistics.stdev(r[c] for r in rows):.3f}" for c in COLUMNS]
            print(f"| {label} | {name} | {len(rows)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
