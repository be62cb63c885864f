"""Does an ensemble of training seeds hear the heart better than one seed?

The experts of seed 42 (the bundled ones) and of other seeds (runs/{spectrogram,waveform}-sS.keras,
made by bench/train_models.sh) are each scored on our validation split (in-domain) and on CirCor
2022 zero-shot. From their calibrated probabilities: the mean-of-experts fusion of each seed that
has both experts (what `audiofuse combine` computes, before its last temperature, which does not
change a ranking much), the ensemble of all of them with each branch weighted one half, and each
branch's own seed ensemble (the baselines the ensemble must beat). With --build, the ensemble is
also written as a model file by `audiofuse combine` (its card has the exact validation figures).

    .venv/bin/python bench/seed_ensemble.py [--spectrogram 42 43] [--waveform 42] [--build]
Scores go to bench/results/seed-ensemble-scores.json (resumable: scores already there are kept),
models to runs/ (not in git); a Markdown table is printed.
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
RESULTS = REPO / "bench" / "results"
RUNS = REPO / "runs"
BRANCHES = ("spectrogram", "waveform")


def expert(kind: str, seed: int) -> Path:
    if seed == 42:
        return REPO / "resources" / "models" / f"audiofuse-{kind}.keras"
    return RUNS / f"{kind}-s{seed}.keras"


def fuse(scored: dict[str, np.ndarray], members: dict[str, list[int]]) -> np.ndarray:
    """Each branch's members averaged, then the two branches averaged (combine's weighting)."""
    branches = [np.mean([scored[f"{kind}-s{seed}"] for seed in seeds], axis=0)
                for kind, seeds in members.items() if seeds]
    return np.mean(branches, axis=0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spectrogram", nargs="+", type=int, default=[42, 43],
                        help="the seeds of the spectrogram experts")
    parser.add_argument("--waveform", nargs="+", type=int, default=[42],
                        help="the seeds of the waveform experts")
    parser.add_argument("--build", action="store_true",
                        help="also write the ensemble model file with audiofuse combine")
    args = parser.parse_args()
    seeds = {"spectrogram": args.spectrogram, "waveform": args.waveform}

    from audiofuse_core.datasets import scan
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.metrics import auc_interval, roc_auc
    from audiofuse_core.modelfile import read_model_metadata

    physionet = scan(SHARED / "physionet2016-dev").records
    names = set(read_model_metadata(expert("waveform", args.waveform[0]))["split"]
                ["validation_records"])
    sets = {"validation": [r for r in physionet if r.name in names],
            "circor": scan(SHARED / "circor2022-dev").records}
    tag = "-".join(f"{kind[0]}{'+'.join(str(s) for s in seeds[kind])}" for kind in BRANCHES)
    store = RESULTS / "seed-ensemble-scores.json"  # every expert scored, whatever the tag
    saved = json.loads(store.read_text()) if store.is_file() else {}
    for kind in BRANCHES:
        for seed in seeds[kind]:
            for where, records in sets.items():
                key = f"{kind}-s{seed}@{where}"
                if key in saved:
                    continue
                report = evaluate(expert(kind, seed), records, bootstrap=0)
                saved[key] = {"names": [r.record.name for r in report.results],
                              "subsets": [r.record.subset for r in report.results],
                              "labels": [int(r.record.label) for r in report.results],
                              "probabilities": [r.probability for r in report.results],
                              "errors": [r.error for r in report.results]}
                RESULTS.mkdir(parents=True, exist_ok=True)
                store.write_text(json.dumps(saved))
                print(f"scored {key}", file=sys.stderr, flush=True)

    rows: dict[str, dict[str, list[int]]] = {}
    for kind in BRANCHES:
        for seed in seeds[kind]:
            rows[f"{kind}-s{seed}"] = {kind: [seed]}
    for seed in sorted(set(args.spectrogram) & set(args.waveform)):
        rows[f"mean of experts, seed {seed}"] = {kind: [seed] for kind in BRANCHES}
    for kind in BRANCHES:
        if len(seeds[kind]) > 1:
            rows[f"{kind} seeds {'+'.join(map(str, seeds[kind]))}"] = {kind: seeds[kind]}
    rows[f"ensemble {tag}"] = seeds

    print("| model | validation ROC-AUC [95 % CI] | a | b | e | f | CirCor ROC-AUC [95 % CI] |")
    print("|---|---|---|---|---|---|---|")
    table = {}
    for title, members in rows.items():
        figures = {}
        for where in sets:
            keys = [f"{kind}-s{seed}" for kind, ss in members.items() for seed in ss]
            first = saved[f"{keys[0]}@{where}"]
            labels, subsets = np.array(first["labels"]), np.array(first["subsets"])
            scored = {key: np.array(saved[f"{key}@{where}"]["probabilities"], dtype=float)
                      for key in keys}  # None (a refused recording) becomes nan
            probs = fuse(scored, members)
            ok = np.isfinite(probs)  # every member scored it (they refuse the same ones)
            labels, subsets, probs = labels[ok], subsets[ok], probs[ok]
            low, high = auc_interval(labels, probs)
            figures[where] = {"roc_auc": roc_auc(labels, probs), "low": low, "high": high,
                              "n": int(len(labels)), "n_abnormal": int(labels.sum())}
            if where == "validation":
                figures["within"] = {letter: roc_auc(labels[subsets == f"training-{letter}"],
                                                     probs[subsets == f"training-{letter}"])
                                     for letter in "abef"}
        table[title] = figures
        v, c = figures["validation"], figures["circor"]
        print(f"| {title} | {v['roc_auc']:.3f} [{v['low']:.2f}, {v['high']:.2f}] | "
              + " | ".join(f"{figures['within'][x]:.3f}" for x in "abef")
              + f" | {c['roc_auc']:.3f} [{c['low']:.2f}, {c['high']:.2f}] |", flush=True)
    (RESULTS / f"seed-ensemble-{tag}-table.json").write_text(json.dumps(table, indent=1))

    if args.build:
        from audiofuse_core.ensemble import combine_experts

        out = RUNS / f"ensemble-{tag}.keras"
        if not out.is_file():
            combine_experts([expert(k, s) for k in BRANCHES for s in seeds[k]], physionet, out,
                            cache_dir=REPO / ".cache")
        validation = read_model_metadata(out)["validation"]
        print(f"{out.name}: its own validation figures (combine, windows as in training): "
              + json.dumps({k: validation["overall"].get(k) for k in ("roc_auc", "mcc")})
              + " within " + json.dumps({k: round(v.get("roc_auc") or 0, 3) for k, v in
                                         validation.get("per_subset", {}).items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
