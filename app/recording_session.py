"""One recording at a time, seen from the GUI thread: the recorder, the live display, the timer.

:class:`RecordingSession` lives on the GUI thread and owns the engine's
:class:`~app.recording.recorder.Recorder`. Four activities run at once, and none waits on
another (see :mod:`app.recording.recorder` for the first two):

1. the audio callback (PortAudio's real-time thread, or a
   :class:`~app.recording.fake_source.FakeSource`'s) copies blocks into the display ring buffer
   and the lossless queue, and counts;
2. the recorder's writer thread writes the queue to disk and finishes the file; its
   ``on_finished`` call only emits a Qt signal, which Qt queues to the GUI thread;
3. a short-lived helper thread calls ``Recorder.stop``: stopping a stream waits on the sound
   system (up to 3 s for a vanished device), which the GUI thread must never do;
4. the GUI thread's :class:`~PySide6.QtCore.QTimer` (about 30 times a second) reads the
   newest frames of the ring buffer and the level, feeds :class:`~app.live_data.LiveDisplay`
   and emits :attr:`RecordingSession.frame`; widgets redraw from that.

Before recording, a *monitor* (a recorder that saves nothing) can show the input level while
the chest piece is placed; it releases the device before the recording opens it.

Every signal a widget sees arrives on the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from .live_data import LiveDisplay
from .recording import Level, Recorder, RecordingInfo, RecordingResult

FRAME_INTERVAL_MS = 33  # about 30 frames a second
LIVE_SECONDS = 10.0  # what the live views show


class RecordingSession(QObject):
    """Starts and stops recordings; keeps the live data of the one in progress."""

    started = Signal(object)  # RecordingInfo (device and rate filled in)
    frame = Signal()  # a display tick: display, level, elapsed_s, overflows are fresh
    finished = Signal(object)  # RecordingResult, once the file is saved (or saving failed)
    monitor_failed = Signal(str)  # listening before recording ended by itself: why
    _writer_finished = Signal(object)  # emitted on the writer thread, queued to this thread
    _monitor_finished = Signal(object)  # likewise, for the monitor

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.recorder: Recorder | None = None
        self.monitor: Recorder | None = None  # listening before recording: nothing saved
        self._after_monitor: Callable[[], None] | None = None
        self.display: LiveDisplay | None = None
        self.level = Level(Level.FLOOR, Level.FLOOR, False)
        self._active = False
        self._closed = False
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_INTERVAL_MS)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._on_timer)
        self._writer_finished.connect(self._on_writer_finished,
                                      Qt.ConnectionType.QueuedConnection)
        self._monitor_finished.connect(self._on_monitor_finished,
                                       Qt.ConnectionType.QueuedConnection)

    @property
    def active(self) -> bool:
        """From :meth:`start` until :attr:`finished` has been emitted."""
        return self._active

    @property
    def stopping(self) -> bool:
        """The recording has ended (stop asked, duration reached, device lost) and the file is
        being finished.
        """
        return self._active and self.recorder is not None and not self.recorder.is_recording

    @property
    def elapsed_s(self) -> float:
        return self.recorder.elapsed_s if self.recorder is not None else 0.0

    @property
    def overflows(self) -> int:
        return self.recorder.overflows if self.recorder is not None else 0

    def start(self, path: Path, *, source: Any, samplerate: int | None, info: RecordingInfo,
              max_seconds: float | None) -> RecordingInfo:
        """Start recording ``source`` to ``path``; raises RecordingError with a plain message."""
        if self._active or self.monitor is not None:
            raise RuntimeError("a recording or the monitor is in progress")
        recorder = Recorder(path, source=source, samplerate=samplerate, info=info,
                            max_seconds=max_seconds, display_seconds=LIVE_SECONDS,
                            on_finished=self._from_writer)
        recorder.start()
        self.recorder = recorder
        self.display = LiveDisplay(recorder.samplerate, seconds=LIVE_SECONDS)
        self.level = Level(Level.FLOOR, Level.FLOOR, False)
        self._active = True
        self.timer.start()
        self.started.emit(recorder.info)
        return recorder.info

    def stop(self) -> None:
        """Ask the recording to stop; :attr:`finished` follows once the file is saved."""
        recorder = self.recorder
        if not self._active or recorder is None or not recorder.is_recording:
            return
        threading.Thread(target=recorder.stop, kwargs={"wait": False}, daemon=True,
                         name="audiofuse-recording-stop").start()

    # -- listening before recording ---------------------------------------------------------
    def start_monitor(self, *, source: Any, samplerate: int | None) -> None:
        """Show the level (and live data) of ``source`` without saving anything, e.g. while the
        chest piece is placed. Raises RecordingError with a plain message.
        """
        if self._active or self.monitor is not None:
            raise RuntimeError("a recording or the monitor is in progress")
        monitor = Recorder(None, source=source, samplerate=samplerate,
                           display_seconds=LIVE_SECONDS, on_finished=self._from_monitor)
        monitor.start()
        self.monitor = monitor
        self.display = LiveDisplay(monitor.samplerate, seconds=LIVE_SECONDS)
        self.level = Level(Level.FLOOR, Level.FLOOR, False)
        self.timer.start()

    @property
    def monitor_stopping(self) -> bool:
        return self.monitor is not None and not self.monitor.is_recording

    def stop_monitor(self, then: Callable[[], None] | None = None) -> None:
        """Stop listening; ``then()`` runs on the GUI thread once the device is released (at
        once when not listening). The stream is stopped from a helper thread.
        """
        monitor = self.monitor
        if monitor is None:
            if then is not None:
                then()
            return
        if then is not None:
            self._after_monitor = then
        if monitor.is_recording:
            threading.Thread(target=monitor.stop, kwargs={"wait": False}, daemon=True,
                             name="audiofuse-monitor-stop").start()

    def _from_monitor(self, result: RecordingResult) -> None:
        # NB: called on the monitor's writer thread.
        self._emit_from_thread(self._monitor_finished, result)

    @Slot(object)
    def _on_monitor_finished(self, result: RecordingResult) -> None:
        if self._closed:
            return
        self.monitor = None
        self.display = None
        self.level = Level(Level.FLOOR, Level.FLOOR, False)
        if not self._active:
            self.timer.stop()
        then, self._after_monitor = self._after_monitor, None
        if then is not None:
            then()
        elif result.message:  # ended by itself: the device went away
            self.monitor_failed.emit(result.message)

    def shutdown(self, timeout: float = 5.0) -> RecordingResult | None:
        """When the window closes: stop and wait (at most ``timeout`` s) for the file to be
        saved. :attr:`finished` is not emitted afterwards.
        """
        self._closed = True
        self.timer.stop()
        if self.monitor is not None:
            self.monitor.stop(wait=True, timeout=timeout)
            self.monitor = None
        if not self._active or self.recorder is None:
            return None
        result = self.recorder.stop(wait=True, timeout=timeout)
        self._active = False
        return result

    def _from_writer(self, result: RecordingResult) -> None:
        # NB: called on the recorder's writer thread.
        self._emit_from_thread(self._writer_finished, result)

    def _emit_from_thread(self, signal: Any, result: RecordingResult) -> None:
        # NB: called on a writer thread. Only a signal; Qt queues it to the GUI thread.
        if self._closed:
            return
        try:
            signal.emit(result)
        except RuntimeError:  # the window (and this object) is already gone
            pass

    @Slot()
    def _on_timer(self) -> None:
        recorder = self.recorder if self._active else self.monitor
        display = self.display
        if recorder is None or display is None:
            return
        new = recorder.frames_captured - display.frames_seen
        if new > 0:
            margin = recorder.samplerate // 10  # frames that arrive while we read
            data, end = recorder.snapshot((new + margin) / recorder.samplerate)
            display.feed(data, end)
        self.level = recorder.level()
        self.frame.emit()

    @Slot(object)
    def _on_writer_finished(self, result: RecordingResult) -> None:
        if self._closed:
            return
        self._on_timer()  # the last frames
        self.timer.stop()
        self._active = False
        self.finished.emit(result)
