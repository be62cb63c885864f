"""The live views shown while recording: the last seconds of waveform and spectrogram, scrolling.

A light sibling of :class:`~app.recording_view.RecordingView`: the same plot style and colours,
no navigation (the time axis follows the recording), and only ``setData``/``setImage`` calls on
each frame. It draws what a :class:`~app.live_data.LiveDisplay` holds; it computes nothing. GUI
thread only.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .live_data import LiveDisplay
from .recording_view import configure_pyqtgraph
from .spectrogram_view import COLOUR_MAP, DYNAMIC_RANGE_DB
from .time_viewbox import style_plot
from .waveform_view import WAVEFORM_COLOUR

MIN_AMPLITUDE = 0.01  # the waveform's smallest half-range: hiss is not blown up to full height


class LiveView(QWidget):
    """Scrolling waveform over spectrogram of a recording in progress."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.setObjectName("live_view")
        self.title = QLabel()
        self.title.setObjectName("live_title")
        self.title.setStyleSheet("font-weight: bold; color: #b91c1c; padding: 2px;")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("live_graphics")
        self.waveform = pg.PlotItem()
        style_plot(self.waveform, "Amplitude")
        self.waveform.setMouseEnabled(x=False, y=False)
        self.curve = self.waveform.plot(pen=pg.mkPen(WAVEFORM_COLOUR, width=1))
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.spectrogram = pg.PlotItem()
        style_plot(self.spectrogram, "Frequency (Hz)")
        self.spectrogram.setLabel("bottom", "Seconds before now")
        self.spectrogram.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(COLOUR_MAP))
        self.spectrogram.addItem(self.image)
        self.spectrogram.setXLink(self.waveform)
        layout = self.graphics.ci
        layout.setSpacing(4)
        layout.addItem(self.waveform, row=0, col=0)
        layout.addItem(self.spectrogram, row=1, col=0)
        layout.layout.setRowStretchFactor(0, 4)
        layout.layout.setRowStretchFactor(1, 5)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.title)
        box.addWidget(self.graphics, 1)
        self.frames_drawn = 0
        self.seconds = 10.0
        self._half = MIN_AMPLITUDE

    def begin(self, display: LiveDisplay, title: str) -> None:
        """Clear the plots for a new recording shown through ``display``."""
        self.seconds = display.seconds
        self.title.setText(title)
        self.curve.setData([], [])
        self.image.clear()
        self.waveform.setXRange(-self.seconds, 0.0, padding=0)
        self._half = MIN_AMPLITUDE
        self.waveform.setYRange(-MIN_AMPLITUDE, MIN_AMPLITUDE, padding=0)
        self.spectrogram.setYRange(0.0, display.fmax, padding=0)
        self.frames_drawn = 0

    def draw(self, display: LiveDisplay) -> None:
        """Show what ``display`` holds now; the last ``seconds`` fill the width.

        The time axis stays still (seconds before now, -10 to 0) and the data moves under it:
        moving the axis made pyqtgraph lay out its tick labels again on every frame. The newest
        sample is always at 0, "now", also in the first seconds, when the trace grows from the
        right.
        """
        end = display.end_s
        if len(display.wave):
            self.curve.setData(display.wave_times() - end, display.wave)
        db = display.spectrogram_db
        if db.shape[1]:
            top = max(float(db.max()), -60.0)  # dB re full scale; quiet input stays dark
            self.image.setImage(db, autoLevels=False, levels=(top - DYNAMIC_RANGE_DB, top))
            x, y, width, height = display.spectrogram_rect()
            self.image.setRect(QRectF(x - end, y, width, height))
        half = max(display.peak * 1.1, MIN_AMPLITUDE)
        if abs(half - self._half) > 0.05 * self._half:  # rescale only on a real change
            self._half = half
            self.waveform.setYRange(-half, half, padding=0)
        self.frames_drawn += 1

    def set_title(self, text: str) -> None:
        self.title.setText(text)
