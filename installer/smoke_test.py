"""Smoke test of the built bundle: does the installed program start and classify without Python?

Runs the two programs of the one-folder bundle, with a fresh home folder (no settings, no log) and
the bundle's own libraries only:

1. ``audiofuse-gui --exit-when-ready EXAMPLE`` (offscreen by default; ``--platform xcb`` under
   ``xvfb-run -a`` for a real X window): waits for the "AudioFuse ready" log line and the
   ``AUDIOFUSE_READY`` report with the example's classification, then checks the rotating log file
   the program wrote too;
2. ``audiofuse predict --json EXAMPLE...``: one classification per bundled example.

Fails (exit 1) on a missing ready line or classification, a non-zero exit, a time-out, or any
traceback, missing module or Qt plugin message in the output or the log. Prints the timings (from
launch to a painted window, to the model ready, to the first classification) as one JSON line,
which ``docs/benchmarks.md`` quotes.

Standard library only, so any Python 3 runs it:
``python3 installer/smoke_test.py installer/dist/AudioFuse [--platform xcb] [--out FILE.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Output that means the bundle is broken even when the program exits 0.
FATAL_PATTERNS = [
    r"Traceback \(most recent call last\)",
    r"ModuleNotFoundError",
    r"ImportError",
    r"No module named",
    r"Could not (find|load) the Qt platform plugin",
    r"This application failed to start because no Qt platform plugin",
    r"Failed to load platform plugin",
    r"qt\.qpa\.plugin: .*(not|cannot|could)",
    r"Cannot load library .*plugins",
    r"QLibraryPrivate::load",
    r"Failed to execute script",
    r"\[PYI-\d+:ERROR\]",
    r"libGL error",
    r"error while loading shared libraries",
]
READY_LINE = re.compile(r"AudioFuse ready: model (\S+)")
EXE = ".exe" if os.name == "nt" else ""
REPORT_PREFIX = "AUDIOFUSE_READY "


def fatal_lines(text: str) -> list[str]:
    """The lines of ``text`` that match a fatal pattern."""
    found = []
    for line in text.splitlines():
        if any(re.search(pattern, line) for pattern in FATAL_PATTERNS):
            found.append(line.strip())
    return found


def clean_env(home: Path, platform: str) -> dict[str, str]:
    """The environment of a fresh user: own home and XDG folders, no Python of ours around."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "VIRTUAL_ENV", "AUDIOFUSE_", "QT_", "XDG_"))}
    if os.name != "nt":
        env["PATH"] = "/usr/bin:/bin"
    env["HOME"] = str(home)
    for name, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                      ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):
        env[name] = str(home / sub)
    env["XDG_RUNTIME_DIR"] = str(home / "runtime")
    (home / "runtime").mkdir(mode=0o700, exist_ok=True)
    env["QT_QPA_PLATFORM"] = platform
    if platform == "xcb" and "DISPLAY" in os.environ:
        env["DISPLAY"] = os.environ["DISPLAY"]
    return env


def run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    """Run ``command``; returns its exit code, its output (stdout and stderr) and its start time."""
    started = time.time()
    try:
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode(
            "utf-8", "replace")
        return 124, output, started
    return done.returncode, done.stdout, started


def check_gui(bundle: Path, example: Path, platform: str, timeout: float,
              problems: list[str]) -> dict[str, object]:
    """Start the desktop program on ``example``; returns its timings."""
    with tempfile.TemporaryDirectory(prefix="audiofuse-smoke-") as tmp:
        home = Path(tmp)
        code, output, started = run([str(bundle / f"audiofuse-gui{EXE}"), "--exit-when-ready",
                                     str(example)], clean_env(home, platform), timeout)
        logs = sorted(home.rglob("*.log"))
        log_text = "\n".join(path.read_text(encoding="utf-8", errors="replace")
                             for path in logs)
    print(output)
    if code != 0:
        problems.append(f"audiofuse-gui exited with {code}" + (" (time-out)" if code == 124
                                                                else ""))
    problems.extend(f"audiofuse-gui: {line}" for line in fatal_lines(output + "\n" + log_text))
    if not logs:
        problems.append("audiofuse-gui wrote no log file under the fresh home folder")
    elif not READY_LINE.search(log_text):
        problems.append("the log file has no 'AudioFuse ready' line")
    # The ready line is required in the log file, the one place a desktop-started program writes
    # to; its copy on stderr is not (after TensorFlow loads, it no longer reaches the output).
    reports = [line[len(REPORT_PREFIX):] for line in output.splitlines()
               if line.startswith(REPORT_PREFIX)]
    if not reports:
        problems.append("no AUDIOFUSE_READY report (with the classification) in the output")
        return {}
    report = json.loads(reports[-1])
    if report.get("model_error"):
        problems.append(f"the model did not load: {report['model_error']}")
    labels = list((report.get("results") or {}).values())
    if not labels:
        problems.append(f"{example.name} was not classified")
    timings: dict[str, object] = {"platform": platform, "example": example.name,
                                  "label": labels[0] if labels else None,
                                  "model": report.get("model"),
                                  "peak_rss_mb": report.get("peak_rss_mb")}
    for key, name in (("visible_at", "window_visible_s"), ("model_ready_at", "model_ready_s"),
                      ("quit_at", "first_classification_s")):
        if report.get(key):
            timings[name] = round(float(report[key]) - started, 2)
    if "window_visible_s" not in timings:
        problems.append("the window was never painted")
    return timings


def check_cli(bundle: Path, examples: list[Path], timeout: float,
              problems: list[str]) -> dict[str, object]:
    """Classify every example with the bundled command line; returns the labels and its time."""
    with tempfile.TemporaryDirectory(prefix="audiofuse-smoke-") as tmp:
        code, output, started = run([str(bundle / f"audiofuse{EXE}"), "predict", "--json",
                                     *map(str, examples)], clean_env(Path(tmp), "offscreen"),
                                    timeout)
    took = round(time.time() - started, 2)
    print(output)
    if code != 0:
        problems.append(f"audiofuse predict exited with {code}")
    problems.extend(f"audiofuse predict: {line}" for line in fatal_lines(output))
    labels: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            path = record.get("path") or record.get("file") or ""
            labels[Path(path).name] = str(record.get("label"))
    for example in examples:
        if example.name not in labels:
            problems.append(f"audiofuse predict gave no classification for {example.name}")
    return {"cli_labels": labels, "cli_seconds": took}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, nargs="?",
                        default=Path(__file__).resolve().parent / "dist" / "AudioFuse",
                        help="the one-folder bundle (default: installer/dist/AudioFuse)")
    parser.add_argument("--platform", default="offscreen",
                        help="Qt platform plugin for the window (offscreen; xcb under xvfb-run)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per program")
    parser.add_argument("--skip-cli", action="store_true", help="only the desktop program")
    parser.add_argument("--out", type=Path, help="also write the timings to this JSON file")
    args = parser.parse_args(argv)

    bundle = args.bundle.resolve()
    examples = sorted((bundle / "_internal" / "resources" / "examples").glob("*.flac"))
    problems: list[str] = []
    if not (bundle / f"audiofuse-gui{EXE}").is_file():
        print(f"FAIL: no audiofuse-gui in {bundle}: build it first (installer/build.sh)")
        return 1
    if len(examples) < 2:
        problems.append(f"expected two example recordings in the bundle, found {len(examples)}")
    if not list((bundle / "_internal" / "resources" / "models").glob("*.keras")):
        problems.append("no bundled model (resources/models/*.keras)")
    result: dict[str, object] = {}
    if examples:
        result.update(check_gui(bundle, examples[0], args.platform, args.timeout, problems))
        if not args.skip_cli:
            result.update(check_cli(bundle, examples, args.timeout, problems))
    print("SMOKE " + json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        return 1
    print("PASS: the bundle started, logged its ready line and classified the examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
