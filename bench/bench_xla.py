"""Training with and without XLA: the training step and the validation pass of both experts of
the default preset, through the real pipeline (augmented windows of real recordings, the real
validation windows), each timed with XLA on (`train`'s default) and off (`--no-xla`): two copies of the model, stepped
in turn on the same batches, so that both meet the same load on a shared machine.

    .venv/bin/python bench/bench_xla.py [--steps 12] [--windows 640] [--kinds spectrogram waveform]

For each expert and setting: the median time of a training step (batch 32) after two warm-up
steps, the first step's time (tracing and compiling), the median time of a validation batch (64
windows) and its first; the epoch of the bundled recipe projected from them (162 steps and 3619
validation windows: 1727 training recordings x 3 windows, 433 validation recordings at most 24
windows each); the largest difference between the two settings' validation logits with the same
weights. Writes bench/results/xla-<date>-<time>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
DEV = REPO.parent / "shared" / "data" / "physionet2016-dev"
EPOCH_STEPS, EPOCH_WINDOWS = 162, 3619


def measure(kind: str, sequence, windows: np.ndarray, steps: int) -> dict:
    """Two copies of one model, compiled with XLA and without, stepped in turn on the same
    batches (so both meet the same load on a shared machine).
    """
    import keras

    from audiofuse_core.models import build_model
    from audiofuse_core.presets import get_preset
    from audiofuse_core.training import _forward, _predict_windows

    preset = get_preset("default")
    models, forwards = {}, {}
    for xla in (False, True):
        keras.utils.set_random_seed(1)
        model = build_model(preset, kind, seed=1)
        model.compile(optimizer=keras.optimizers.AdamW(5e-4, weight_decay=1e-4, clipnorm=1.0),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True),
                      jit_compile=True if xla else "auto")
        models[xla], forwards[xla] = model, _forward(model, preset.window_samples, xla)
    times: dict[bool, list[float]] = {False: [], True: []}
    for step in range(steps + 2):
        x, y = sequence[step % len(sequence)]
        for xla in (False, True):
            started = time.perf_counter()
            models[xla].train_on_batch(x, y)
            times[xla].append(time.perf_counter() - started)
    batches: dict[bool, list[float]] = {False: [], True: []}
    for start in range(0, len(windows), 64):
        for xla in (False, True):
            started = time.perf_counter()
            _predict_windows(models[xla], windows[start:start + 64], 64, forward=forwards[xla])
            batches[xla].append(time.perf_counter() - started)
    out = {}
    for xla in (False, True):
        logits = _predict_windows(models[xla], windows, 64, forward=forwards[xla])
        plain = _predict_windows(models[xla], windows, 64)  # the same weights, eager
        step, batch = float(np.median(times[xla][2:])), float(np.median(batches[xla][1:]))
        out["xla" if xla else "plain"] = {
            "first_step_s": times[xla][0], "step_ms": 1000 * step,
            "first_validation_batch_s": batches[xla][0], "validation_batch_ms": 1000 * batch,
            "epoch_projected_s": EPOCH_STEPS * step + EPOCH_WINDOWS / 64 * batch,
            "max_logit_difference_vs_eager": float(np.abs(logits - plain).max())}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--windows", type=int, default=640)
    parser.add_argument("--kinds", nargs="+", default=["spectrogram", "waveform"])
    args = parser.parse_args()

    from bench_core import machine

    from audiofuse_core.datasets import scan_physionet
    from audiofuse_core.presets import get_preset
    from audiofuse_core.training import (
        TrainConfig,
        _make_sequence,
        _validation_windows,
        class_weights,
        load_signals,
    )

    preset = get_preset("default")
    records = scan_physionet(DEV / "training-a", probe=False).records[:160]
    data = load_signals(records, preset)
    labels = np.array([r.label for r in data.records])
    config = TrainConfig(out="x.keras", batch_size=32, windows_per_record=3)
    sequence = _make_sequence(data.signals, labels, class_weights(data.records, "subset"),
                              preset, config)
    windows, _ = _validation_windows(data.signals, preset, 24)
    windows = windows[:args.windows]
    results = {"machine": machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
               "steps": args.steps, "validation_windows": int(len(windows))}
    print("| expert | XLA | training step (first) | validation batch of 64 (first) | "
          "epoch, projected | largest logit difference from eager |")
    print("|---|---|---|---|---|---|")
    for kind in args.kinds:
        both = measure(kind, sequence, windows, args.steps)
        for xla in (False, True):
            r = results[f"{kind}-{'xla' if xla else 'plain'}"] = both["xla" if xla else "plain"]
            print(f"| {kind} | {'on' if xla else 'off'} | {r['step_ms']:.0f} ms "
                  f"({r['first_step_s']:.1f} s) | {r['validation_batch_ms']:.0f} ms "
                  f"({r['first_validation_batch_s']:.1f} s) | {r['epoch_projected_s']:.0f} s | "
                  f"{r['max_logit_difference_vs_eager']:.1e} |", flush=True)
    out = REPO / "bench" / "results" / f"xla-{datetime.now(UTC):%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
