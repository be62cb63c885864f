"""Does whitening the waveform expert's input (presets.Preset.waveform_whiten_hz) make it hear the
heart rather than the stethoscope?

Trains the waveform expert with bench/train_models.sh's settings and the whitening on, then:
* in-domain: the usual validation split (its figures are in the model file's metadata);
* leave one subset out: trained on the other five subsets, scored on every recording of the
  left-out one (compare with the plain waveform CNN's column in docs/results.md).

Usage: .venv/bin/python bench/whiten_experiment.py [--smooth-hz 20] [--seed 42] [--loso b e]
Models go to runs/whiten/ (not in git), results to bench/results/whiten-*.json. Resumable.
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


def train_waveform(records, out: Path, preset: dict, seed: int) -> Path:
    return _train(records, out, seed, preset=preset, kind="waveform", epochs=12, patience=4)


def train_fusion(records, out: Path, spectrogram: Path, waveform: Path, seed: int) -> Path:
    """bench/train_models.sh's fusion step: the head on the two frozen experts."""
    return _train(records, out, seed, kind="fusion", epochs=6, patience=3, freeze_branches=True,
                  branch_models=[str(spectrogram), str(waveform)])


def _train(records, out: Path, seed: int, **settings) -> Path:
    from audiofuse_core.training import TrainConfig, train

    if out.is_file():
        return out
    run_dir = out.with_name(out.stem + ".run")
    config = TrainConfig(out=str(out), seed=seed, windows_per_record=3,
                         cache_dir=str(REPO / ".cache"),
                         resume=(run_dir / "state.json").is_file(), **settings)
    train(config, records)
    return out


def _summary(meta: dict) -> dict:
    return {k: meta[k] for k in ("validation", "best_epoch", "training_seconds", "history",
                                 "threshold")}


def _line(meta: dict) -> str:
    val = meta["validation"]
    return (f"ROC-AUC {val['overall']['roc_auc']:.3f}, MCC {val['overall']['mcc']:.3f}, within "
            + ", ".join(f"{k} {v['roc_auc']:.3f}" for k, v in val["per_subset"].items()
                        if v.get("roc_auc") is not None))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smooth-hz", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--loso", nargs="*", default=["b", "a", "f"])
    parser.add_argument("--skip-in-domain", action="store_true")
    args = parser.parse_args()

    from audiofuse_core.datasets import scan
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.modelfile import read_model_metadata
    from audiofuse_core.presets import DEFAULT

    preset = DEFAULT.replace(waveform_whiten_hz=args.smooth_hz).to_dict()
    records = scan(SHARED / "physionet2016-dev").records
    runs = REPO / "runs" / "whiten"
    runs.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = f"w{args.smooth_hz:g}-s{args.seed}"
    spectrogram_expert = REPO / "resources" / "models" / "audiofuse-spectrogram.keras"  # seed 42
    if not args.skip_in_domain:
        waveform = train_waveform(records, runs / f"waveform-{tag}.keras", preset, args.seed)
        fusion = train_fusion(records, runs / f"fusion-{tag}.keras", spectrogram_expert,
                              waveform, args.seed)
        for kind, model in (("waveform", waveform), ("fusion", fusion)):
            meta = read_model_metadata(model)
            (RESULTS / f"whiten-{tag}-{kind}-validation.json").write_text(
                json.dumps(_summary(meta), indent=1))
            print(f"in-domain {kind} {tag}: {_line(meta)}", flush=True)
    for letter in args.loso:
        held = f"training-{letter}"
        kept = [r for r in records if r.subset != held]
        held_records = [r for r in records if r.subset == held]
        models = {"waveform": train_waveform(kept, runs / f"loso-{letter}-waveform-{tag}.keras",
                                             preset, args.seed)}
        expert = REPO / "runs" / f"loso-{letter}-spectrogram.keras"  # from bench/robustness.py
        if expert.is_file():
            models["fusion"] = train_fusion(kept, runs / f"loso-{letter}-fusion-{tag}.keras",
                                            expert, models["waveform"], args.seed)
        for kind, model in models.items():
            report = evaluate(model, held_records)
            (RESULTS / f"whiten-{tag}-loso-{letter}-{kind}.json").write_text(report.to_json())
            m = report.overall
            print(f"left out {held}, {kind}: ROC-AUC {m['roc_auc']:.3f} [{m['roc_auc_low']:.3f}, "
                  f"{m['roc_auc_high']:.3f}], sensitivity {m['sensitivity']:.3f}, specificity "
                  f"{m['specificity']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
