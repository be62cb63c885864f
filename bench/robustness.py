"""Robustness to an unseen device, with the data we have.

* Leave one PhysioNet subset out: train on five subsets (with bench/train_models.sh's recipe:
  two experts, then the fusion head, and the usual recording-level validation split inside
  them), then score the sixth, never seen, subset with all three models.
* CirCor 2022 zero-shot: the bundled models scored on the CirCor development recordings
  (murmur audible at the site vs no murmur), a paediatric population and another stethoscope.

Usage:
  .venv/bin/python bench/robustness.py loso --subsets a b e f [--epochs 12]
  .venv/bin/python bench/robustness.py loso-mean --subsets a b e f   (after loso)
  .venv/bin/python bench/robustness.py circor
Results are written as JSON under bench/results/ and summarised as Markdown on stdout.
Each leave-one-out run is a full training run (tens of minutes on a 2-core CPU); it resumes if
interrupted (run the same command again).
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


def loso(subsets: list[str], epochs: int, seed: int) -> None:
    from audiofuse_core.datasets import scan
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.training import TrainConfig, train

    records = scan(SHARED / "physionet2016-dev").records
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for letter in subsets:
        held = f"training-{letter}"
        summary = RESULTS / f"loso-{letter}.json"
        if not summary.is_file():
            kept = [r for r in records if r.subset != held]
            paths = {}
            for kind in ("spectrogram", "waveform", "fusion"):  # bench/train_models.sh's recipe
                out = REPO / "runs" / f"loso-{letter}-{kind}.keras"  # models stay out of git
                paths[kind] = out
                if out.is_file():
                    continue
                run_dir = out.with_name(out.stem + ".run")
                extra = dict(epochs=epochs, patience=4) if kind != "fusion" else dict(
                    epochs=6, patience=3, freeze_branches=True,
                    branch_models=[str(paths["spectrogram"]), str(paths["waveform"])])
                config = TrainConfig(out=str(out), kind=kind, seed=seed, cache_dir=".cache",
                                     windows_per_record=3,
                                     resume=(run_dir / "state.json").is_file(), **extra)
                train(config, kept)
            held_records = [r for r in records if r.subset == held]
            reports = {kind: evaluate(path, held_records).overall for kind, path in paths.items()}
            summary.write_text(json.dumps({"held_out": held, "overall": reports["fusion"],
                                           "models": reports}))
        data = json.loads(summary.read_text())
        rows.append(data)
    print("| subset left out | n (abnormal) | fusion ROC-AUC [95 % CI] | sensitivity | specificity "
          "| waveform CNN | spectrogram ViT |")
    print("|---|---|---|---|---|---|---|")
    for data in rows:
        m, models = data["overall"], data.get("models", {})
        others = [f"{models[k]['roc_auc']:.3f}" if k in models else "-"
                  for k in ("waveform", "spectrogram")]
        print(f"| {data['held_out']} | {m['n']} ({m['n_abnormal']}) | {m['roc_auc']:.3f} "
              f"[{m['roc_auc_low']:.3f}, {m['roc_auc_high']:.3f}] | {m['sensitivity']:.3f} | "
              f"{m['specificity']:.3f} | {' | '.join(others)} |")


def loso_mean(subsets: list[str]) -> None:
    """The mean-of-experts fusion (audiofuse combine) of each leave-one-out run's two experts,
    scored on the left-out subset; the experts must be in runs/ (from ``loso``).
    """
    from audiofuse_core.datasets import scan
    from audiofuse_core.ensemble import combine_experts
    from audiofuse_core.evaluation import evaluate

    records = scan(SHARED / "physionet2016-dev").records
    print("| subset left out | n (abnormal) | mean-of-experts fusion ROC-AUC [95 % CI] | "
          "sensitivity | specificity |")
    print("|---|---|---|---|---|")
    for letter in subsets:
        held = f"training-{letter}"
        summary = RESULTS / f"loso-mean-{letter}.json"
        experts = [REPO / "runs" / f"loso-{letter}-{kind}.keras"
                   for kind in ("spectrogram", "waveform")]
        if not summary.is_file():
            if not all(path.is_file() for path in experts):
                print(f"| {held} | experts not in runs/ | | | |")
                continue
            out = REPO / "runs" / f"loso-{letter}-mean.keras"
            if not out.is_file():
                combine_experts(experts, [r for r in records if r.subset != held], out,
                                cache_dir=REPO / ".cache")
            summary.write_text(evaluate(out, [r for r in records if r.subset == held]).to_json())
        m = json.loads(summary.read_text())["overall"]
        print(f"| {held} | {m['n']} ({m['n_abnormal']}) | {m['roc_auc']:.3f} "
              f"[{m['roc_auc_low']:.3f}, {m['roc_auc_high']:.3f}] | {m['sensitivity']:.3f} | "
              f"{m['specificity']:.3f} |", flush=True)


def circor() -> None:
    from audiofuse_core.datasets import scan
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.reproduce import MODEL_FILES, TITLES
    from audiofuse_core.resources import models_dir

    records = scan(SHARED / "circor2022-dev").records
    RESULTS.mkdir(parents=True, exist_ok=True)
    print("| model | n (murmur) | ROC-AUC [95 % CI] | sensitivity | specificity |")
    print("|---|---|---|---|---|")
    for kind, name in MODEL_FILES.items():
        if not (models_dir() / name).is_file():
            print(f"| {TITLES[kind]} | not bundled yet | | | |")
            continue
        report = evaluate(models_dir() / name, records)
        (RESULTS / f"circor-{kind}.json").write_text(report.to_json())
        m = report.overall
        print(f"| {TITLES[kind]} | {m['n']} ({m['n_abnormal']}) | {m['roc_auc']:.3f} "
              f"[{m['roc_auc_low']:.3f}, {m['roc_auc_high']:.3f}] | {m['sensitivity']:.3f} | "
              f"{m['specificity']:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("loso")
    p.add_argument("--subsets", nargs="+", default=["a", "b", "e", "f"])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=42)
    p = sub.add_parser("loso-mean")
    p.add_argument("--subsets", nargs="+", default=["a", "b", "e", "f"])
    sub.add_parser("circor")
    args = parser.parse_args()
    if args.what == "loso":
        loso(args.subsets, args.epochs, args.seed)
    elif args.what == "loso-mean":
        loso_mean(args.subsets)
    else:
        circor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
