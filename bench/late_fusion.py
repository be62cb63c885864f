"""Would a fusion that cannot learn which expert to trust transfer better? The plain mean of the
two single-branch experts' (calibrated) probabilities, against the learned fusion head.

Scored where the experts are trained alike: our validation split (the bundled seed-42 experts
and fusion), CirCor zero-shot (the same), and each left-out PhysioNet subset (the leave-one-out
models of bench/robustness.py in runs/).

    .venv/bin/python bench/late_fusion.py [--subsets f b a] [--seeds 43 44]
Writes bench/results/late-fusion.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"
KINDS = ("spectrogram", "waveform", "fusion")


def score(models: dict[str, Path], records) -> dict:
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.metrics import auc_interval, roc_auc

    scored = {}
    for kind, path in models.items():
        labels, probs = evaluate(path, records, bootstrap=0).scored()
        scored[kind] = probs
    mean = (scored["spectrogram"] + scored["waveform"]) / 2.0
    out = {"n": int(len(labels)), "n_abnormal": int(labels.sum())}
    for name, probs in (*scored.items(), ("mean of experts", mean)):
        low, high = auc_interval(labels, probs)
        out[name] = {"roc_auc": roc_auc(labels, probs), "low": low, "high": high}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subsets", nargs="+", default=["f", "b", "a"])
    parser.add_argument("--seeds", nargs="*", default=[],
                        help="also the validation split and CirCor for the models "
                             "runs/{spectrogram,waveform,fusion}-sS.keras of these seeds")
    args = parser.parse_args()

    from audiofuse_core.datasets import scan
    from audiofuse_core.modelfile import read_model_metadata

    bundled = {k: REPO / "resources" / "models" / f"audiofuse-{k}.keras" for k in KINDS}
    bundled["fusion"] = REPO / "resources" / "models" / "audiofuse-default.keras"
    physionet = scan(SHARED / "physionet2016-dev").records
    names = set(read_model_metadata(bundled["fusion"])["split"]["validation_records"])
    settings = {"our validation split (in-domain)": (bundled,
                                                      [r for r in physionet if r.name in names]),
                "CirCor 2022 (zero-shot)": (bundled, scan(SHARED / "circor2022-dev").records)}
    for seed in args.seeds:
        models = {k: REPO / "runs" / f"{k}-s{seed}.keras" for k in KINDS}
        if all(p.is_file() for p in models.values()):
            names = set(read_model_metadata(models["fusion"])["split"]["validation_records"])
            settings[f"seed {seed}: our validation split"] = (
                models, [r for r in physionet if r.name in names])
            settings[f"seed {seed}: CirCor 2022"] = (models, settings["CirCor 2022 (zero-shot)"][1])
    for letter in args.subsets:
        models = {k: REPO / "runs" / f"loso-{letter}-{k}.keras" for k in KINDS}
        if all(p.is_file() for p in models.values()):
            settings[f"training-{letter} left out"] = (
                models, [r for r in physionet if r.subset == f"training-{letter}"])
    results = {}
    print("| scored on | n (abnormal) | spectrogram ViT | waveform CNN | fusion (learned head) "
          "| mean of the two experts |")
    print("|---|---|---|---|---|---|")
    for name, (models, records) in settings.items():
        results[name] = r = score(models, records)
        cells = [f"{r[k]['roc_auc']:.3f} [{r[k]['low']:.2f}, {r[k]['high']:.2f}]"
                 for k in (*KINDS, "mean of experts")]
        print(f"| {name} | {r['n']} ({r['n_abnormal']}) | {' | '.join(cells)} |", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "late-fusion.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
