"""Background tasks of the panel (folder scans, evaluations, model checks) off the GUI thread.

Two threads meet here: the GUI thread calls :meth:`TaskRunner.submit`; a Python worker thread runs
the callable, which must not touch a widget. The result, the error, and progress reports go
back through signals of the :class:`TaskRunner`, which lives on the GUI thread, so Qt queues them
and every slot runs on the GUI thread. One task at a time: a runner is busy until its task
returns. :meth:`TaskRunner.cancel` sets a flag the task's ``should_stop`` reads.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..gc_guard import collect_garbage_on_gui_thread


class TaskRunner(QObject):
    """Runs one callable at a time on a worker thread; see the module docstring."""

    done = Signal(str, object)  # task name, result
    error = Signal(str, object, str)  # task name, exception, traceback text
    progress = Signal(str, object)  # task name, whatever the task reported
    busy_changed = Signal(bool)
    _ended = Signal(str, bool, object, str)  # from the worker: name, ok, result/exception, trace

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_garbage_on_gui_thread()  # a task must never collect the GUI's garbage
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._active = False
        self.name = ""
        # One queued signal from the worker; done/error/busy_changed are then emitted from the
        # GUI thread in a fixed order (a queued signal per slot could interleave with others).
        self._ended.connect(self._on_worker_ended)

    @property
    def busy(self) -> bool:
        return self._active

    def _on_worker_ended(self, name: str, ok: bool, value: object, trace: str) -> None:
        self._active = False  # free before the slots run: they may submit the next task
        if ok:
            self.done.emit(name, value)
        else:
            self.error.emit(name, value, trace)
        if not self._active:
            self.busy_changed.emit(False)

    def submit(self, name: str, function: Callable[..., Any]) -> None:
        """Run ``function(report, should_stop)`` on a worker thread."""
        if self.busy:
            raise RuntimeError(f"busy with {self.name}")
        self.name = name
        self._stop.clear()
        self._active = True
        self.busy_changed.emit(True)

        def report(value: Any) -> None:
            # NB: called on the worker thread; the signal is queued to the GUI thread.
            self.progress.emit(name, value)

        def body() -> None:
            try:
                result = function(report, self._stop.is_set)
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the GUI
                self._ended.emit(name, False, exc, traceback.format_exc())
            else:
                self._ended.emit(name, True, result, "")

        self._thread = threading.Thread(target=body, name=f"advanced-{name}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
