"""Validation tables for docs/results.md, read from the model files' own metadata.

    .venv/bin/python bench/results_tables.py runs/fusion-s42.keras runs/fusion-s43.keras ...

Prints one row per model (overall and within training-a, -b, -e, -f, ROC-AUC with its 95 %
bootstrap interval), then the mean and standard deviation over the models of each kind (the
seeds), as Markdown.

Model files stay out of git (runs/ is private to a session); ``--keep DIR`` writes each model's
metadata as ``DIR/<file stem>.json``, and such JSON files are read like model files, so the table
can be rebuilt after the models are gone:

    .venv/bin/python bench/results_tables.py runs/*-s4?.keras --keep bench/results/seeds
    .venv/bin/python bench/results_tables.py bench/results/seeds/*.json
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SUBSETS = ("training-a", "training-b", "training-e", "training-f")


def _auc(m: dict) -> str:
    return f"{m['roc_auc']:.3f} [{m['roc_auc_low']:.2f}, {m['roc_auc_high']:.2f}]"


def _ece(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _metadata(path: str, keep: Path | None) -> dict:
    from audiofuse_core.modelfile import read_model_metadata

    if path.endswith(".json"):
        return json.loads(Path(path).read_text())
    meta = read_model_metadata(path)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / f"{Path(path).stem}.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main(args: list[str]) -> int:
    keep = None
    if "--keep" in args:
        at = args.index("--keep")
        keep = Path(args[at + 1])
        args = args[:at] + args[at + 2:]
    paths = args
    rows: dict[str, list[dict]] = {}
    print("| model | seed | best epoch | minutes | ROC-AUC [95 % CI] | MCC | F1 abn. | accuracy | "
          + " | ".join(f"{s[-1]} ROC-AUC" for s in SUBSETS) + " | ECE before / after |")
    print("|---" * (9 + len(SUBSETS)) + "|")
    for path in paths:
        meta = _metadata(path, keep)
        val = meta["validation"]
        overall, per = val["overall"], val["per_subset"]
        kind, seed = meta["kind"], meta["training"]["seed"]
        if kind == "fusion" and meta.get("feature_expert"):
            kind += " (mean of experts + feature expert)"
        elif kind == "fusion" and meta["training"].get("fusion_rule") == "mean":
            kind += " (mean of experts)"
        elif kind == "fusion":
            kind += " (experts + head)" if meta["training"].get("branch_models") \
                else " (end to end)"
        rows.setdefault(kind, []).append(meta)
        cells = [_auc(per[s]) if s in per else "-" for s in SUBSETS]
        best = meta["best_epoch"] if meta["best_epoch"] is not None else "-"
        print(f"| {kind} | {seed} | {best} | {meta['training_seconds'] / 60:.1f} | "
              f"{_auc(overall)} | {overall['mcc']:.3f} | {overall['f1_abnormal']:.3f} | "
              f"{overall['accuracy']:.3f} | " + " | ".join(cells)
              + f" | {_ece(val.get('ece_before_calibration'))} / "
              f"{_ece(val.get('ece_after_calibration'))} |")
    print()
    print("| model | seeds | ROC-AUC | MCC | F1 abn. | accuracy | "
          + " | ".join(f"{s[-1]} ROC-AUC" for s in SUBSETS) + " |")
    print("|---" * (6 + len(SUBSETS)) + "|")
    for kind, metas in rows.items():
        def stat(get, metas=metas) -> str:
            values = [v for v in map(get, metas) if v is not None]
            if not values:  # a subset left out of these models' training and validation
                return "-"
            if len(values) == 1:
                return f"{values[0]:.3f}"
            return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
        overall = [lambda m, k=k: m["validation"]["overall"][k]
                   for k in ("roc_auc", "mcc", "f1_abnormal", "accuracy")]
        subsets = [lambda m, s=s: m["validation"]["per_subset"].get(s, {}).get("roc_auc")
                   for s in SUBSETS]
        print(f"| {kind} | {len(metas)} | " + " | ".join(stat(g) for g in overall + subsets) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
