"""Which recordings of one subset does the model misorder, and how do they sound?

From the per-recording opinions stored by ``bench/window_pooling.py collect`` (the network's and
the feature expert's probabilities, mixed as the model file says; the last Platt step keeps the
order), for each TAG: every normal recording of the subset's validation part with the number of
abnormal ones it is scored above (its misordered pairs; the subset's ROC-AUC is one minus their
sum over all pairs). The normal recordings misordered most often by every TAG are then compared
with the other normal and the abnormal recordings on one figure the feature expert also reads:
how much louder systole is than diastole in each band of the heart cycle
(:func:`audiofuse_core.cycle_features.cycle_features`, in dB; a systolic murmur raises it).

    .venv/bin/python bench/misranked.py s42 s43-rerun [--subset training-a] [--top 6]
    .venv/bin/python bench/misranked.py MODEL.keras [MODEL.keras ...] --out FILE.json

A TAG ending in ``.keras`` is a model file, scored on its validation recordings of the subset.
Writes bench/results/window-pooling/misranked-SUBSET.json (or ``--out``); prints Markdown
tables.
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
DB = 10.0 / np.log(10.0)  # natural-log power ratio to dB


def _model_scores(model: Path, subset: str, records):
    """A model file's probability for each of its validation recordings of ``subset`` among
    ``records``, as ``audiofuse evaluate`` gives it: names, labels (1: abnormal), probabilities.
    """
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.modelfile import read_model_metadata

    validation = set(read_model_metadata(model)["split"]["validation_records"])
    report = evaluate(model, [r for r in records if r.subset == subset and r.name in validation])
    scored = [r for r in report.results if r.error is None]
    return (np.array([r.record.name for r in scored]), np.array([r.record.label for r in scored]),
            np.array([r.probability for r in scored], dtype=np.float64))


def misordered(tag: str, subset: str, records) -> dict[str, dict[str, float]]:
    """Each recording of ``subset``: its label, mixed probability and misordered pairs. ``tag``:
    stored opinions (bench/window_pooling.py), or a model file (``.keras``) to score on
    ``records``.
    """
    if tag.endswith(".keras"):
        names, labels, probs = _model_scores(Path(tag), subset, records)
    else:
        data = dict(np.load(OUT / f"{tag}.npz"))
        weight = float(data["expert_weight"])
        mask = data["subset"] == subset
        names, labels = data["name"][mask], data["label"][mask]
        probs = ((1 - weight) * data["network"] + weight * data["expert"])[mask]
    out = {}
    for name, label, p in zip(names, labels, probs):
        other = probs[labels != label]
        # a normal recording scored above an abnormal one, or an abnormal one below a normal one
        above = (other < p).sum() if label == 0 else (other > p).sum()
        wrong = above + 0.5 * (other == p).sum()
        out[str(name)] = {"label": int(label), "probability": float(p), "misordered": float(wrong)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("tags", nargs="+")
    parser.add_argument("--subset", default="training-a")
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--out", type=Path, help="the JSON written (default: "
                        "bench/results/window-pooling/misranked-SUBSET.json)")
    args = parser.parse_args()

    from audiofuse_core.audio import load_audio
    from audiofuse_core.cycle_features import BANDS_HZ, cycle_feature_names, cycle_features
    from audiofuse_core.datasets import scan

    dataset = scan(SHARED / "physionet2016-dev").records
    per_tag = {tag: misordered(tag, args.subset, dataset) for tag in args.tags}
    first = per_tag[args.tags[0]]
    normals = [n for n, v in first.items() if v["label"] == 0]
    abnormal = [n for n, v in first.items() if v["label"] == 1]
    pairs = len(normals) * len(abnormal)
    print(f"{args.subset}: {len(normals)} normal, {len(abnormal)} abnormal, {pairs} pairs\n")
    print("| normal recording | " + " | ".join(f"{Path(t).stem}: misordered (probability)"
                                               for t in args.tags) + " |")
    print("|---|" + "---|" * len(args.tags))
    worst = sorted(normals, key=lambda n: -sum(per_tag[t][n]["misordered"] for t in args.tags))
    for name in worst:
        print(f"| {name} | " + " | ".join(
            f"{per_tag[t][name]['misordered']:.0f} ({per_tag[t][name]['probability']:.2f})"
            for t in args.tags) + " |")
    top = {t: set(sorted(normals, key=lambda n: -per_tag[t][n]["misordered"])[:args.top])
           for t in args.tags}
    common = sorted(set.intersection(*top.values()))
    summary = {t: {"roc_auc": 1 - sum(per_tag[t][n]["misordered"] for n in normals) / pairs,
                   "misordered": sum(per_tag[t][n]["misordered"] for n in normals),
                   "by_the_common": sum(per_tag[t][n]["misordered"] for n in common)}
               for t in args.tags}
    print(f"\nthe {args.top} most misordered normal recordings of every tag have "
          f"{len(common)} in common: {', '.join(common)}")
    for t, s in summary.items():
        print(f"{Path(t).stem}: ROC-AUC {s['roc_auc']:.3f}; {s['by_the_common']:.0f} of its "
              f"{s['misordered']:.0f} misordered pairs are theirs")

    records = {r.name: r for r in dataset if r.name in first}
    names = cycle_feature_names()
    columns = [i for i, n in enumerate(names) if n.startswith("systole-diastole ")]
    figures = {}
    for name in first:
        audio = load_audio(records[name].path)
        figures[name] = cycle_features(audio.samples, audio.sample_rate)[columns] * DB
    groups = {f"the {len(common)} misordered normal": common,
              "the other normal": [n for n in normals if n not in common],
              "abnormal": abnormal}
    bands = [f"{lo:.0f}-{hi:.0f}" for lo, hi in zip(BANDS_HZ[:-1], BANDS_HZ[1:])]
    medians = {g: [float(np.nanmedian([figures[n][i] for n in ns])) for i in range(len(bands))]
               for g, ns in groups.items()}
    print("\nsystole louder than diastole, dB (median of the group), by band (Hz)\n")
    print("| recordings (n) | " + " | ".join(bands) + " |")
    print("|---|" + "---|" * len(bands))
    for g, values in medians.items():
        print(f"| {g} ({len(groups[g])}) | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    from scipy.stats import spearmanr

    mid = [bands.index(b) for b in ("200-250", "250-300", "300-400")]
    correlation = {}
    for label, title in ((0, "normal"), (1, "abnormal")):
        chosen = [n for n, v in first.items() if v["label"] == label]
        result = spearmanr([float(np.mean(figures[n][mid])) for n in chosen],
                           [first[n]["probability"] for n in chosen], nan_policy="omit")
        correlation[title] = {"rho": float(result.statistic), "p": float(result.pvalue),
                              "n": len(chosen)}
        print(f"{title}: Spearman rho of the 200-400 Hz figure and {args.tags[0]}'s probability "
              f"{result.statistic:.2f} (p {result.pvalue:.2f}, n {len(chosen)})")
    out = args.out or OUT / f"misranked-{args.subset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "tags": args.tags, "subset": args.subset, "summary": summary, "common": common,
        "recordings": per_tag, "bands_hz": bands, "systole_minus_diastole_db": medians,
        "correlation_200_400hz": correlation,
        "per_recording_db": {n: [float(v) for v in f] for n, f in figures.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
