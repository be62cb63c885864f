"""Validate (and learn) the heart-cycle segmentation on CirCor's expert segmentations.

    .venv/bin/python bench/validate_heartcycle.py [DATA] [--folds 5] [--fit] [--json OUT]

DATA defaults to ``../shared/data/circor2022-dev/training_data``. Every recording is read the
way the classifier reads it (resampled to the default model's 2000 Hz) and segmented whole.

* Cross-validation by patient: the patients are split into ``--folds`` groups; each group is
  segmented with parameters learned on the other groups only, so no figure comes from a patient
  the model was fitted on. The heart rate itself needs no learning (it is an autocorrelation
  peak); only the systolic-interval prior, the durations and the emission regression are learned.
* Heart rate: the reference is 60 / the median interval between consecutive annotated S1 onsets
  of fully annotated cycles. The estimate is made on the whole recording (what the product
  reports) and, for comparison, on the annotated span alone.
* S1/S2 detection: a reference sound counts as found when a detected sound of the same kind has
  its centre within 60 ms of the reference centre (one-to-one; Schmidt et al. 2010's rule).
  Only detections whose centre lies inside an annotated stretch are scored.
* ``--fit`` then learns the parameters on every recording and writes
  ``audiofuse_core/heartcycle_params.json`` (the shipped parameters).
* ``--holdout DIR`` scores the shipped parameters on other annotated recordings (the two CirCor
  records in tests/data are not among the 30 development patients).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audiofuse_core import heartcycle as hc  # noqa: E402
from audiofuse_core.audio import load_audio  # noqa: E402
from audiofuse_core.quality import assess_quality  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "circor2022-dev" / "training_data"
TOLERANCE = 0.060
MODEL_RATE = 2000


def annotated_runs(rows: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous stretches of annotated (state 1-4) rows as (start, end) in s."""
    runs: list[tuple[float, float]] = []
    for start, end, state in rows:
        if state == 0:
            continue
        if runs and abs(runs[-1][1] - start) < 1e-3:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def reference_heart_rate(rows: np.ndarray) -> float | None:
    """60 / median S1-to-S1 interval over cycles that are fully annotated."""
    intervals = []
    s1_rows = np.flatnonzero(rows[:, 2] == 1)
    for a, b in zip(s1_rows[:-1], s1_rows[1:]):
        between = rows[a:b, 2]
        if np.all(between > 0) and 3 in between:
            intervals.append(rows[b, 0] - rows[a, 0])
    return 60.0 / float(np.median(intervals)) if intervals else None


def inside(times: np.ndarray, runs: list[tuple[float, float]]) -> np.ndarray:
    mask = np.zeros(len(times), dtype=bool)
    for start, end in runs:
        mask |= (times >= start) & (times <= end)
    return mask


def load(data: Path) -> list[dict]:
    items = []
    for tsv in sorted(data.glob("*.tsv")):
        wav = tsv.with_suffix(".wav")
        if not wav.is_file():
            continue
        rows = hc.read_annotations(tsv)
        if not np.any(rows[:, 2] > 0):
            continue
        audio = load_audio(wav, sample_rate=MODEL_RATE)
        env = hc.envelopes(audio.samples, audio.sample_rate)
        items.append({"name": tsv.stem, "patient": tsv.stem.split("_")[0], "rows": rows,
                      "samples": audio.samples, "env": env,
                      "quality_ok": assess_quality(audio.samples, MODEL_RATE, env=env).ok})
    return items


def evaluate(item: dict, params: hc.HSMMParams) -> dict:
    rows = item["rows"]
    runs = annotated_runs(rows)
    cycles = hc.segment(item["samples"], MODEL_RATE, params=params, env=item["env"])
    out = {"name": item["name"], "reference_bpm": reference_heart_rate(rows),
           "estimated_bpm": cycles.heart_rate_bpm, "periodicity": cycles.periodicity,
           "autocorrelation_bpm": hc.estimate_heart_rate(item["env"], params).heart_rate_bpm}
    intervals = np.diff(cycles.s1_onsets)
    intervals = intervals[intervals <= 60.0 / hc.MIN_BPM]
    out["cycles_bpm"] = (60.0 / float(np.median(intervals))
                         if cycles.heart_rate_bpm is not None and len(intervals) else None)
    # the rate measured on the annotated span alone
    start = int(runs[0][0] * MODEL_RATE)
    stop = int(runs[-1][1] * MODEL_RATE)
    if stop - start > 3 * MODEL_RATE:
        out["span_bpm"] = hc.segment(item["samples"][start:stop], MODEL_RATE,
                                     params=params).heart_rate_bpm
    else:
        out["span_bpm"] = None
    for kind, state, detected in (("s1", 1, cycles.s1_centres), ("s2", 3, cycles.s2_centres)):
        ref_rows = rows[rows[:, 2] == state]
        reference = (ref_rows[:, 0] + ref_rows[:, 1]) / 2.0
        detected = detected[inside(detected, runs)]
        hits = hc.match_events(detected, reference, TOLERANCE)
        out[kind] = {"tp": hits, "fp": len(detected) - hits, "fn": len(reference) - hits}
    out["quality_ok"] = item["quality_ok"]
    return out


def f1(counts: list[dict]) -> dict:
    tp = sum(c["tp"] for c in counts)
    fp = sum(c["fp"] for c in counts)
    fn = sum(c["fn"] for c in counts)
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    return {"f1": 2 * precision * recall / max(precision + recall, 1e-12),
            "precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn}


def summarise(results: list[dict]) -> dict:
    def errors(key: str) -> tuple[np.ndarray, int]:
        pairs = [(r["reference_bpm"], r[key]) for r in results if r["reference_bpm"] is not None]
        measured = np.array([abs(e - ref) for ref, e in pairs if e is not None])
        return measured, sum(1 for _, e in pairs if e is None)

    summary = {"recordings": len(results)}
    for key in ("estimated_bpm", "autocorrelation_bpm", "cycles_bpm", "span_bpm"):
        err, missing = errors(key)
        summary[key] = {
            "median_abs_error": float(np.median(err)) if len(err) else None,
            "mean_abs_error": float(np.mean(err)) if len(err) else None,
            "within_5_bpm": float(np.mean(err <= 5)) if len(err) else None,
            "not_measured": missing, "measured": int(len(err)),
        }
    summary["s1"] = f1([r["s1"] for r in results])
    summary["s2"] = f1([r["s2"] for r in results])
    summary["s1_s2"] = f1([r["s1"] for r in results] + [r["s2"] for r in results])
    per_record = [f1([r["s1"], r["s2"]])["f1"] for r in results]
    summary["median_record_f1"] = float(np.median(per_record))
    return summary


def params_json(params: hc.HSMMParams) -> str:
    """The parameters as JSON with one weight row per line (small and diff-friendly)."""
    data = params.to_dict()
    rows = data.pop("weights")
    body = json.dumps(data, indent=1)[1:-2]
    weight_lines = ",\n".join("  " + json.dumps(row) for row in rows)
    return "{\n \"weights\": [\n" + weight_lines + "\n ]," + body + "\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fit", action="store_true", help="write the shipped parameters")
    parser.add_argument("--json", help="write the figures and per-recording results here")
    parser.add_argument("--holdout", help="also score the shipped parameters on this folder")
    args = parser.parse_args()

    started = time.perf_counter()
    items = load(Path(args.data))
    patients = sorted({i["patient"] for i in items})
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(patients))
    fold_of = {patients[k]: n % args.folds for n, k in enumerate(order)}
    print(f"{len(items)} recordings of {len(patients)} patients, {args.folds} folds by patient "
          f"(read in {time.perf_counter() - started:.1f} s)")
    results = []
    for fold in range(args.folds):
        train = [(i["env"], i["rows"]) for i in items if fold_of[i["patient"]] != fold]
        params = hc.fit_params(train, source=f"cv fold {fold}")
        for item in items:
            if fold_of[item["patient"]] == fold:
                results.append(evaluate(item, params) | {"fold": fold})
    summary = summarise(results)
    # what a user of the product sees: the recordings the quality gate lets through
    for verdict, name in ((True, "gate_accepted"), (False, "gate_refused")):
        chosen = [r for r in results if r["quality_ok"] is verdict]
        if chosen:
            summary[name] = summarise(chosen)
    print(json.dumps(summary, indent=2))
    worst = sorted(results, key=lambda r: f1([r["s1"], r["s2"]])["f1"])[:8]
    for r in worst:
        print(f"  {r['name']}: F1 {f1([r['s1'], r['s2']])['f1']:.2f}, reference "
              f"{r['reference_bpm'] or float('nan'):.0f} bpm, estimated "
              f"{r['estimated_bpm'] or float('nan'):.0f} bpm, periodicity {r['periodicity']:.2f}")
    if args.fit:
        params = hc.fit_params([(i["env"], i["rows"]) for i in items],
                               source=f"CirCor 2022 dev ({len(patients)} patients, "
                                      f"{len(items)} recordings), bench/validate_heartcycle.py")
        hc.PARAMS_PATH.write_text(params_json(params), encoding="utf-8")
        hc.default_params.cache_clear()
        print(f"wrote {hc.PARAMS_PATH}")
    if args.holdout:
        held = load(Path(args.holdout))
        held_results = [evaluate(item, hc.default_params()) for item in held]
        print(f"hold-out ({len(held)} recordings, shipped parameters):")
        for r in held_results:
            print(f"  {r['name']}: F1 {f1([r['s1'], r['s2']])['f1']:.3f}, reference "
                  f"{r['reference_bpm']:.1f} bpm, estimated {r['estimated_bpm'] or float('nan'):.1f}"
                  " bpm")
        summary["holdout"] = {"results": held_results, "summary": summarise(held_results)}
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "results": results},
                                              indent=1, default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
