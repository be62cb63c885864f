"""Run Python's cyclic garbage collector on the GUI thread only.

Python collects reference cycles in whichever thread happens to allocate when a threshold is
crossed. In this program that is often a worker: the model loading in its thread, a task of the
Advanced panel, the recorder's writer, PortAudio's callback. If the garbage holds a Qt object of
the GUI thread (a closed dialog, a window's wrapper), Qt then destroys it off its thread and the
process can crash. CI saw exactly that: a segmentation fault, "Garbage-collecting", in the thread
that was loading a model while the widgets of an earlier window were still uncollected.

:func:`collect_garbage_on_gui_thread` turns the automatic collector off and runs the same
thresholds from a timer on the GUI thread instead (calibre's ``GarbageCollector`` works the same
way). Objects without cycles are still freed at once by reference counting; only cycles wait, for
at most one tick. Call it on the GUI thread once a ``QCoreApplication`` exists; it is idempotent.

A full collection walks every object: with TensorFlow and a model loaded (340 000 objects) it
takes about 0.2 s here, a visible hitch. Python 3.11's own collector limits how often it runs
with a count this module cannot read, so the timer keeps full collections to at most
``FULL_SHARE`` of the time instead: after one that took 0.2 s, the next waits at least 20 s.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

TICK_MS = 250
FULL_SHARE = 0.01

_timer: QTimer | None = None
_last_full = {"at": float("-inf"), "took": 0.0}  # perf_counter seconds


def collect_if_due() -> int:
    """Collect the oldest generation whose count passed its threshold, as the automatic
    collector would (a full collection only within ``FULL_SHARE``); returns how many objects
    were found unreachable (0 when nothing was due).
    """
    counts = gc.get_count()
    thresholds = gc.get_threshold()
    now = time.perf_counter()
    if (thresholds[2] and counts[2] > thresholds[2]
            and now - _last_full["at"] >= _last_full["took"] / FULL_SHARE):
        found = gc.collect(2)
        _last_full.update(at=now, took=time.perf_counter() - now)
        return found
    for generation in (1, 0):
        if thresholds[generation] and counts[generation] > thresholds[generation]:
            return gc.collect(generation)
    return 0


def collect_garbage_on_gui_thread() -> None:
    """Disable automatic collection and collect from a GUI-thread timer instead (see above)."""
    global _timer
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("collect_garbage_on_gui_thread needs a QCoreApplication")
    if QThread.currentThread() is not app.thread():
        raise RuntimeError("collect_garbage_on_gui_thread must be called on the GUI thread")
    if _timer is not None:
        gc.disable()  # someone may have enabled it again
        return
    _timer = QTimer(app)
    _timer.setObjectName("audiofuse-gc")
    _timer.setInterval(TICK_MS)
    _timer.timeout.connect(collect_if_due)
    _timer.start()
    app.destroyed.connect(_forget)
    gc.disable()


def _forget(_app: QObject | None = None) -> None:
    """The application is gone: no more timer, so the automatic collector takes over again."""
    global _timer
    _timer = None
    gc.enable()
