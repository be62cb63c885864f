"""Cyclic garbage is collected on the GUI thread, never in a worker (see app/gc_guard.py)."""

from __future__ import annotations

import gc
import threading
import time

from PySide6.QtCore import QTimer

from app import gc_guard
from app.gc_guard import FULL_SHARE, TICK_MS, collect_garbage_on_gui_thread, collect_if_due
from app.job_thread import JobThread


class _Cycle:
    """A reference cycle that notes the thread which finally destroys it."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen
        self.me = self

    def __del__(self) -> None:
        self.seen.append(threading.current_thread().name)


def _make_cyclic_garbage(count: int) -> None:
    for _ in range(count):
        loop: list = []
        loop.append(loop)


def test_a_job_never_collects_the_gui_threads_garbage(qtbot):
    jobs = JobThread("gc-guard-test")
    try:
        assert not gc.isenabled()
        gc.collect()
        seen: list[str] = []
        _Cycle(seen)  # garbage now, but only the cyclic collector can free it
        threshold = gc.get_threshold()[0]
        # Enough cyclic allocations in the worker to pass generation 0's threshold many times:
        # the automatic collector would run there and destroy the cycle on the worker thread.
        with qtbot.waitSignal(jobs.job_done, timeout=30_000):
            jobs.submit(lambda: _make_cyclic_garbage(threshold * 20))
        qtbot.waitUntil(lambda: bool(seen), timeout=10 * TICK_MS)  # the GUI thread's timer
        assert seen == [threading.main_thread().name]
    finally:
        assert jobs.stop()


def test_the_guard_is_idempotent_and_collects_what_is_due(qapp):
    collect_garbage_on_gui_thread()
    collect_garbage_on_gui_thread()
    assert not gc.isenabled()
    timers = [t for t in qapp.findChildren(QTimer) if t.objectName() == "audiofuse-gc"]
    assert len(timers) == 1 and timers[0].isActive()
    gc.collect()
    assert collect_if_due() == 0  # nothing due just after a collection
    seen: list[str] = []
    _Cycle(seen)
    _make_cyclic_garbage(gc.get_threshold()[0] + 1)
    assert collect_if_due() > 0
    assert seen == [threading.main_thread().name]


def test_full_collections_take_at_most_their_share_of_the_gui_thread(qapp, monkeypatch):
    collect_garbage_on_gui_thread()
    gc.collect()
    for _ in range(gc.get_threshold()[2] + 1):
        gc.collect(1)  # each one counts towards the oldest generation
    assert gc.get_count()[2] > gc.get_threshold()[2]
    full = gc.get_stats()[2]["collections"]
    # The last full collection took 1 s and ended just now: the next must wait 1 / FULL_SHARE s.
    monkeypatch.setitem(gc_guard._last_full, "at", time.perf_counter())
    monkeypatch.setitem(gc_guard._last_full, "took", 1.0)
    collect_if_due()
    assert gc.get_stats()[2]["collections"] == full
    monkeypatch.setitem(gc_guard._last_full, "at", time.perf_counter() - 1.0 / FULL_SHARE)
    collect_if_due()
    assert gc.get_stats()[2]["collections"] == full + 1
    assert 0 <= gc_guard._last_full["took"] < 1.0
