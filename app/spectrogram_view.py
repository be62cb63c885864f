"""The spectrogram: the core's display spectrogram drawn with a perceptual colour map.

The view computes nothing: :func:`audiofuse_core.features.display_spectrogram` made the dB image
(see :mod:`app.display_data`); this draws it on the same time axis as the waveform, with the
frequency axis in Hz up to the heart-sound band's top. On request it also draws the occlusion map
(:mod:`app.occlusion_overlay`) over it, with the spectrogram in grey so that the map's colours
stand out.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from audiofuse_core.features import Spectrogram

from .occlusion_overlay import OcclusionOverlay
from .time_viewbox import TimeViewBox, style_plot

COLOUR_MAP = "viridis"  # perceptually uniform, readable in grey and by colour-blind readers
# under the occlusion map: quiet light, loud dark, so the map's colours read on every level
GREY_MAP = pg.ColorMap([0.0, 1.0], [(250, 250, 250), (55, 55, 60)])
DYNAMIC_RANGE_DB = 60.0


class SpectrogramPlot(pg.PlotItem):
    """Draws a Spectrogram; reads the level back at any time and frequency."""

    def __init__(self) -> None:
        super().__init__(viewBox=TimeViewBox())
        style_plot(self, "Frequency (Hz)")
        self.setLabel("bottom", "Time (s)")
        self.image = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
        self.image.setColorMap(pg.colormap.get(COLOUR_MAP))
        self.addItem(self.image)
        self._spectrogram: Spectrogram | None = None
        self._rect = QRectF()
        self._fmax = 1000.0
        self.overlay: OcclusionOverlay | None = None

    def set_spectrogram(self, spectrogram: Spectrogram, *, fmax: float, duration: float) -> None:
        self.clear_occlusion()
        self._spectrogram = spectrogram
        self._fmax = fmax
        db = spectrogram.db
        times, freqs = spectrogram.times, spectrogram.frequencies
        hop = float(times[1] - times[0]) if len(times) > 1 else duration
        bin_hz = float(freqs[1] - freqs[0]) if len(freqs) > 1 else fmax
        top = float(np.max(db)) if db.size else 0.0
        self.image.setImage(db, levels=(top - DYNAMIC_RANGE_DB, top))
        # Row-major: rows are frequencies, columns frames; each pixel is centred on its frame's
        # time and its bin's frequency.
        self._rect = QRectF(float(times[0]) - hop / 2.0, float(freqs[0]) - bin_hz / 2.0,
                            hop * db.shape[1], bin_hz * db.shape[0])
        self.image.setRect(self._rect)
        self.vb.setLimits(xMin=0.0, xMax=max(duration, 1e-3), yMin=0.0, yMax=fmax)
        self.setYRange(0.0, fmax, padding=0)

    def clear_spectrogram(self) -> None:
        self.clear_occlusion()
        self._spectrogram = None
        self.image.clear()

    # -- the occlusion map ---------------------------------------------------------------------
    @property
    def occlusion_shown(self) -> bool:
        return self.overlay is not None and self.overlay.isVisible()

    def set_occlusion(self, occlusion) -> None:
        """Draw an :class:`~audiofuse_core.explain.OcclusionMap` over the spectrogram."""
        self.clear_occlusion()
        self.overlay = OcclusionOverlay(occlusion, fmax=self._fmax)
        self.overlay.setZValue(3)
        self.addItem(self.overlay, ignoreBounds=True)
        self.set_occlusion_visible(True)

    def set_occlusion_visible(self, visible: bool) -> None:
        if self.overlay is not None:
            self.overlay.setVisible(visible)
        grey = visible and self.overlay is not None
        self.image.setColorMap(GREY_MAP if grey else pg.colormap.get(COLOUR_MAP))

    def clear_occlusion(self) -> None:
        if self.overlay is not None:
            self.removeItem(self.overlay)
            self.overlay = None
        self.image.setColorMap(pg.colormap.get(COLOUR_MAP))

    def occlusion_at(self, time_s: float, frequency_hz: float) -> float | None:
        """The occlusion map's probability drop at a time and frequency (None: none shown)."""
        if not self.occlusion_shown:
            return None
        return self.overlay.drop_at(time_s, frequency_hz)

    def level_at(self, time_s: float, frequency_hz: float) -> float | None:
        """The level (dB re the recording's maximum) at a time and frequency, None outside."""
        spec = self._spectrogram
        if spec is None or spec.db.size == 0 or not self._rect.contains(time_s, frequency_hz):
            return None
        column = int((time_s - self._rect.left()) / self._rect.width() * spec.db.shape[1])
        row = int((frequency_hz - self._rect.top()) / self._rect.height() * spec.db.shape[0])
        column = min(max(column, 0), spec.db.shape[1] - 1)
        row = min(max(row, 0), spec.db.shape[0] - 1)
        return float(spec.db[row, column])
