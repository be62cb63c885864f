"""Core benchmarks: training throughput of both presets, prediction latency, peak memory.

Run on a quiet machine:  .venv/bin/python bench/bench_core.py [--out bench/core.json]
It prints a Markdown block for docs/benchmarks.md and writes the raw figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine_info import describe_machine

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "data" / "physionet2016-dev"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def machine() -> str:
    import keras
    import tensorflow as tf

    return describe_machine(f"TensorFlow {tf.__version__}", f"Keras {keras.__version__}")


def training_throughput(preset_name: str, records, steps: int) -> float:
    """Recordings per second through the real training pipeline (one random, augmented window
    per recording, as in an epoch), after one warm-up epoch.
    """
    import keras

    from audiofuse_core.models import build_model
    from audiofuse_core.presets import get_preset
    from audiofuse_core.training import TrainConfig, _make_sequence, class_weights, load_signals

    preset = get_preset(preset_name)
    data = load_signals(records, preset)
    labels = np.array([r.label for r in data.records])
    config = TrainConfig(out="x.keras", batch_size=32, windows_per_record=1,
                         steps_per_epoch=steps)
    weights = class_weights(data.records, "subset", 0.5)
    sequence = _make_sequence(data.signals, labels, weights, preset, config)
    model = build_model(preset, "fusion")
    model.compile(optimizer=keras.optimizers.AdamW(5e-4),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(sequence, epochs=1, verbose=0)  # warm-up: tracing, first allocations
    started = time.perf_counter()
    model.fit(sequence, epochs=1, verbose=0)
    return steps * config.batch_size / (time.perf_counter() - started)


def prediction_latency(model_path: Path, recording: Path) -> dict[str, float]:
    """A 20 s recording, from the file on disk to the probability (read, resample, band-pass,
    windows, model): median and 95th percentile over 30 runs after 3 warm-ups.
    """
    import soundfile as sf

    from audiofuse_core.inference import Classifier

    samples, rate = sf.read(recording, dtype="float32")
    clip = Path(tempfile.mkdtemp()) / "clip20s.wav"
    sf.write(clip, samples[: 20 * rate], rate)
    classifier = Classifier(model_path)
    for _ in range(3):
        classifier.predict_file(clip)
    times = []
    for _ in range(30):
        started = time.perf_counter()
        classifier.predict_file(clip)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p95_ms": times[int(0.95 * len(times)) - 1]}


def predict_folder_memory(model_path: Path, folder: Path) -> dict[str, float]:
    """Run `audiofuse predict` on a folder and read that one child's peak RSS from wait4()."""
    exe = Path(sys.executable).parent / "audiofuse"
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen([str(exe), "predict", str(folder), "--model", str(model_path),
                                  "--json"], stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        files = len(out.read().splitlines())
    return {"peak_mb": usage.ru_maxrss / 1024, "files": files, "seconds": seconds,
            "exit_code": child.returncode}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(REPO / "bench" / "core.json"))
    parser.add_argument("--model", default=None,
                        help="model file (default: bundled or a fresh one)")
    parser.add_argument("--inference-only", action="store_true",
                        help="skip the training throughput (prints the prediction figures only)")
    args = parser.parse_args()

    from audiofuse_core.datasets import scan_physionet
    from audiofuse_core.models import build_model, save_model
    from audiofuse_core.presets import get_preset
    from audiofuse_core.resources import default_model_path

    records = scan_physionet(DEV / "training-a", probe=False).records[:160]
    results: dict[str, object] = {"machine": machine(),
                                  "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    if not args.inference_only:
        results["train_default_rec_per_s"] = training_throughput("default", records, steps=5)
        results["train_paper_rec_per_s"] = training_throughput("paper", records, steps=3)
        results["speedup"] = results["train_default_rec_per_s"] / results["train_paper_rec_per_s"]

    model = Path(args.model) if args.model else default_model_path()
    if not model.is_file():
        model = save_model(build_model(get_preset("default"), "fusion"),
                           Path(tempfile.mkdtemp()) / "fresh.keras")
    results["model"] = str(model.relative_to(REPO)) if model.is_relative_to(REPO) else model.name
    long_recording = DEV / "training-e" / "e00002.flac"
    results["latency_20s"] = prediction_latency(model, long_recording)
    results["predict_folder"] = predict_folder_memory(model, DEV / "training-f")
    Path(args.out).write_text(json.dumps(results, indent=1))

    lat = results["latency_20s"]
    folder = results["predict_folder"]
    if args.inference_only:
        print(f"Machine: {results['machine']}. Date: {results['date']}. Model: {results['model']}."
              f"\npredict a 20 s recording: {lat['median_ms']:.0f} ms median / {lat['p95_ms']:.0f}"
              f" ms p95; `audiofuse predict` on {folder['files']} recordings: peak "
              f"{folder['peak_mb']:.0f} MB ({folder['seconds']:.1f} s)")
        return 0
    print(f"""Machine: {results['machine']}. Date: {results['date']}. Model: {results['model']}.

| figure | default preset | paper preset | target |
|---|---|---|---|
| training throughput (recordings/s, batch 32, augmentation on) | {results['train_default_rec_per_s']:.1f} | {results['train_paper_rec_per_s']:.2f} | default >= 8x paper: measured {results['speedup']:.1f}x |
| predict a 20 s recording, file to probability (median / p95) | {lat['median_ms']:.0f} ms / {lat['p95_ms']:.0f} ms | | < 150 ms |
| `audiofuse predict` on a folder of {folder['files']} recordings: peak memory | {folder['peak_mb']:.0f} MB ({folder['seconds']:.1f} s in all, exit {folder['exit_code']}) | | < 1 GB |""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
