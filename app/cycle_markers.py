"""Heart-cycle markers: where the core found S1 and S2, drawn along the top of the waveform.

The core's segmentation (:mod:`audiofuse_core.heartcycle`, carried by the Prediction as
``cycles``) gives the onset and offset of every S1 and S2 in seconds from the recording's start.
They are drawn as small spans in two lanes above the trace, S1 in the upper lane and S2 in the
lower one. Which sound is which is told by the lane and by its name on the amplitude axis
(:class:`CycleAxis`), not by colour alone; the two colours (:data:`app.colours.S1`,
:data:`app.colours.S2`) stay apart for colour-blind readers and from the normal/abnormal pair.
The lanes sit above the trace, so a marker never hides the signal it marks.

Everything here runs on the GUI thread.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from .colours import S1, S2

TRACE_TOP = 1.05  # the trace's range reaches this many peaks above zero
LANES_TOP = 1.44  # with the lanes shown
# (name, colour, bottom, top) in units of the recording's peak amplitude
LANES = (("S1", S1, 1.27, 1.41), ("S2", S2, 1.11, 1.25))
STATE_NAMES = ("S1", "systole", "S2", "diastole")  # audiofuse_core.heartcycle's order


class CycleAxis(pg.AxisItem):
    """The waveform's amplitude axis; names the marker lanes where the amplitude ticks end."""

    def __init__(self) -> None:
        super().__init__("left")
        self.amplitude_top = math.inf
        self.lanes: dict[float, str] = {}  # tick value -> lane name

    def set_lanes(self, lanes: dict[float, str], amplitude_top: float) -> None:
        self.lanes = dict(lanes)
        self.amplitude_top = amplitude_top
        self.picture = None  # pyqtgraph's cached drawing of the ticks
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph override
        levels = super().tickValues(minVal, maxVal, size)
        levels = [(spacing, [v for v in values if v <= self.amplitude_top])
                  for spacing, values in levels]
        if self.lanes and levels:
            spacing, values = levels[0]
            levels[0] = (spacing, values + list(self.lanes))
        return levels

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        strings = super().tickStrings(values, scale, spacing)
        return [self.lanes.get(value, text) for value, text in zip(values, strings)]


class CycleMarkers:
    """The S1 and S2 spans of one recording on a waveform plot, in their lanes."""

    def __init__(self, plot: pg.PlotItem, axis: CycleAxis) -> None:
        self._plot = plot
        self._axis = axis
        self._items: dict[str, pg.BarGraphItem] = {}
        self._spans: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._states = np.zeros(0, np.int8)
        self._state_rate = 50
        self._peak = 1.0
        self.visible = True

    @property
    def count(self) -> dict[str, int]:
        """How many S1 and S2 spans are drawn (0 each when none or hidden)."""
        return {name: (len(self._spans[name][0]) if name in self._spans and self.visible else 0)
                for name, *_ in LANES}

    def spans(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(onsets, offsets) in s of the ``name`` ("S1" or "S2") spans, empty when none."""
        return self._spans.get(name, (np.zeros(0), np.zeros(0)))

    def lane(self, name: str) -> tuple[float, float]:
        """(bottom, top) of the lane of ``name`` in the plot's amplitude units."""
        for lane_name, _colour, bottom, top in LANES:
            if lane_name == name:
                return bottom * self._peak, top * self._peak
        raise KeyError(name)

    def set_cycles(self, cycles) -> None:
        """Draw a :class:`~audiofuse_core.heartcycle.HeartCycles` (None or no sounds: clear)."""
        self.clear()
        if cycles is None:
            return
        found = {"S1": (cycles.s1_onsets, cycles.s1_offsets),
                 "S2": (cycles.s2_onsets, cycles.s2_offsets)}
        if not any(len(onsets) for onsets, _ in found.values()):
            return
        self._spans = {name: (np.asarray(a, np.float64), np.asarray(b, np.float64))
                       for name, (a, b) in found.items()}
        self._states = np.asarray(getattr(cycles, "states", np.zeros(0)), np.int8)
        self._state_rate = int(getattr(cycles, "state_rate", 50))
        self._draw()

    def clear(self) -> None:
        for item in self._items.values():
            self._plot.removeItem(item)
        self._items = {}
        self._spans = {}
        self._states = np.zeros(0, np.int8)
        self._update_axis()

    def set_peak(self, peak: float) -> None:
        """The recording's peak amplitude, which places the lanes."""
        self._peak = peak
        if self._spans:
            self._draw()
        self._update_axis()

    def set_visible(self, visible: bool) -> None:
        self.visible = bool(visible)
        for item in self._items.values():
            item.setVisible(self.visible)
        self._update_axis()

    def state_at(self, time_s: float) -> str | None:
        """The heart-cycle state (S1, systole, S2, diastole) at ``time_s``, None when unknown."""
        if not self.visible or not len(self._states) or time_s < 0:
            return None
        index = int(time_s * self._state_rate)
        if index >= len(self._states):
            return None
        state = int(self._states[index])
        return STATE_NAMES[state] if 0 <= state < len(STATE_NAMES) else None

    def _draw(self) -> None:
        for item in self._items.values():
            self._plot.removeItem(item)
        self._items = {}
        for name, colour, bottom, top in LANES:
            onsets, offsets = self._spans.get(name, (np.zeros(0), np.zeros(0)))
            if not len(onsets):
                continue
            item = pg.BarGraphItem(x0=onsets, x1=np.maximum(offsets, onsets),
                                   y0=bottom * self._peak, y1=top * self._peak,
                                   brush=pg.mkBrush(colour), pen=pg.mkPen(None))
            item.setZValue(2)
            item.setVisible(self.visible)
            self._plot.addItem(item, ignoreBounds=True)
            self._items[name] = item
        self._update_axis()

    def _update_axis(self) -> None:
        shown = self.visible and bool(self._spans)
        lanes = {(bottom + top) / 2.0 * self._peak: name for name, _c, bottom, top in LANES}
        self._axis.set_lanes(lanes if shown else {}, TRACE_TOP * self._peak)
