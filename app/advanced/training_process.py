"""A training run in a child process, driven from the GUI thread.

:class:`TrainingProcess` lives on the GUI thread and owns a ``QProcess`` running
:mod:`app.advanced.train_worker`. Qt reads the child's stdout through the event loop (no thread of
ours), so every signal below is emitted on the GUI thread. The child is a separate interpreter: a
crash there (out of memory, a TensorFlow abort) ends the child, never the app, and is reported by
:attr:`failed` with the last lines of its stderr.

Stop early and Cancel are written to the child's stdin; the child stops after its current batch.
Stop early then validates and saves the best model, which takes as long as it takes on a large
set: it is never killed for being slow (Cancel is still there). A cancelled child that has not
ended :data:`KILL_AFTER_S` seconds later is killed, and its run discarded as it would have been.

A run's folder (``runs/<name>/`` of the model library) holds ``job.json`` (what to train on and
how) and the core's checkpoints; :func:`interrupted_runs` lists the ones that can be resumed.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from .library import write_json_atomic

KILL_AFTER_S = 60.0
JOB_FILE = "job.json"


@dataclass
class InterruptedRun:
    """A run whose child ended before it finished: it can be resumed."""

    run_dir: Path
    job: dict[str, Any]
    epochs_done: int

    @property
    def name(self) -> str:
        return self.run_dir.name

    def describe(self) -> str:
        total = self.job.get("config", {}).get("epochs", "?")
        return f"{self.name}: {self.epochs_done}/{total} epochs done"


def interrupted_runs(runs_dir: Path) -> list[InterruptedRun]:
    """Runs with a job and no finished state, newest first."""
    found = []
    for folder in sorted(runs_dir.glob("*/"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            job = json.loads((folder / JOB_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        try:
            state = json.loads((folder / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue  # died before its first epoch ended: nothing to resume
        if not state.get("finished"):
            found.append(InterruptedRun(folder, job, int(state.get("epoch", 0))))
    return found


class TrainingProcess(QObject):
    """One training child at a time; see the module docstring."""

    started = Signal(dict)  # the "started" event
    progress = Signal(dict)  # a TrainingProgress as a dict
    stopping = Signal(str)  # "stop" or "cancel": the request was sent
    finished = Signal(dict)  # the "finished" event: model_path, best_epoch, validation...
    cancelled = Signal()
    failed = Signal(str)  # a one-line reason (and the stderr tail after a crash)
    state_changed = Signal(str)  # "idle", "running", "stopping"

    def __init__(self, parent: QObject | None = None, *, python: str | None = None) -> None:
        super().__init__(parent)
        self.python = python or sys.executable
        self._process: QProcess | None = None
        self._buffer = b""
        self._stderr: deque[str] = deque(maxlen=30)
        self._ended = False
        self._request: str | None = None
        self.run_dir: Path | None = None
        self.state = "idle"
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._on_kill_timer_timeout)

    @property
    def running(self) -> bool:
        return self._process is not None

    @property
    def training(self) -> bool:
        """Running and not yet done: the child has not reported its end."""
        return self._process is not None and not self._ended

    @property
    def pid(self) -> int | None:
        return int(self._process.processId()) if self._process is not None else None

    def start(self, job: dict[str, Any], run_dir: Path, *, resume: bool = False) -> None:
        """Write ``run_dir/job.json`` (unless resuming) and start the child."""
        if self._process is not None:
            raise RuntimeError("a training is already running")
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            write_json_atomic(run_dir / JOB_FILE, job)
        self.run_dir = run_dir
        self._buffer, self._ended, self._request = b"", False, None
        self._stderr.clear()
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        environment.insert("TF_CPP_MIN_LOG_LEVEL", "2")
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(str(Path(__file__).resolve().parents[2]))
        process.readyReadStandardOutput.connect(self._on_process_stdout)
        process.readyReadStandardError.connect(self._on_process_stderr)
        process.finished.connect(self._on_process_finished)
        process.errorOccurred.connect(self._on_process_error)
        arguments = ["-m", "app.advanced.train_worker", str(run_dir / JOB_FILE)]
        if resume:
            arguments.append("--resume")
        self._process = process
        self._set_state("running")
        process.start(self.python, arguments)

    def stop_early(self) -> None:
        """Stop after the current batch and keep the best model so far."""
        self._send("stop")

    def cancel(self) -> None:
        """Stop after the current batch and discard the run."""
        self._send("cancel")

    def kill(self) -> None:
        """End the child now (the run stays resumable)."""
        if self._process is not None:
            self._process.kill()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the child ended (for closeEvent and scripts)."""
        if self._process is None:
            return True
        return self._process.waitForFinished(msecs)

    def _send(self, command: str) -> None:
        if self._process is None or self._request == "cancel":
            return
        self._request = command
        self._process.write(f"{command}\n".encode())
        self._set_state("stopping")
        self.stopping.emit(command)
        if command == "cancel":  # a stop's model is kept, however long validating it takes
            self._kill_timer.start(int(KILL_AFTER_S * 1000))

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    # -- child output ----------------------------------------------------------------------------
    def _on_process_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        latest_progress = None
        for raw in lines:
            try:
                message = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if message.get("event") == "progress":
                latest_progress = message  # only the newest one is worth drawing
            else:
                if latest_progress is not None:
                    self.progress.emit(latest_progress)
                    latest_progress = None
                self._handle(message)
        if latest_progress is not None:
            self.progress.emit(latest_progress)

    def _handle(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "started":
            self.started.emit(message)
        elif event == "finished":
            self._ended = True
            self.finished.emit(message)
        elif event == "cancelled":
            self._ended = True
            self.cancelled.emit()
        elif event == "error":
            self._ended = True
            self.failed.emit(str(message.get("message", "training failed")))

    def _on_process_stderr(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAllStandardError()).decode(errors="replace")
        self._stderr.extend(line for line in text.splitlines() if line.strip())

    def _on_process_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_process_stdout()
        self._kill_timer.stop()
        process, self._process = self._process, None
        if process is not None:
            process.deleteLater()
        self._set_state("idle")
        if not self._ended and self._request == "cancel":
            # killed while cancelling: discard the run as the child would have
            if self.run_dir is not None:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            self._ended = True
            self.cancelled.emit()
        if not self._ended:
            tail = "\n".join(list(self._stderr)[-8:])
            how = ("was stopped" if self._request else "crashed") \
                if status == QProcess.ExitStatus.CrashExit else f"ended with code {code}"
            resumable = " The run can be resumed." if self.run_dir is not None and \
                (self.run_dir / "state.json").is_file() else ""
            self.failed.emit(f"The training process {how}.{resumable}"
                             + (f"\n{tail}" if tail else ""))

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            process, self._process = self._process, None
            if process is not None:
                process.deleteLater()
            self._set_state("idle")
            self._ended = True
            self.failed.emit(f"The training process could not start ({self.python}).")

    def _on_kill_timer_timeout(self) -> None:
        self.kill()
