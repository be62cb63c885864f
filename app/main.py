"""Start the desktop program: ``audiofuse gui [FILE...]``, ``audiofuse-gui [FILE...]`` or
``python -m app.main [FILE...]``.

The window comes first: this module imports Qt and the window's modules, never TensorFlow. In
order: the QApplication, the rotating log and the global exception hook, the window shown; then,
from the event loop, the model starts loading on its own thread and the files given open. The log
says when the window was painted and when the model was ready (``bench/bench_app.py`` reads the
same moments through ``--exit-when-ready``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from audiofuse_core import __version__
from audiofuse_core.resources import icon_path

from .advanced.singletons import make_singletons_immortal
from .errors import ErrorReporter, setup_logging
from .main_window import MainWindow
from .settings import APPLICATION, ORGANIZATION, Settings

log = logging.getLogger("app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiofuse-gui",
                                     description="AudioFuse: open, view, listen to and "
                                                 "classify heart-sound recordings.")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="recordings or folders to open (several: classified in a table)")
    parser.add_argument("--model", metavar="MODEL",
                        help="model file to classify with (default: the one chosen last, else "
                             "the bundled model)")
    parser.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)
    return parser


def memory_mb() -> dict[str, float]:
    """Resident memory now and at its peak, in MB, and how much of it now is the program's own
    allocations (anonymous) and how much mapped files, mostly libraries (Linux; empty
    elsewhere).
    """
    keys = {"VmRSS:": "rss_mb", "VmHWM:": "peak_rss_mb", "RssAnon:": "rss_anon_mb",
            "RssFile:": "rss_file_mb"}
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                key = keys.get(line.split(None, 1)[0]) if line.strip() else None
                if key:
                    out[key] = round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return out


class _FirstPaint(QObject):
    """Notes when the window is first painted: what the user sees as "the window is there"."""

    def __init__(self, window: MainWindow, started: float) -> None:
        super().__init__(window)
        self.started = started
        self.at: float | None = None
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if self.at is None and event.type() == QEvent.Type.Paint:
            self.at = time.time()
            log.info("window visible %.2f s after start-up began", time.perf_counter()
                     - self.started)
            watched.removeEventFilter(self)
        return False


def _exit_when_ready(app: QApplication, window: MainWindow, painted: _FirstPaint,
                     started: float) -> None:
    """Quit once the model is ready (or failed) and every file given is done; print timings."""
    moments: dict[str, float | None] = {"model_ready_at": None}

    def on_model(*_args) -> None:
        moments["model_ready_at"] = time.time()
        QTimer.singleShot(0, check)

    def check() -> None:
        if (moments["model_ready_at"] is None or window.runner.busy or window.loader.busy
                or moments.get("quit_at")):
            return
        moments["quit_at"] = time.time()
        info = window.runner.model_info
        report = {"visible_at": painted.at, **moments,
                  "model": info.name if info else None, "model_error": window.runner.model_error,
                  "results": {str(p): r.label for p, r in window.results.items()},
                  **memory_mb()}
        print("AUDIOFUSE_READY " + json.dumps(report), flush=True)
        app.quit()

    window.runner.model_ready.connect(on_model)
    window.runner.model_failed.connect(on_model)
    window.runner.idle.connect(check)
    window.loader.loaded.connect(lambda _data: QTimer.singleShot(0, check))
    window.loader.failed.connect(lambda *_: QTimer.singleShot(0, check))


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window with the files in ``argv`` (default: the command line); returns the exit
    code.
    """
    started = time.perf_counter()
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    make_singletons_immortal()  # PySide6 6.12.0 on Python 3.11: see app/advanced/singletons.py
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "audiofuse"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("AudioFuse")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(QIcon(str(icon_path(256))))
    log_path = setup_logging()
    reporter = ErrorReporter(log_path, app)
    reporter.install()
    log.info("AudioFuse %s starting (log: %s)", __version__, log_path)
    window = MainWindow(Settings(), model_path=Path(args.model) if args.model else None)
    painted = _FirstPaint(window, started)
    window.show()
    window.runner.model_ready.connect(lambda info: log.info(
        "AudioFuse ready: model %s (%s) loaded in %.1f s, %.1f s after start-up began",
        info.name, info.version, info.load_seconds, time.perf_counter() - started))
    if args.exit_when_ready:
        _exit_when_ready(app, window, painted, started)
    QTimer.singleShot(0, lambda: window.start(args.files))
    try:
        return int(app.exec())
    finally:
        reporter.uninstall()


if __name__ == "__main__":
    sys.exit(main())
