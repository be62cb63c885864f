"""A pyqtgraph ViewBox that turns the mouse into the time navigation people know from Audacity
and EDFbrowser, instead of pyqtgraph's own free pan and zoom.

It changes no range itself: it reports what the user asked for (zoom around a time, scroll by a
fraction of the view, a click, a drag, a double-click) and the recording view, which keeps the
waveform, the probability strip and the spectrogram together, decides. See
:data:`app.shortcuts.GESTURES` for the table the help shows.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from .navigation import STEP_FRACTION, WHEEL_NOTCH, wheel_zoom_factor

SHIFT_SCROLL_FRACTION = 0.5  # Shift+wheel scrolls half the view per notch
LEFT_AXIS_WIDTH = 64  # px: the same for every plot, so their time axes line up


class TimeViewBox(pg.ViewBox):
    """Reports navigation gestures as signals (times in seconds)."""

    zoom_requested = Signal(float, float)  # factor (>1 zooms in), anchor time
    scroll_requested = Signal(float)  # fraction of the visible span (+ later)
    clicked = Signal(float)  # time
    double_clicked = Signal()
    drag_selected = Signal(float, float, bool)  # start, end, finished

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=False, y=False)

    def time_at(self, scene_pos) -> float:
        return float(self.mapSceneToView(scene_pos).x())

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph/Qt override
        delta = float(ev.delta())
        if delta == 0:
            ev.ignore()
            return
        modifiers = ev.modifiers()
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            self.zoom_requested.emit(wheel_zoom_factor(delta), self.time_at(ev.scenePos()))
        else:
            fast = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
            fraction = SHIFT_SCROLL_FRACTION if fast else STEP_FRACTION
            # Wheel away from the user (positive) goes back in time, as in Audacity.
            self.scroll_requested.emit(-delta / WHEEL_NOTCH * fraction)
        ev.accept()

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.double():
            self.double_clicked.emit()
        else:
            self.clicked.emit(self.time_at(ev.scenePos()))

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        start = self.time_at(ev.buttonDownScenePos())
        self.drag_selected.emit(start, self.time_at(ev.scenePos()), bool(ev.isFinish()))


def style_plot(plot: pg.PlotItem, left_label: str) -> None:
    """The look every time plot shares: fixed-width left axis, light grid, no auto-range."""
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setLabel("left", left_label)
    left = plot.getAxis("left")
    left.setWidth(LEFT_AXIS_WIDTH)
    left.enableAutoSIPrefix(False)
    plot.getAxis("bottom").enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.disableAutoRange()
