"""The model's runner: loads the classifier and classifies recordings off the GUI thread.

:class:`ModelRunner` lives on the GUI thread and owns a :class:`~app.job_thread.JobThread`
(``audiofuse-model``). Two threads take part:

1. **The GUI thread** calls :meth:`ModelRunner.load_model`, :meth:`~ModelRunner.classify` and
   :meth:`~ModelRunner.cancel`, which return at once, and receives every signal of the runner.
   The queue of recordings waiting to be classified lives here, in plain Python objects that only
   this thread touches.
2. **The model thread** imports TensorFlow and loads the model (seconds, behind a status
   message, after the window has appeared), then classifies one recording per job with the
   core's :class:`~audiofuse_core.inference.Classifier` (thread-safe for prediction).

The runner submits one recording at a time and the next only when the previous one has come
back, so only one model job runs at a time and a recording the user opens can go to the front of
the queue, ahead of a batch. Cancelling drops the waiting recordings of the batches; the one being
classified finishes (a fraction of a second) and its result is discarded. A recording being
classified when another model is loaded is classified again with the new one (its first answer is
dropped), so no answer of a replaced model reaches the screen after the switch.

:meth:`ModelRunner.explain` queues the other kind of job, an occlusion map of what drove the
result (:func:`audiofuse_core.explain.occlusion_map`, seconds to tens of seconds), with the same
model, at the front of the queue. Its progress reaches the GUI thread through a small relay
object (a queued signal; the model thread never calls a runner slot). It is stopped within one
segment of the map (well under a second) by :meth:`~ModelRunner.cancel_explanation`, by a newer
request to explain, and by :meth:`~ModelRunner.shutdown`; a stopped map is discarded, never shown
in part.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from audiofuse_core.errors import AudioFuseError

from .job_thread import JobError, JobThread

log = logging.getLogger(__name__)

CLASSIFY = "classify"
EXPLAIN = "explain"


@dataclass(frozen=True)
class ModelInfo:
    """What the app shows about the loaded model."""

    path: Path
    name: str
    version: str
    threshold: float
    kind: str
    sample_rate: int
    window_seconds: float
    metadata: dict[str, Any] = field(default_factory=dict)
    load_seconds: float = 0.0


@dataclass(frozen=True)
class Request:
    """One recording to classify (or explain); ``batch`` is None for the recording on screen."""

    id: int
    path: Path
    batch: int | None = None
    kind: str = CLASSIFY  # CLASSIFY or EXPLAIN


def describe_error(error: JobError, what: str) -> str:
    """A one-line reason for a failed job; unexpected errors are logged with their traceback."""
    exc = error.exception
    if isinstance(exc, AudioFuseError):
        return str(exc)
    log.error("unexpected error while %s:\n%s", what, error.traceback)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unexpected error while {what} ({type(exc).__name__}{': ' if text else ''}{text}); " \
           "details are in the log file"


def _load_classifier(path: Path | None) -> tuple[Any, ModelInfo]:
    # NB: runs on the model thread. TensorFlow is imported here, never on the GUI thread.
    import numpy as np

    from audiofuse_core.inference import Classifier

    started = time.perf_counter()
    classifier = Classifier(path)
    # Trace the compiled prediction function now, so the first recording is classified as fast
    # as the others (tracing takes most of a second).
    classifier.window_logits(np.zeros((1, classifier.preset.window_samples), np.float32))
    info = ModelInfo(
        path=Path(classifier.path), name=classifier.name, version=classifier.version,
        threshold=classifier.threshold, kind=classifier.kind,
        sample_rate=int(classifier.preset.sample_rate),
        window_seconds=float(classifier.preset.window_seconds),
        metadata=dict(classifier.metadata), load_seconds=time.perf_counter() - started)
    return classifier, info


def _explain(classifier: Any, path: Path, progress, should_stop) -> Any:
    # NB: runs on the model thread; ``progress`` only emits a queued signal.
    from audiofuse_core.explain import occlusion_map

    return occlusion_map(classifier, classifier.load(path), progress=progress,
                         should_stop=should_stop)


class _ProgressRelay(QObject):
    """Carries an explanation's progress from the model thread to the runner's slot."""

    progress = Signal(int, float)  # request id, fraction done


class ModelRunner(QObject):
    """Loads a model and classifies or explains recordings, one at a time, on the model
    thread.
    """

    model_loading = Signal(str)  # the model file
    model_ready = Signal(object)  # ModelInfo
    model_failed = Signal(str)  # one-line reason
    prediction_started = Signal(object)  # Request
    prediction_ready = Signal(object, object)  # Request, Prediction
    prediction_failed = Signal(object, str)  # Request, one-line reason
    request_cancelled = Signal(object)  # Request
    explanation_started = Signal(object)  # Request
    explanation_progress = Signal(object, float)  # Request, fraction done
    explanation_ready = Signal(object, object)  # Request, OcclusionMap
    explanation_failed = Signal(object, str)  # Request, one-line reason
    idle = Signal()  # nothing classifying, nothing waiting

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = JobThread("audiofuse-model", self)
        self._jobs.job_done.connect(self._on_job_done)
        self._ids = itertools.count(1)
        self._batches = itertools.count(1)
        self._classifier: Any = None
        self._info: ModelInfo | None = None
        self._error: str | None = None
        self._loading_job: int | None = None
        self._current: tuple[int, Request] | None = None  # (job, request) being classified
        self._discard: set[int] = set()  # request ids whose result comes back cancelled
        self._requeue: set[int] = set()  # classified with a model since replaced: run again
        self._pending: deque[Request] = deque()
        self._stops: dict[int, threading.Event] = {}  # explanation id -> its stop flag
        self._relay = _ProgressRelay(self)
        self._relay.progress.connect(self._on_explanation_progress,
                                     Qt.ConnectionType.QueuedConnection)

    # -- state -------------------------------------------------------------------------------
    @property
    def model_info(self) -> ModelInfo | None:
        return self._info

    @property
    def model_error(self) -> str | None:
        return self._error

    @property
    def loading(self) -> bool:
        return self._loading_job is not None

    @property
    def pending_count(self) -> int:
        return len(self._pending) + (1 if self._current is not None else 0)

    @property
    def busy(self) -> bool:
        return self._loading_job is not None or self.pending_count > 0

    # -- commands ----------------------------------------------------------------------------
    def load_model(self, path: str | Path | None = None) -> None:
        """Load ``path`` (None: the bundled model) on the model thread; the newest call wins."""
        model_path = None if path is None else Path(path)
        self.cancel_explanation()  # a map of the previous model would be stale
        if self._current is not None and self._current[1].kind == CLASSIFY:
            # classified with the previous model: its result is dropped when it comes back and
            # the recording goes first in the queue again, for the new model
            self._requeue.add(self._current[1].id)
        self._classifier = None
        self._info = None
        self._error = None
        self._loading_job = self._jobs.submit(lambda: _load_classifier(model_path))
        if model_path is None:
            from audiofuse_core.resources import default_model_path

            model_path = default_model_path()
        self.model_loading.emit(str(model_path))

    def new_batch(self) -> int:
        """A number to group the requests of one batch (for cancelling)."""
        return next(self._batches)

    def classify(self, path: str | Path, *, batch: int | None = None,
                 front: bool = False) -> Request:
        """Queue ``path``; ``front`` puts it ahead of waiting batch recordings."""
        request = Request(next(self._ids), Path(path), batch)
        if front:
            self._pending.appendleft(request)
        else:
            self._pending.append(request)
        QTimer.singleShot(0, self._dispatch)  # signals never fire inside this call
        return request

    def explain(self, path: str | Path) -> Request:
        """Queue an occlusion map of ``path`` at the front (a waiting or running one is
        cancelled first: the newest request wins).
        """
        self.cancel_explanation()
        request = Request(next(self._ids), Path(path), None, EXPLAIN)
        self._stops[request.id] = threading.Event()
        self._pending.appendleft(request)
        QTimer.singleShot(0, self._dispatch)
        return request

    def cancel_explanation(self) -> bool:
        """Stop the explanation waiting or running; returns whether there was one.

        A running map stops after its current segment and its result is discarded;
        :attr:`request_cancelled` is emitted for it when it comes back.
        """
        waiting = [r for r in self._pending if r.kind == EXPLAIN]
        self._pending = deque(r for r in self._pending if r.kind != EXPLAIN)
        for request in waiting:
            self._stops.pop(request.id, None)
            self.request_cancelled.emit(request)
        running = self._current is not None and self._current[1].kind == EXPLAIN
        if running:
            request = self._current[1]
            self._discard.add(request.id)
            self._stops[request.id].set()
        if waiting:
            self._emit_idle_if_done()
        return bool(waiting) or running

    def cancel(self, batch: int | None = None) -> int:
        """Cancel the batch ``batch`` (every batch when None); returns how many were cancelled.

        The recording on screen (``batch`` None) is never cancelled by this.
        """
        def selected(request: Request) -> bool:
            return request.batch is not None and (batch is None or request.batch == batch)

        dropped = [r for r in self._pending if selected(r)]
        self._pending = deque(r for r in self._pending if not selected(r))
        if self._current is not None and selected(self._current[1]):
            self._discard.add(self._current[1].id)
            dropped.insert(0, self._current[1])
        for request in dropped:
            if request.id not in self._discard:
                self.request_cancelled.emit(request)
        self._emit_idle_if_done()
        return len(dropped)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Drop what waits and end the model thread (waits for the job it is running)."""
        self._pending.clear()
        self._current = None
        for stop in self._stops.values():  # a running map ends after its current segment
            stop.set()
        return self._jobs.stop(timeout_ms)

    # -- the queue ----------------------------------------------------------------------------
    @Slot()
    def _dispatch(self) -> None:
        if self._current is not None or self._loading_job is not None or not self._pending:
            return
        if self._classifier is None:
            if self._error is not None:
                reason = f"not classified: the model could not be loaded ({self._error})"
                while self._pending:
                    request = self._pending.popleft()
                    if request.kind == EXPLAIN:
                        self._stops.pop(request.id, None)
                        self.explanation_failed.emit(request, reason)
                    else:
                        self.prediction_failed.emit(request, reason)
                self._emit_idle_if_done()
            return
        request = self._pending.popleft()
        classifier = self._classifier
        if request.kind == EXPLAIN:
            stop = self._stops[request.id]
            relay = self._relay

            def progress(fraction: float) -> None:
                relay.progress.emit(request.id, fraction)  # NB: on the model thread

            job = self._jobs.submit(
                lambda: _explain(classifier, request.path, progress, stop.is_set))
            self._current = (job, request)
            self.explanation_started.emit(request)
            return
        job = self._jobs.submit(lambda: classifier.predict_file(request.path))
        self._current = (job, request)
        self.prediction_started.emit(request)

    @Slot(int, object, object)
    def _on_job_done(self, job: int, result: Any, error: JobError | None) -> None:
        if job == self._loading_job:
            self._loading_job = None
            if error is not None:
                self._error = describe_error(error, "loading the model")
                log.warning("model not loaded: %s", self._error)
                self.model_failed.emit(self._error)
            else:
                self._classifier, self._info = result
                log.info("model %s (%s) ready in %.1f s", self._info.name, self._info.version,
                         self._info.load_seconds)
                self.model_ready.emit(self._info)
            self._dispatch()
            return
        if self._current is None or job != self._current[0]:
            return  # a superseded model load
        request = self._current[1]
        self._current = None
        self._stops.pop(request.id, None)
        if request.id in self._requeue:
            self._requeue.discard(request.id)
            asked_again = request.batch is None and any(
                r.path == request.path and r.kind == CLASSIFY for r in self._pending)
            if request.id not in self._discard and not asked_again:  # not cancelled meanwhile
                self._pending.appendleft(request)
                self._dispatch()
                return
            self._discard.add(request.id)  # reported cancelled below; the newer one answers
        if request.id in self._discard or (request.kind == EXPLAIN and error is None
                                           and result is None):
            self._discard.discard(request.id)
            self.request_cancelled.emit(request)
        elif request.kind == EXPLAIN:
            if error is not None:
                self.explanation_failed.emit(
                    request, describe_error(error, "working out what drove the result"))
            else:
                self.explanation_ready.emit(request, result)
        elif error is not None:
            self.prediction_failed.emit(request, describe_error(error, "classifying"))
        else:
            self.prediction_ready.emit(request, result)
        self._dispatch()
        self._emit_idle_if_done()

    @Slot(int, float)
    def _on_explanation_progress(self, request_id: int, fraction: float) -> None:
        current = self._current[1] if self._current is not None else None
        if current is not None and current.id == request_id and request_id not in self._discard:
            self.explanation_progress.emit(current, fraction)

    def _emit_idle_if_done(self) -> None:
        if self._current is None and not self._pending and self._loading_job is None:
            self.idle.emit()
