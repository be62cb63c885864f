"""Guard against a reference-count bug of PySide6 6.12.0 on Python 3.11.

The PySide6 6.12.0 wheel (stable ABI) drops one reference to ``None`` (or ``True``/``False``)
on every call that returns it: ``setText``, ``emit``, ``processEvents``, pyqtgraph's painting...
Python 3.12 made these objects immortal, so there it is harmless; on 3.11 their count falls by
hundreds per second while the training curves repaint, and Python aborts ("none_dealloc:
deallocating None") once it reaches zero, taking the app down with it. Measured here: 100 calls
to ``QLabel.setText`` lower ``sys.getrefcount(None)`` by exactly 100.

:func:`make_singletons_immortal` adds 2**40 references to each of the three objects, which is
what 3.12 does in effect. It is idempotent and does nothing on 3.12 and later. The panel calls it
when it opens; the app's start-up should call it too (it protects every window).
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
_done = False


def make_singletons_immortal() -> None:
    global _done
    if _done or sys.version_info >= (3, 12):
        return
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _done = True
