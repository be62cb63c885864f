"""A thread that runs jobs one at a time for a runner object on the GUI thread.

Two threads meet here, and neither waits on the other:

1. **The GUI thread** owns the :class:`JobThread` object. It calls :meth:`JobThread.submit` with
   a plain callable; the call returns at once with a job number.
2. **The worker thread** (a ``QThread`` named after its runner) runs the callables in the order
   they were submitted, one at a time. A job gets nothing from Qt and must not touch a widget:
   it computes and returns. Its result, or the exception it raised with the traceback's text,
   goes back through a queued signal.

:attr:`JobThread.job_done` is emitted by the :class:`JobThread` itself, on the GUI thread, so a
runner (and every widget behind it) only ever sees signals on the GUI thread (Orange's
``TaskState`` and superqt's workers do the same). :meth:`JobThread.stop` asks the thread to end
after its current job and waits for it: ``closeEvent`` calls it, so no thread outlives the
window.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from .gc_guard import collect_garbage_on_gui_thread


@dataclass(frozen=True)
class JobError:
    """A job's exception and the traceback's text (for the log)."""

    exception: Exception
    traceback: str


class _Worker(QObject):
    """Lives on the worker thread; runs what it is sent."""

    done = Signal(int, object, object)  # job number, result, JobError or None

    @Slot(int, object)
    def run(self, job: int, function: Callable[[], Any]) -> None:
        # NB: runs on the worker thread.
        try:
            result = function()
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the runner
            self.done.emit(job, None, JobError(exc, traceback.format_exc()))
        else:
            self.done.emit(job, result, None)


class JobThread(QObject):
    """A worker thread and the GUI-thread end of it."""

    job_done = Signal(int, object, object)  # job number, result, JobError or None
    _submit = Signal(int, object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_garbage_on_gui_thread()  # a job must never collect the GUI's garbage
        self._numbers = itertools.count(1)
        self._in_flight: set[int] = set()
        self._thread = QThread(self)
        self._thread.setObjectName(name)
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run)
        self._worker.done.connect(self._on_worker_done)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Whether a submitted job has not come back yet."""
        return bool(self._in_flight)

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def submit(self, function: Callable[[], Any]) -> int:
        """Queue ``function`` on the worker thread; its outcome comes with :attr:`job_done`."""
        if not self._thread.isRunning():
            raise RuntimeError("the worker thread has been stopped")
        job = next(self._numbers)
        self._in_flight.add(job)
        self._submit.emit(job, function)
        return job

    def stop(self, timeout_ms: int = 60_000) -> bool:
        """End the thread after its current job (queued jobs are dropped); wait for it.

        Returns whether the thread ended within ``timeout_ms``.
        """
        self._in_flight.clear()
        if not self._thread.isRunning():
            return True
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    @Slot(int, object, object)
    def _on_worker_done(self, job: int, result: Any, error: JobError | None) -> None:
        if job not in self._in_flight:  # dropped by stop()
            return
        self._in_flight.discard(job)
        self.job_done.emit(job, result, error)
