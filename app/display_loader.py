"""Reads recordings for the views off the GUI thread.

:class:`DisplayLoader` lives on the GUI thread and owns a :class:`~app.job_thread.JobThread`
(``audiofuse-reader``), apart from the model's thread so that a recording appears at once even
while the model loads or a batch is being classified. The reader thread reads the file and asks
the core for its spectrogram (:func:`app.display_data.prepare_display`); the GUI thread only
receives the finished :class:`~app.display_data.DisplayData`. Only the newest request counts: when
the user opens recordings faster than they are read, older results are dropped.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from .display_data import DisplayData, prepare_display
from .job_thread import JobError, JobThread
from .model_runner import describe_error


class DisplayLoader(QObject):
    """Prepares one recording at a time for display; the newest request wins."""

    loaded = Signal(object)  # DisplayData
    failed = Signal(str, str)  # path, one-line reason

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = JobThread("audiofuse-reader", self)
        self._jobs.job_done.connect(self._on_job_done)
        self._latest: tuple[int, Path] | None = None

    @property
    def busy(self) -> bool:
        return self._latest is not None

    def load(self, path: str | Path) -> None:
        """Read ``path`` for display; :attr:`loaded` or :attr:`failed` follows."""
        target = Path(path)
        job = self._jobs.submit(lambda: prepare_display(target))
        self._latest = (job, target)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        self._latest = None
        return self._jobs.stop(timeout_ms)

    @Slot(int, object, object)
    def _on_job_done(self, job: int, result: DisplayData | None, error: JobError | None) -> None:
        if self._latest is None or job != self._latest[0]:
            return  # superseded by a newer request
        path = self._latest[1]
        self._latest = None
        if error is not None:
            self.failed.emit(str(path), describe_error(error, f"reading {path.name}"))
        else:
            self.loaded.emit(result)
