"""The waveform: amplitude against time, peak-downsampled so that long recordings stay fast.

Above the trace, once a recording is classified, two lanes mark where the core found S1 and S2
(:mod:`app.cycle_markers`); hiding the markers gives their room back to the trace.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from .cycle_markers import LANES_TOP, TRACE_TOP, CycleAxis, CycleMarkers
from .time_viewbox import TimeViewBox, style_plot

WAVEFORM_COLOUR = "#1f3a5f"


class WaveformPlot(pg.PlotItem):
    """Draws one mono signal and its heart-cycle markers; reads its amplitude back."""

    def __init__(self) -> None:
        axis = CycleAxis()
        super().__init__(viewBox=TimeViewBox(), axisItems={"left": axis})
        style_plot(self, "Amplitude")
        self.markers = CycleMarkers(self, axis)
        self.curve = self.plot(pen=pg.mkPen(WAVEFORM_COLOUR, width=1))
        # pyqtgraph's peak downsampling keeps every S1/S2 spike visible when zoomed out, and
        # clip-to-view draws only what is on screen.
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self._samples = np.zeros(0, np.float32)
        self._rate = 1
        self._peak = 1.0

    def set_signal(self, samples: np.ndarray, rate: int) -> None:
        self._samples = np.asarray(samples, dtype=np.float32)
        self._rate = int(rate)
        n = len(self._samples)
        times = np.arange(n, dtype=np.float64) / self._rate
        self.curve.setData(times, self._samples)
        peak = float(np.max(np.abs(self._samples))) if n else 1.0
        self._peak = peak if peak > 0 else 1.0
        self.markers.clear()
        self.markers.set_peak(self._peak)
        self.vb.setLimits(xMin=0.0, xMax=n / self._rate)
        self._fit_amplitude()

    def clear_signal(self) -> None:
        self._samples = np.zeros(0, np.float32)
        self.curve.setData([], [])
        self.markers.clear()

    def set_cycles(self, cycles) -> None:
        """Mark the S1 and S2 of a HeartCycles (None clears the markers)."""
        self.markers.set_cycles(cycles)

    def set_markers_visible(self, visible: bool) -> None:
        """Show or hide the heart-cycle lanes (hidden: the trace takes their room)."""
        self.markers.set_visible(visible)
        self._fit_amplitude()

    def _fit_amplitude(self) -> None:
        peak = self._peak
        top = peak * (LANES_TOP if self.markers.visible else TRACE_TOP)
        self.vb.setLimits(yMin=-peak * 1.1, yMax=top + peak * 0.05)
        self.setYRange(-peak * TRACE_TOP, top, padding=0)

    def amplitude_at(self, time_s: float) -> float | None:
        """The sample at ``time_s`` (None outside the recording)."""
        index = int(round(time_s * self._rate))
        if not 0 <= index < len(self._samples):
            return None
        return float(self._samples[index])
