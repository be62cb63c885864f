"""Recording benchmark: minutes of audio through PortAudio with display-like reads at 30 fps.

A private PulseAudio server (tests/recording/pulse.py) gets a null sink; paplay plays real
PhysioNet recordings (3 minutes of them, back to back) into it; the app's Recorder records the
sink's monitor through sounddevice (ALSA's pulse device) to FLAC, while this script's main
thread does what the live views will do, on a 30 fps timer: snapshot the last 10 s of the ring
buffer, peak-downsample it to 1200 columns (the waveform), compute the new spectrogram columns
with the core's display_spectrogram, and read the level meter.

Reported: input overflows (target 0), frames captured against wall-clock time, the writer's
largest backlog, the snapshot rate achieved and the late frames, the process's CPU load (and
the display work's share), and the saved file's correlation with what was played.

Run:  .venv/bin/python bench/bench_recording.py [--seconds 180] [--rate 44100] [--stress 0,2]
      [--write-docs]      (one run per --stress value: that many busy processes compete)
With --write-docs the "## Recording" section of docs/benchmarks.md is replaced (or appended);
nothing else in that file is touched.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from machine_info import describe_machine  # noqa: E402

from app.recording.devices import refresh_devices  # noqa: E402
from app.recording.recorder import Recorder  # noqa: E402
from app.recording.sidecar import RecordingInfo  # noqa: E402
from audiofuse_core.features import display_spectrogram  # noqa: E402
from tests.recording.pulse import PrivatePulseServer  # noqa: E402
from tests.recording.test_pulseaudio_e2e import match  # noqa: E402

PHYSIONET = REPO / "tests" / "data" / "physionet2016"
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Recording"


def machine() -> str:
    import sounddevice as sd

    pulse = subprocess.run(["pulseaudio", "--version"], capture_output=True, text=True).stdout
    return describe_machine("no sound card", sd.get_portaudio_version()[1].split(",")[0],
                            pulse.strip())


def playlist(seconds: float, folder: Path) -> Path:
    """Real PhysioNet recordings (2 kHz) back to back, at least ``seconds`` long, in one WAV."""
    files = sorted(PHYSIONET.glob("training-*/*.wav"))
    parts, total = [], 0
    while total < seconds * 2000:
        for f in files:
            data, rate = sf.read(f, dtype="int16")
            assert rate == 2000
            parts.append(data)
            total += len(data)
            if total >= seconds * 2000:
                break
    out = folder / "playlist.wav"
    sf.write(out, np.concatenate(parts)[:int(seconds * 2000)], 2000, subtype="PCM_16")
    return out


class DisplayLikeConsumer:
    """The live views' work for one frame, without Qt (the GUI's own figures come later)."""

    def __init__(self, recorder: Recorder, *, seconds: float = 10.0, columns: int = 1200):
        self.rec = recorder
        self.seconds = seconds
        self.columns = columns
        self.last_end = 0
        self.spectrogram_columns = 0

    def frame(self) -> None:
        data, end = self.rec.snapshot(self.seconds)
        mono = data[:, 0]
        n = len(mono) // self.columns * self.columns
        if n:  # waveform: min/max per pixel column (pyqtgraph's peak downsampling)
            blocks = mono[len(mono) - n:].reshape(self.columns, -1)
            _ = blocks.min(axis=1), blocks.max(axis=1)
        new = end - self.last_end
        if new > 0 and len(mono):  # scrolling spectrogram: only the columns that are new
            window = int(2 ** np.ceil(np.log2(0.064 * self.rec.samplerate)))  # its n_fft
            chunk = mono[-min(len(mono), new + window):]
            spec = display_spectrogram(chunk, self.rec.samplerate, fmax=1000.0)
            self.spectrogram_columns += spec.db.shape[1]
            self.last_end = end
        self.rec.level()


def run(seconds: float, rate: int, fps: float, stress: int = 0) -> dict:
    """One run; ``stress`` busy-looping processes compete for the CPU meanwhile."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(stress)]
    try:
        return _run(seconds, rate, fps) | {"stress": stress}
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _run(seconds: float, rate: int, fps: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="afbench-") as tmp, \
            PrivatePulseServer(sink="bench") as server:
        folder = Path(tmp)
        refresh_devices()
        source = playlist(seconds + 5, folder)
        out = folder / "bench.flac"
        rec = Recorder(out, device="pulse", samplerate=rate,
                       info=RecordingInfo(recording_id="bench"))
        view = DisplayLikeConsumer(rec)
        # Warm up (librosa's import and first STFT take most of a second) before the clock.
        display_spectrogram(np.zeros(rate // 10, np.float32), rate, fmax=1000.0)
        rec.start()
        while rec.frames_captured == 0:
            time.sleep(0.01)
        player = server.play(source)
        load_before = os.getloadavg()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.monotonic()
        frames0 = rec.frames_captured
        period = 1.0 / fps
        frames = late = 0
        display_cpu = 0.0
        backlog = 0
        intervals = []
        last = wall0
        next_tick = wall0
        while time.monotonic() - wall0 < seconds:
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                late += 1
                next_tick = time.monotonic()  # like a QTimer: skip, do not catch up in a burst
            t = time.thread_time()
            view.frame()
            display_cpu += time.thread_time() - t
            now = time.monotonic()
            intervals.append(now - last)
            last = now
            frames += 1
            backlog = max(backlog, rec.frames_captured - rec.frames_saved)
        wall = time.monotonic() - wall0
        captured = rec.frames_captured - frames0
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        load_after = os.getloadavg()
        result = rec.stop()
        player.kill()
        player.wait()
        player.stderr.close()
        cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
        recorded, saved_rate = sf.read(out, dtype="float64")
        # Every 10-s window of the saved file, matched against what was played (a window that
        # does not match would show lost or damaged audio).
        step = 10 * saved_rate
        nccs = [match(recorded[i:i + step], saved_rate, source)[0]
                for i in range(2 * saved_rate, len(recorded) - step, step)]
        intervals_ms = np.array(intervals[1:]) * 1000
        return {
            "machine": machine(), "seconds": round(wall, 1), "rate": rate, "fps_target": fps,
            "overflows": rec.overflows, "status_flags": rec.status_flags,
            "captured_vs_wall": round(captured / (wall * rate), 4),
            "saved_s": round(result.info.duration_s, 1), "saved_ok": result.ok,
            "writer_backlog_ms_max": round(backlog / rate * 1000, 1),
            "fps": round(frames / wall, 1), "late_frames": late,
            "frame_interval_ms_p99": round(float(np.percentile(intervals_ms, 99)), 1),
            "frame_interval_ms_max": round(float(intervals_ms.max()), 1),
            "cpu_percent_of_one_core": round(100 * cpu / wall, 1),
            "display_cpu_percent": round(100 * display_cpu / wall, 1),
            "spectrogram_columns": view.spectrogram_columns,
            "correlation_10s_windows_median": round(float(np.median(nccs)), 4),
            "correlation_10s_windows_min": round(float(np.min(nccs)), 4),
            "correlation_windows": len(nccs),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        }


ROWS = [
    ("recording length", lambda r: f"{r['seconds'] / 60:.1f} min at {r['rate']} Hz"),
    ("input overflows (target 0)", lambda r: f"{r['overflows']}"),
    ("callbacks with any status flag", lambda r: f"{r['status_flags']}"),
    ("frames captured / (wall time x rate)", lambda r: f"{r['captured_vs_wall']}"),
    ("writer backlog, largest (audio not yet on disk)",
     lambda r: f"{r['writer_backlog_ms_max']} ms"),
    ("saved", lambda r: f"{r['saved_s']} s, {'complete' if r['saved_ok'] else 'NOT complete'}"),
    ("saved vs played, correlation of each 10-s window: median / lowest",
     lambda r: f"{r['correlation_10s_windows_median']} / {r['correlation_10s_windows_min']} "
               f"({r['correlation_windows']} windows)"),
    ("display snapshots per second (target 30)",
     lambda r: f"{r['fps']} ({r['late_frames']} late)"),
    ("frame interval p99 / max", lambda r: f"{r['frame_interval_ms_p99']} / "
                                           f"{r['frame_interval_ms_max']} ms"),
    ("CPU load of the process", lambda r: f"{r['cpu_percent_of_one_core']} % of one core"),
    ("of which the display-like work", lambda r: f"{r['display_cpu_percent']} % of one core"),
    ("load average (1 min) at start / end",
     lambda r: f"{r['load_average_before'][0]} / {r['load_average_after'][0]}"),
]


def markdown(runs: list[dict], command: str) -> str:
    head = " | ".join("no load added" if r["stress"] == 0 else
                      f"+{r['stress']} busy processes" for r in runs)
    table = [f"| figure | {head} |", "| --- |" + " --- |" * len(runs)]
    table += [f"| {name} | " + " | ".join(cell(r) for r in runs) + " |" for name, cell in ROWS]
    rows = "\n".join(table)
    return f"""{HEADING}

Measured with `{command}`: real PhysioNet recordings played with `paplay` into a PulseAudio
null sink, recorded from its monitor through PortAudio (ALSA's `pulse` device) by the app's
`Recorder` to FLAC, while the main thread did the live views' work on a 30 fps timer (snapshot
of the last 10 s, waveform peak downsampling to 1200 columns, the new spectrogram columns with
`display_spectrogram`, the level meter). No Qt here: the window's own frame rate belongs to the
desktop app's benchmark. A run with busy processes adds that many CPU-bound loops (here one per
core), as a model training beside the recording would; the load average shows what else ran.

Machine: {runs[0]['machine']}.

{rows}
"""


def write_docs(section: str) -> None:
    """Replace the Recording section of docs/benchmarks.md (or append it); leave the rest."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == HEADING), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        text = "".join(lines[:start]) + section + ("\n" if end < len(lines) else "") + \
            "".join(lines[end:])
    DOCS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--rate", type=int, default=44100)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--stress", default="0,2",
                        help="busy processes competing for the CPU, one run per value")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    runs = []
    for stress in (int(x) for x in args.stress.split(",")):
        runs.append(run(args.seconds, args.rate, args.fps, stress))
        print(runs[-1], flush=True)
    command = (f"bench/bench_recording.py --seconds {args.seconds:g} --rate {args.rate} "
               f"--stress {args.stress}")
    section = markdown(runs, command)
    print(section)
    if args.write_docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
