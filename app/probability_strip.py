"""The per-window probabilities as a strip under the waveform, on the same time axis.

The model scores overlapping windows (5 s every 2.5 s for the default model). Drawing every
window would stack bars on top of each other, so each window gets the stretch of time nearest to
its centre (:func:`window_tiles`): the tiles cover the recording without overlap, and the tile
under any moment is the window centred closest to it. A tile at or above the threshold is drawn
in the abnormal colour, below it in the normal colour, with the threshold as a dashed line. A
recording the quality gate refused is drawn in grey: its probabilities are for audit only.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from .colours import ABNORMAL, NORMAL, REFUSED
from .time_viewbox import TimeViewBox, style_plot

STRIP_HEIGHT = 72  # px


def window_tiles(starts: np.ndarray, window_seconds: float,
                 duration: float) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) edges in seconds of the stretch of time each window stands for."""
    starts = np.asarray(starts, dtype=np.float64)
    if starts.size == 0:
        return np.zeros(0), np.zeros(0)
    centres = starts + min(window_seconds, duration) / 2.0
    middles = (centres[1:] + centres[:-1]) / 2.0
    left = np.concatenate([[0.0], middles])
    right = np.concatenate([middles, [duration]])
    return left, right


def strip_tooltip(window_seconds: float, threshold: float, *, refused: bool,
                  network_only: bool) -> str:
    """What the strip shows, in words, for its tooltip."""
    text = (f"Each tile: the probability of abnormal for the {window_seconds:g} s window "
            "centred nearest to that moment")
    if network_only:
        text += (", from the recording's sound alone (the network). The dashed line is the "
                 f"network's own threshold, {threshold:.2f}; the answer on the right also "
                 "weighs the whole recording's heart-cycle figures and has its own threshold.")
    else:
        text += f". The dashed line is the model's threshold, {threshold:.2f}."
    if refused:
        text += " Grey: the recording was refused for its quality; for audit only."
    return text


class ProbabilityStrip(pg.PlotItem):
    """Per-window probability of "abnormal", 0 to 1, with the decision threshold."""

    def __init__(self) -> None:
        super().__init__(viewBox=TimeViewBox())
        style_plot(self, "P(abn.)")
        self.hideAxis("bottom")
        self.setMinimumHeight(STRIP_HEIGHT)
        self.setMaximumHeight(STRIP_HEIGHT)
        self.vb.setLimits(yMin=-0.05, yMax=1.05)
        self.setYRange(0.0, 1.0, padding=0.05)
        self.bars: pg.BarGraphItem | None = None
        self.threshold_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen("#444444", width=1, style=Qt.PenStyle.DashLine))
        self.threshold_line.setVisible(False)
        self.addItem(self.threshold_line)
        self._left = np.zeros(0)
        self._right = np.zeros(0)
        self._probabilities = np.zeros(0)

    @property
    def tile_count(self) -> int:
        return int(len(self._probabilities))

    def set_windows(self, starts: np.ndarray, window_seconds: float, probabilities: np.ndarray,
                    threshold: float, duration: float, *, refused: bool = False,
                    network_only: bool = False) -> None:
        """Draw one tile per window. ``network_only``: the windows are the network's half of a
        model that also weighs the whole recording's heart-cycle figures, so ``threshold`` is
        the network's own, not the one the recording's answer is judged against (the tooltip
        says so).
        """
        self.clear_windows()
        self._left, self._right = window_tiles(starts, window_seconds, duration)
        self._probabilities = np.asarray(probabilities, dtype=np.float64)
        if refused:
            brushes = [pg.mkBrush(REFUSED)] * len(self._probabilities)
        else:
            brushes = [pg.mkBrush(ABNORMAL if p >= threshold else NORMAL)
                       for p in self._probabilities]
        self.bars = pg.BarGraphItem(x0=self._left, x1=self._right, y0=0.0,
                                    height=self._probabilities, brushes=brushes,
                                    pen=pg.mkPen("w", width=1))
        self.addItem(self.bars)
        self.threshold_line.setPos(threshold)
        self.threshold_line.setVisible(True)
        self.getAxis("left").setTicks([[(0.0, "0"), (threshold, f"{threshold:.2f}"),
                                        (1.0, "1")]])
        self.setToolTip(strip_tooltip(window_seconds, threshold, refused=refused,
                                      network_only=network_only))

    def clear_windows(self) -> None:
        if self.bars is not None:
            self.removeItem(self.bars)
            self.bars = None
        self.threshold_line.setVisible(False)
        self.getAxis("left").setTicks(None)
        self.setToolTip("")
        self._probabilities = np.zeros(0)
        self._left = self._right = np.zeros(0)

    def probability_at(self, time_s: float) -> float | None:
        """The probability of the tile under ``time_s`` (None when there is none)."""
        if not len(self._probabilities):
            return None
        index = int(np.searchsorted(self._right, time_s, side="left"))
        if index >= len(self._probabilities) or time_s < self._left[0]:
            return None
        return float(self._probabilities[index])
