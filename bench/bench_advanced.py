"""Advanced panel benchmark: how responsive the window stays while a model trains, and how long
"Stop early" takes to give a saved model.

The real panel (app.advanced.panel.AdvancedPanel) scans a data-set folder and starts a real
training in its child process, with its curves updating at every epoch. A precise 5 ms QTimer on
the GUI thread records when it actually fires; the lateness of each tick is the event loop's
stall. Once ``--stop-after`` epochs are done, "Stop early" is pressed and the time to the
child's "finished" event (the best model validated, thresholded and saved) is measured.

Run (display needed for the screenshot; xvfb works):
  xvfb-run -a nice .venv/bin/python bench/bench_advanced.py DATA_DIR [--steps 10]
      [--val-fraction 0.05] [--stop-after 3] [--screenshot docs/screenshots/x.png]
      [--eval-folder DIR --eval-screenshot docs/screenshots/y.png] [--write-docs]
With --write-docs the "## Advanced panel" section of docs/benchmarks.md is replaced (or
appended); nothing else in that file is touched.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from docs_section import write_section  # noqa: E402
from machine_info import describe_machine  # noqa: E402

from app.advanced.singletons import make_singletons_immortal  # noqa: E402

DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Advanced panel"
TICK_MS = 5


def machine() -> str:
    from importlib.metadata import version

    return describe_machine(*(f"{name} {version(package)}" for name, package in (
        ("TensorFlow", "tensorflow"), ("Keras", "keras"), ("PySide6", "pyside6-essentials"),
        ("pyqtgraph", "pyqtgraph"))), "Xvfb", "no GPU")


def main() -> int:
    make_singletons_immortal()  # see app/advanced/singletons.py
    parser = argparse.ArgumentParser()
    parser.add_argument("data", help="labelled data-set folder to train on")
    parser.add_argument("--steps", type=int, default=10, help="batches per epoch")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--stop-after", type=int, default=3, help="epochs before Stop early")
    parser.add_argument("--screenshot", help="PNG of the panel during the training")
    parser.add_argument("--eval-folder", help="evaluate the bundled model on this folder")
    parser.add_argument("--eval-screenshot", help="PNG of the evaluation report")
    parser.add_argument("--json", default=str(REPO / "bench" / "results" / "advanced.json"))
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--docs-only", action="store_true",
                        help="rewrite the docs section from the JSON of the last run")
    args = parser.parse_args()
    if args.docs_only:
        write_docs(json.loads(Path(args.json).read_text()))
        return 0

    from PySide6.QtCore import QElapsedTimer, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    from app.advanced.library import ModelLibrary
    from app.advanced.panel import AdvancedPanel

    data_dir = Path(tempfile.mkdtemp(prefix="audiofuse-bench-"))
    panel = AdvancedPanel(library=ModelLibrary(data_dir))
    panel.resize(1400, 860)
    panel.show()
    tab = panel.training_tab

    def wait_until(condition, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("benchmark step timed out")
            app.processEvents()
            time.sleep(0.002)

    panel.data_tab.set_folders([args.data])
    wait_until(lambda: panel.data_tab.summary is not None or panel.data_tab.error, 600)
    summary = panel.data_tab.summary
    print(summary.headline(), flush=True)
    tab.epochs.setValue(args.epochs)
    tab.batch_size.setValue(args.batch_size)
    tab.val_fraction.setValue(args.val_fraction)
    tab.steps.setValue(args.steps)
    tab.patience.setValue(args.epochs)
    panel.tabs.setCurrentWidget(tab)

    # the stall probe: a precise timer on the GUI thread
    clock = QElapsedTimer()
    clock.start()
    ticks: list[int] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(TICK_MS)
    probe.timeout.connect(lambda: ticks.append(clock.nsecsElapsed()))
    events: list[tuple[int, str]] = []  # what the GUI thread did, to explain the longest stalls
    tab.process.progress.connect(
        lambda p: events.append((clock.nsecsElapsed(), f"progress {p.get('phase')}")))
    tab.process.started.connect(lambda _m: events.append((clock.nsecsElapsed(), "started")))
    result: dict = {}
    tab.process.finished.connect(lambda message: result.update(message=message,
                                                                at=time.perf_counter()))
    redraws = [0]
    original = tab.curves.set_history

    def counting(history, best):
        drawn = original(history, best)
        redraws[0] += int(drawn)
        if drawn:
            events.append((clock.nsecsElapsed(), "curves redrawn"))
        return drawn

    tab.curves.set_history = counting
    started = time.perf_counter()
    tab.start_training()
    probe.start()
    wait_until(lambda: len(tab.last_progress.get("history") or []) >= args.stop_after
               and tab.last_progress.get("phase") == "training", 3600)
    probe.stop()
    training_seconds = time.perf_counter() - started
    if args.screenshot:
        app.processEvents()
        Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
        panel.grab().save(args.screenshot)
    stop_pressed = time.perf_counter()
    tab.stop_button.click()
    wait_until(lambda: "message" in result, 600)
    stop_to_saved = result["at"] - stop_pressed
    saved = Path(result["message"]["model_path"])
    assert saved.is_file()
    wait_until(lambda: not tab.process.running, 120)

    intervals = np.diff(np.array(ticks, dtype=np.float64)) / 1e6
    stalls = np.maximum(intervals - TICK_MS, 0.0)
    worst = []
    for index in np.argsort(stalls)[::-1][:5]:
        begin, end = ticks[index], ticks[index + 1]
        during = sorted({name for at, name in events if begin <= at <= end + 1_000_000})
        worst.append({"ms": round(float(stalls[index]), 1),
                      "at_s": round(begin / 1e9, 1), "during": during})
    figures = {
        "data": str(args.data), "recordings": summary.n_records,
        "steps_per_epoch": args.steps, "batch_size": args.batch_size,
        "val_fraction": args.val_fraction, "epochs_before_stop": args.stop_after,
        "training_seconds_observed": round(training_seconds, 1),
        "ticks": int(len(ticks)), "curve_redraws": redraws[0],
        "stall_max_ms": round(float(stalls.max()), 1),
        "stall_p99_ms": round(float(np.percentile(stalls, 99)), 1),
        "stall_p50_ms": round(float(np.percentile(stalls, 50)), 2),
        "stop_to_saved_s": round(stop_to_saved, 2),
        "worst_stalls": worst,
        "best_epoch": result["message"].get("best_epoch"),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(figures, indent=1), flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")

    if args.eval_folder:
        evaluation = panel.evaluation_tab
        panel.tabs.setCurrentWidget(evaluation)
        evaluation.set_model(panel.library.bundled_path)
        evaluation.folder.setText(args.eval_folder)
        reports: list = []
        evaluation.evaluated.connect(reports.append)
        evaluation.start()
        wait_until(lambda: bool(reports) or "failed" in evaluation.message.text(), 1800)
        if args.eval_screenshot:
            app.processEvents()
            panel.grab().save(args.eval_screenshot)
    if args.write_docs:
        write_docs(figures)
    panel.close()
    return 0


def write_docs(f: dict) -> None:
    worst = "; ".join(f"{w['ms']} ms at {w['at_s']} s"
                      + (f" ({', '.join(w['during'])})" if w["during"] else "")
                      for w in f.get("worst_stalls", [])[:3])
    section = f"""{HEADING}

Measured with `bench/bench_advanced.py` (raw figures in `bench/results/advanced.json`) on
{f['date']}: the real panel, under Xvfb, trained the default-preset fusion model in its child
process on `{f['data']}` ({f['recordings']} recordings; a short run: {f['steps_per_epoch']} batches
of {f['batch_size']} per epoch, {int(f['val_fraction'] * 100)} % of the recordings for
validation), and pressed "Stop early" after {f['epochs_before_stop']} epochs. A 5 ms precise timer
on the GUI thread measured how late each tick fired: {f['ticks']} ticks over
{f['training_seconds_observed']} s, from the start of the child (TensorFlow's import, every
recording read from disk) to the press of "Stop early", with
{f['curve_redraws']} redraws of the curves. The child runs at a lower priority than the window
(`nice +10`); a model training of the project's own queue, also at `nice +10`, shared the 2 cores.

Machine: {f['machine']}.

| figure | measured | target |
|---|---|---|
| event-loop stall, 99th percentile | {f['stall_p99_ms']} ms | under 50 ms |
| longest event-loop stall | {f['stall_max_ms']} ms | |
| event-loop stall, median | {f['stall_p50_ms']} ms | |
| "Stop early" to a saved model | {f['stop_to_saved_s']} s | |

The longest stalls: {worst}. "Stop early" takes effect after the current batch; most of the time
to a saved model is the core's finishing work on the validation recordings (the best model
scored again, the decision threshold and calibration temperature fitted, the model card
written, the file saved atomically), so it grows with the validation set (here
{int(f['val_fraction'] * f['recordings'])} recordings), not with the training set.
"""
    write_section(DOCS, HEADING, section)


if __name__ == "__main__":
    sys.exit(main())
