"""Robustness to an unseen device, with the data we have.

* Leave one PhysioNet subset out: train on five subsets (with bench/train_models.sh's recipe:
  two experts, then the fusion head, and the usual recording-level validation split inside
  them), then score the sixth, never seen, subset with all three models.
* CirCor 2022 zero-shot: the bundled models scored on the CirCor development recordings
  (murmur audible at the site vs no murmur), a paediatric population and another stethoscope.

Usage:
  .venv/bin/python bench/robustness.py loso --subsets a b e f [--epochs 12]
  .venv/bin/python bench/robustness.py loso-mean --subsets a b e f   (after loso)
  With the bundled default's ViT budget (24 epochs, patience 6; no learned head), files tagged
  "-e24" (runs/loso-e24-f-*.keras, bench/results/loso-e24-f.json, loso-mean-e24-f.json):
  .venv/bin/python bench/robustness.py loso --subsets f --vit-epochs 24 --vit-patience 6 \
      --tag=-e24 --no-head
  .venv/bin/python bench/robustness.py loso-mean --subsets f --tag=-e24
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


def loso(subsets: list[str], epochs: int, seed: int, *, vit_epochs: int | None = None,
         vit_patience: int = 4, tag: str = "", head: bool = True) -> None:
    from audiofuse_core.datasets import scan
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.training import TrainConfig, train

    records = scan(SHARED / "physionet2016-dev").records
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for letter in subsets:
        held = f"training-{letter}"
        summary = RESULTS / f"loso{tag}-{letter}.json"
        if not summary.is_file():
            kept = [r for r in records if r.subset != held]
            paths = {}
            kinds = ("spectrogram", "waveform", "fusion") if head else ("spectrogram", "waveform")
            for kind in kinds:  # bench/train_models.sh's recipe
                out = REPO / "runs" / f"loso{tag}-{letter}-{kind}.keras"  # models stay out of git
                paths[kind] = out
                if out.is_file():
                    continue
                run_dir = out.with_name(out.stem + ".run")
                extra = dict(epochs=epochs, patience=4) if kind != "fusion" else dict(
                    epochs=6, patience=3, freeze_branches=True,
                    branch_models=[str(paths["spectrogram"]), str(paths["waveform"])])
                if kind == "spectrogram" and vit_epochs:
                    extra = dict(epochs=vit_epochs, patience=vit_patience)
                config = TrainConfig(out=str(out), kind=kind, seed=seed, cache_dir=".cache",
                                     windows_per_record=3,
                                     resume=(run_dir / "state.json").is_file(), **extra)
                train(config, kept)
            held_records = [r for r in records if r.subset == held]
            reports = {kind: evaluate(path, held_records).overall for kind, path in paths.items()}
            summary.write_text(json.dumps({"held_out": held, "models": reports,
                                           "overall": reports.get("fusion")}))
        data = json.loads(summary.read_text())
        rows.append(data)
    print("| subset left out | n (abnormal) | fusion ROC-AUC [95 % CI] | sensitivity | specificity "
          "| waveform CNN | spectrogram ViT |")
    print("|---|---|---|---|---|---|---|")
    for data in rows:
        models = data.get("models", {})
        m = data["overall"] or models["waveform"]  # n and n_abnormal; no head: no fusion row
        fusion = (f"{m['roc_auc']:.3f} [{m['roc_auc_low']:.3f}, {m['roc_auc_high']:.3f}] | "
                  f"{m['sensitivity']:.3f} | {m['specificity']:.3f}" if data["overall"]
                  else "- | - | -")
        others = [f"{models[k]['roc_auc']:.3f}" if k in models else "-"
                  for k in ("waveform", "spectrogram")]
        print(f"| {data['held_out']} | {m['n']} ({m['n_abnormal']}) | {fusion} | "
              f"{' | '.join(others)} |")


def loso_mean(subsets: list[str], tag: str = "") -> None:
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
        summary = RESULTS / f"loso-mean{tag}-{letter}.json"
        experts = [REPO / "runs" / f"loso{tag}-{letter}-{kind}.keras"
                   for kind in ("spectrogram", "waveform")]
        if not summary.is_file():
            if not all(path.is_file() for path in experts):
                print(f"| {held} | experts not in runs/ | | | |")
                continue
            out = REPO / "runs" / f"loso{tag}-{letter}-mean.keras"
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
    p.add_argument("--vit-epochs", type=int, default=None,
                   help="the spectrogram ViT's budget, when not --epochs")
    p.add_argument("--vit-patience", type=int, default=4)
    p.add_argument("--tag", default="", help="added to every file name, e.g. -e24")
    p.add_argument("--no-head", action="store_true", help="skip the learned-head fusion")
    p = sub.add_parser("loso-mean")
    p.add_argument("--subsets", nargs="+", default=["a", "b", "e", "f"])
    p.add_argument("--tag", default="")
    sub.add_parser("circor")
    args = parser.parse_args()
    if args.what == "loso":
        loso(args.subsets, args.epochs, args.seed, vit_epochs=args.vit_epochs,
             vit_patience=args.vit_patience, tag=args.tag, head=not args.no_head)
    elif args.what == "loso-mean":
        loso_mean(args.subsets, args.tag)
    else:
        circor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
