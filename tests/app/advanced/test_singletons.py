"""The guard against PySide6 6.12.0's lost references to None on Python 3.11."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel

from app.advanced.singletons import make_singletons_immortal


def test_many_qt_calls_cannot_exhaust_none(qtbot):
    make_singletons_immortal()
    make_singletons_immortal()  # idempotent
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(1000):
        label.setText("x")
    if sys.version_info < (3, 12):
        assert sys.getrefcount(None) > 1 << 39
    assert sys.getrefcount(None) >= before - 1000
