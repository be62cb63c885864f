"""The paper's full-size preset (``PAPER``: 22 050 Hz, the first 5-s window, a 224 x 224 log-Mel
image, ViT of depth 6 and width 192, the three-layer CNN, the fusion head), trained end to end on
a GPU machine lent to a session (JAX backend; the device has no TensorFlow), on our split of the
PhysioNet 2016 development set (the bundled default's training and validation recordings).

    .venv/bin/python bench/paper_gpu.py pack          # here: .gpu/paper-data.npz
    KERAS_BACKEND=jax python3 bench/paper_gpu.py train --epochs N --out DIR   # on the device
    .venv/bin/python bench/paper_gpu.py report FILE   # here: the figures, with our metrics code

``pack`` keeps the first 5 s of every recording at PhysioNet's own 2000 Hz (int16, 43 MB); the
device brings them to 22 050 Hz with the core's resampler, as the Classifier would. ``train``
follows the paper's recipe where it is known (AdamW, class weights, batch 32, the first window)
and our own choices where it is silent (learning rate 5e-4 as in our presets, weight decay 1e-4,
a fixed number of epochs, no augmentation, the epoch kept that scores best on the validation
recordings: optimistic, as every figure chosen on them is); it writes every validation
recording's probability, the history and the timings to ``DIR/paper-gpu.json``.

Under a new device, the same preset (2026-12-04, second lent machine):

    .venv/bin/python bench/paper_gpu.py pack-shift    # here: .gpu/paper-shift.npz
    KERAS_BACKEND=jax python3 bench/paper_gpu.py shift --epochs N --out DIR   # on the device
    .venv/bin/python bench/paper_gpu.py report-shift FILE

``pack-shift`` keeps the first 5 s of the CirCor development recordings (murmur present or absent,
the 85 that ``evaluate`` scores; 4000 Hz, their own rate) and of the labelled PASCAL samples (at
22 050 Hz). ``shift`` trains one model on the whole training split and scores it on the
validation recordings, CirCor and PASCAL, then one model per left-out subset (a, b, e, f): trained
on the other subsets' training recordings, its epoch chosen on their validation recordings, and
scored on every recording of the subset it never heard. One compiled model serves every run
(fresh weights and optimiser state for each), so the device compiles once.
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
DATA = REPO.parent / "shared" / "data" / "physionet2016-dev"
PACKED = REPO / ".gpu" / "paper-data.npz"
SHIFT = REPO / ".gpu" / "paper-shift.npz"
SOURCE_RATE = 2000
EXTRA_RATES = {"circor": 4000, "pascal": 22050}
LEFT_OUT = ("a", "b", "e", "f")


def _first_seconds(records, rate: int) -> np.ndarray:
    """The first 5 s of each recording at ``rate``, as int16 rows (zero-padded)."""
    from audiofuse_core.audio import load_audio

    x = np.zeros((len(records), 5 * rate), np.int16)
    for i, record in enumerate(records):
        samples = load_audio(record.path, sample_rate=rate).samples[:5 * rate]
        x[i, :len(samples)] = np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16)
    return x


def pack() -> int:
    from audiofuse_core.datasets import scan_physionet
    from audiofuse_core.modelfile import read_model_metadata

    split = read_model_metadata(REPO / "resources/models/audiofuse-default.keras")["split"]
    by_name = {r.name: r for d in sorted(DATA.glob("training-*"))
               for r in scan_physionet(d, probe=False).records}
    arrays = {}
    for part in ("training", "validation"):
        records = [by_name[n] for n in sorted(split[f"{part}_records"])]
        arrays[f"x_{part}"] = _first_seconds(records, SOURCE_RATE)
        arrays[f"y_{part}"] = np.array([r.label for r in records], np.int8)
        arrays[f"subset_{part}"] = np.array([r.subset for r in records])
        arrays[f"name_{part}"] = np.array([r.name for r in records])
    PACKED.parent.mkdir(exist_ok=True)
    np.savez_compressed(PACKED, **arrays)
    print(f"{PACKED}: {PACKED.stat().st_size / 1e6:.1f} MB,",
          {k: v.shape for k, v in arrays.items() if k.startswith("x_")})
    return 0


def pack_shift() -> int:
    from audiofuse_core.datasets import scan, scan_pascal

    samples = DATA.parent / "samples"
    sets = {"circor": scan(DATA.parent / "circor2022-dev", probe=False).records,
            "pascal": scan_pascal(samples / "pascal_chsc2011", artifact_as_abnormal=True).records}
    arrays = {}
    for name, records in sets.items():
        arrays[f"x_{name}"] = _first_seconds(records, EXTRA_RATES[name])
        arrays[f"y_{name}"] = np.array([r.label for r in records], np.int8)
        arrays[f"name_{name}"] = np.array([r.name for r in records])
    np.savez_compressed(SHIFT, **arrays)
    print(f"{SHIFT}: {SHIFT.stat().st_size / 1e6:.1f} MB,",
          {k: (v.shape, int(arrays['y_' + k[2:]].sum())) for k, v in arrays.items()
           if k.startswith("x_")})
    return 0


def shift(epochs: int, out: Path, *, batch: int = 32, seeds: tuple[int, ...] = (42,),
          left_out: tuple[str, ...] = LEFT_OUT, limit: int | None = None,
          max_seconds: float | None = None) -> int:
    """Train the paper preset once on everything, then once per left-out subset (module doc)."""
    import keras

    from audiofuse_core.audio import resample
    from audiofuse_core.metrics import roc_auc
    from audiofuse_core.models import build_model
    from audiofuse_core.presets import PAPER

    started = time.monotonic()
    data, extra = np.load(PACKED), np.load(SHIFT)

    def waveforms(x: np.ndarray, rate: int) -> np.ndarray:
        up = [resample(row.astype(np.float32) / 32767, rate, PAPER.sample_rate) for row in x]
        return np.stack([w[:PAPER.window_samples] for w in up]).astype(np.float32)

    parts = ("training", "validation")

    def take(values: np.ndarray) -> np.ndarray:  # a smoke run here: a few, spread over the subsets
        return values if limit is None else values[np.linspace(0, len(values) - 1, limit).astype(int)]

    x = np.concatenate([waveforms(take(data[f"x_{p}"]), SOURCE_RATE) for p in parts])
    y = np.concatenate([take(data[f"y_{p}"]) for p in parts]).astype(np.float32)
    subset = np.concatenate([take(data[f"subset_{p}"]) for p in parts])
    names = np.concatenate([take(data[f"name_{p}"]) for p in parts])
    part = np.concatenate([np.full(len(take(data[f"y_{p}"])), p) for p in parts])
    extras = {k: (waveforms(take(extra[f"x_{k}"]), EXTRA_RATES[k]), take(extra[f"y_{k}"]),
                  take(extra[f"name_{k}"])) for k in EXTRA_RATES}
    prepared = time.monotonic() - started
    print(f"data {x.shape}, {({k: v[0].shape for k, v in extras.items()})} ready in "
          f"{prepared:.1f} s ({keras.backend.backend()})", flush=True)

    model = build_model(PAPER, "fusion", seed=seeds[0])
    model.compile(optimizer=keras.optimizers.AdamW(5e-4, weight_decay=1e-4),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))

    def logits(inputs: np.ndarray) -> np.ndarray:
        # padded to whole batches: one compiled shape for every set
        pad = -len(inputs) % 64
        padded = np.concatenate([inputs, np.zeros((pad, *inputs.shape[1:]), inputs.dtype)])
        return np.asarray(model.predict(padded, batch_size=64, verbose=0)).reshape(-1)[:len(inputs)]

    def scored(inputs: np.ndarray, labels: np.ndarray, who: np.ndarray, last_weights: list,
               best_weights: list, where: np.ndarray | None = None) -> dict:
        model.set_weights(last_weights)
        last = logits(inputs)
        model.set_weights(best_weights)
        best = logits(inputs)
        entry = {"name": who.tolist(), "label": labels.astype(int).tolist(),
                 "logit": [round(float(v), 5) for v in best],
                 "logit_last_epoch": [round(float(v), 5) for v in last]}
        if where is not None:
            entry["subset"] = where.tolist()
        return entry

    for seed in seeds:
        rng = np.random.default_rng(seed)
        result = {"preset": "paper", "kind": "fusion", "backend": keras.backend.backend(),
                  "seed": seed, "epochs": epochs, "batch_size": batch,
                  "params": int(model.count_params()), "data_seconds": round(prepared, 1), "runs": {}}
        for held in (None, *(f"training-{letter}" for letter in left_out)):
            run = "all" if held is None else f"without-{held[-1]}"
            if max_seconds and time.monotonic() - started > max_seconds:
                print(f"{run}: not started, the time budget is spent", flush=True)
                break
            tick = time.monotonic()
            fresh = build_model(PAPER, "fusion", seed=seed)  # a new start for every run
            model.set_weights(fresh.get_weights())
            del fresh
            for variable in model.optimizer.variables:  # Adam's moments and step count, not the rate
                if "learning_rate" not in variable.path:
                    variable.assign(np.zeros(variable.shape, variable.dtype))
            train_idx = np.flatnonzero((part == "training") & (subset != held))
            val_idx = np.flatnonzero((part == "validation") & (subset != held))
            positives = float(y[train_idx].mean())
            weights = {0: 0.5 / (1 - positives), 1: 0.5 / positives}  # classes balanced overall
            history, best = [], (-1.0, 0, None)
            for epoch in range(1, epochs + 1):
                order = rng.permutation(train_idx)  # whole batches only: no second compiled shape
                order = np.concatenate([order, rng.choice(train_idx, -len(order) % batch)])
                t0 = time.monotonic()
                fit = model.fit(x[order], y[order, None], batch_size=batch, epochs=1, shuffle=False,
                                class_weight=weights, verbose=0)
                val_logits = logits(x[val_idx])  # a diverged epoch has no score
                auc = (float(roc_auc(y[val_idx], val_logits)) if np.isfinite(val_logits).all()
                       else float("nan"))
                history.append({"epoch": epoch, "loss": round(float(fit.history["loss"][-1]), 5),
                                "val_auc": round(auc, 5), "seconds": round(time.monotonic() - t0, 1)})
                print(run, json.dumps(history[-1]), flush=True)
                if auc > best[0]:
                    best = (auc, epoch, model.get_weights())
            last_weights = model.get_weights()
            entry = {"held_out": held, "n_training": int(len(train_idx)),
                     "n_validation": int(len(val_idx)), "best_epoch": best[1], "history": history,
                     "validation": scored(x[val_idx], y[val_idx], names[val_idx], last_weights,
                                          best[2], subset[val_idx])}
            if held is None:
                for name, (inputs, labels, who) in extras.items():
                    entry[name] = scored(inputs, labels, who, last_weights, best[2])
            else:
                held_idx = np.flatnonzero(subset == held)
                entry["left_out"] = scored(x[held_idx], y[held_idx], names[held_idx], last_weights,
                                           best[2])
            entry["seconds"] = round(time.monotonic() - tick, 1)
            result["runs"][run] = entry
            result["seconds"] = round(time.monotonic() - started, 1)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"paper-shift-s{seed}.json").write_text(json.dumps(result))
            print(f"{run}: best epoch {best[1]} (inner validation {best[0]:.3f}), "
                  f"{entry['seconds']:.0f} s", flush=True)
    return 0


def _f3(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def report_shift(path: Path) -> int:
    from audiofuse_core.metrics import binary_metrics, roc_auc

    result = json.loads(Path(path).read_text())
    print("| run | scored on | n (abnormal) | best epoch | ROC-AUC [95 % CI] | last epoch |")
    print("|---|---|---|---|---|---|")
    for run, entry in result["runs"].items():
        for where in ("validation", "circor", "pascal", "left_out"):
            if where not in entry:
                continue
            scores = entry[where]
            y = np.array(scores["label"])
            m = binary_metrics(y, 1 / (1 + np.exp(-np.array(scores["logit"]))), 0.5).to_dict()
            last = binary_metrics(y, np.array(scores["logit_last_epoch"]), 0.0).to_dict()
            label = entry["held_out"] if where == "left_out" else where
            print(f"| {run} | {label} | {m['n']} ({m['n_abnormal']}) | {entry['best_epoch']} | "
                  f"{_f3(m['roc_auc'])} [{_f3(m['roc_auc_low'])}, {_f3(m['roc_auc_high'])}] | "
                  f"{_f3(last['roc_auc'])} |")
            if where == "validation" and "subset" in scores:
                subsets = np.array(scores["subset"])
                within = {s[-1]: roc_auc(y[subsets == s], np.array(scores["logit"])[subsets == s])
                          for s in sorted(set(scores["subset"]))}
                print("|  | within | " + ", ".join(f"{k} {_f3(v)}" for k, v in within.items())
                      + " | | | |")
    print(f"{result.get('seconds', 0):.0f} s in all ({result['backend']})")
    return 0


def train(epochs: int, out: Path, batch: int = 32, steps: int | None = None,
          max_seconds: float | None = None, seed: int = 42) -> int:
    import keras

    from audiofuse_core.audio import resample
    from audiofuse_core.models import build_model
    from audiofuse_core.presets import PAPER

    started = time.monotonic()
    data = np.load(PACKED)

    def waveforms(x: np.ndarray) -> np.ndarray:
        up = [resample(row.astype(np.float32) / 32767, SOURCE_RATE, PAPER.sample_rate)
              for row in x]
        return np.stack([w[:PAPER.window_samples] for w in up]).astype(np.float32)

    x_train, x_val = waveforms(data["x_training"]), waveforms(data["x_validation"])
    y_train = data["y_training"].astype(np.float32)
    y_val = data["y_validation"].astype(np.int64)
    prepared = time.monotonic() - started
    print(f"data {x_train.shape} {x_val.shape} ready in {prepared:.1f} s "
          f"({keras.backend.backend()})", flush=True)
    model = build_model(PAPER, "fusion", seed=seed)
    positives = float(y_train.mean())
    weights = {0: 0.5 / (1 - positives), 1: 0.5 / positives}  # classes balanced overall
    model.compile(optimizer=keras.optimizers.AdamW(5e-4, weight_decay=1e-4),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    from audiofuse_core.metrics import roc_auc

    history, best = [], (-1.0, None, None)
    out.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, epochs + 1):
        # the quickest epoch so far estimates the next (the first one also compiles)
        if max_seconds and history and time.monotonic() - started + min(
                h["seconds"] for h in history) > max_seconds:
            print(f"stopping before epoch {epoch}: the time budget is spent", flush=True)
            break
        tick = time.monotonic()
        fit = model.fit(x_train, y_train[:, None], batch_size=batch, epochs=1, shuffle=True,
                        class_weight=weights, verbose=0, steps_per_epoch=steps)
        logits = np.asarray(model.predict(x_val, batch_size=64, verbose=0)).reshape(-1)
        auc = float(roc_auc(y_val, logits)) if np.isfinite(logits).all() else float("nan")
        history.append({"epoch": epoch, "loss": float(fit.history["loss"][-1]),
                        "val_auc": auc, "seconds": round(time.monotonic() - tick, 1)})
        print(json.dumps(history[-1]), flush=True)
        if auc > best[0]:
            best = (auc, epoch, logits)
        last = logits
        _write_result(out, model, data, y_val, history, best, epochs, batch, prepared, started,
                      seed, last)
    result = _write_result(out, model, data, y_val, history, best, epochs, batch, prepared,
                           started, seed, last)
    print(f"best epoch {best[1]}: validation ROC-AUC {best[0]:.3f}; "
          f"{result['seconds']:.0f} s in all", flush=True)
    return 0


def _write_result(out, model, data, y_val, history, best, epochs, batch, prepared, started,
                  seed, last):
    """DIR/paper-gpu.json after every epoch (a run cut short keeps what it did)."""
    import keras

    result = {"preset": "paper", "kind": "fusion", "backend": keras.backend.backend(),
              "seed": seed,
              "epochs": epochs, "batch_size": batch, "best_epoch": best[1],
              "params": int(model.count_params()), "history": history,
              "data_seconds": round(prepared, 1),
              "seconds": round(time.monotonic() - started, 1),
              "validation": {"name": data["name_validation"].tolist(),
                             "subset": data["subset_validation"].tolist(),
                             "label": y_val.tolist(),
                             "logit": [round(float(v), 5) for v in best[2]],
                             "logit_last_epoch": [round(float(v), 5) for v in last]}}
    (out / f"paper-gpu-s{seed}.json").write_text(json.dumps(result))
    return result


def report(path: Path) -> int:
    from audiofuse_core.metrics import best_threshold, binary_metrics

    result = json.loads(Path(path).read_text())
    val = result["validation"]
    y = np.array(val["label"])
    p = 1 / (1 + np.exp(-np.array(val["logit"])))
    subset = np.array(val["subset"])
    threshold = best_threshold(y, p)
    overall = binary_metrics(y, p, threshold).to_dict()
    rows = {"overall": overall}
    for s in ("training-a", "training-b", "training-e", "training-f"):
        mask = subset == s
        rows[s] = binary_metrics(y[mask], p[mask], threshold).to_dict()
    print(json.dumps({"best_epoch": result["best_epoch"], "params": result["params"],
                      "seconds": result["seconds"], "threshold": threshold,
                      **{k: {m: v.get(m) for m in ("roc_auc", "roc_auc_low", "roc_auc_high",
                                                   "mcc")} for k, v in rows.items()}},
                     indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("pack")
    sub.add_parser("pack-shift")
    sh = sub.add_parser("shift")
    sh.add_argument("--epochs", type=int, default=40)
    sh.add_argument("--out", type=Path, default=REPO / "runs" / "paper-gpu")
    sh.add_argument("--limit", type=int, help=argparse.SUPPRESS)  # a smoke run
    sh.add_argument("--max-seconds", type=float, help="start no run after this many seconds")
    sh.add_argument("--seeds", type=int, nargs="+", default=[42])
    sh.add_argument("--left-out", nargs="*", default=list(LEFT_OUT),
                    help="subsets to leave out, one run each (none: the run on everything only)")
    rs = sub.add_parser("report-shift")
    rs.add_argument("file", type=Path)
    t = sub.add_parser("train")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--out", type=Path, default=REPO / "runs" / "paper-gpu")
    t.add_argument("--steps", type=int, help=argparse.SUPPRESS)  # a smoke run
    t.add_argument("--max-seconds", type=float, help="stop before an epoch that would pass this")
    t.add_argument("--seed", type=int, default=42)
    r = sub.add_parser("report")
    r.add_argument("file", type=Path)
    args = parser.parse_args()
    if args.command == "pack":
        return pack()
    if args.command == "pack-shift":
        return pack_shift()
    if args.command == "shift":
        return shift(args.epochs, args.out, seeds=tuple(args.seeds), left_out=tuple(args.left_out),
                     limit=args.limit, max_seconds=args.max_seconds)
    if args.command == "report-shift":
        return report_shift(args.file)
    if args.command == "train":
        return train(args.epochs, args.out, steps=args.steps, max_seconds=args.max_seconds,
                     seed=args.seed)
    return report(args.file)


if __name__ == "__main__":
    sys.exit(main())
