"""The waveform: amplitude against time, peak-downsampled so that long recordings stay fast."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from .time_viewbox import TimeViewBox, style_plot

WAVEFORM_COLOUR = "#1f3a5f"


class WaveformPlot(pg.PlotItem):
    """Draws one mono signal; reads its amplitude back at any time."""

    def __init__(self) -> None:
        super().__init__(viewBox=TimeViewBox())
        style_plot(self, "Amplitude")
        self.curve = self.plot(pen=pg.mkPen(WAVEFORM_COLOUR, width=1))
        # pyqtgraph's peak downsampling keeps every S1/S2 spike visible when zoomed out, and
        # clip-to-view draws only what is on screen.
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self._samples = np.zeros(0, np.float32)
        self._rate = 1

    def set_signal(self, samples: np.ndarray, rate: int) -> None:
        self._samples = np.asarray(samples, dtype=np.float32)
        self._rate = int(rate)
        n = len(self._samples)
        times = np.arange(n, dtype=np.float64) / self._rate
        self.curve.setData(times, self._samples)
        peak = float(np.max(np.abs(self._samples))) if n else 1.0
        peak = peak if peak > 0 else 1.0
        self.vb.setLimits(xMin=0.0, xMax=n / self._rate, yMin=-peak * 1.1, yMax=peak * 1.1)
        self.setYRange(-peak * 1.05, peak * 1.05, padding=0)

    def clear_signal(self) -> None:
        self._samples = np.zeros(0, np.float32)
        self.curve.setData([], [])

    def amplitude_at(self, time_s: float) -> float | None:
        """The sample at ``time_s`` (None outside the recording)."""
        index = int(round(time_s * self._rate))
        if not 0 <= index < len(self._samples):
            return None
        return float(self._samples[index])
