"""The recording's views, stacked on one time axis: waveform, probability strip, spectrogram.

The three plots share their time range (pyqtgraph's X link): zooming or scrolling one moves the
others. Navigation is Audacity's and EDFbrowser's (see :data:`app.shortcuts.GESTURES`): the plots'
:class:`~app.time_viewbox.TimeViewBox` report gestures, the keyboard commands call the methods
below, and :mod:`app.navigation` computes every new range. The view also draws the cursor (where
playback starts), the selection (what playback plays), the playhead and a crosshair whose
read-out gives time, amplitude, frequency and level.

Once a recording is classified, its S1 and S2 are marked above the waveform
(:mod:`app.cycle_markers`); on request, the occlusion map of what drove the result is drawn over
the spectrogram (:mod:`app.occlusion_overlay`) with a caption under the plots that says what the
colours mean, and shows the progress while the map is computed. The read-out then also names the
heart-cycle phase and the map's value under the pointer.

Everything here runs on the GUI thread; the data arrives prepared (:mod:`app.display_data`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedLayout,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import navigation as nav
from .colours import CROSSHAIR, CURSOR, PLAYHEAD, SELECTION
from .display_data import DisplayData
from .occlusion_overlay import caption, progress_caption
from .probability_strip import ProbabilityStrip
from .spectrogram_view import SpectrogramPlot
from .waveform_view import WaveformPlot

CLICK_TOLERANCE_PX = 3  # a drag shorter than this is a click
LEFT_MARGIN_PX = 8  # the caption starts near the plots' axis

PLACEHOLDER = ("Open a recording: File > Open (Ctrl+O), or drop recordings or a folder here.\n"
               "Several recordings are classified one after the other in a table.")


def configure_pyqtgraph() -> None:
    """White plots that print well, in the same look on screen and in the report."""
    pg.setConfigOptions(background="w", foreground="#1f2937", antialias=False)


class RecordingView(QWidget):
    """Waveform, probability strip and spectrogram of one recording, time-aligned."""

    range_changed = Signal(float, float)
    cursor_moved = Signal(float)
    selection_changed = Signal(object)  # (start, end) in s, or None
    readout_changed = Signal(str)
    explanation_stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.data: DisplayData | None = None
        self.cursor_s = 0.0
        self.selection: tuple[float, float] | None = None
        self.playhead_s: float | None = None
        self._range: nav.TimeRange = (0.0, 1.0)
        self._hover_text = ""

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.graphics.setObjectName("recording_graphics")
        self.waveform = WaveformPlot()
        self.strip = ProbabilityStrip()
        self.spectrogram = SpectrogramPlot()
        self.plots = (self.waveform, self.strip, self.spectrogram)
        layout = self.graphics.ci
        layout.setSpacing(4)
        for row, plot in enumerate(self.plots):
            layout.addItem(plot, row=row, col=0)
        layout.layout.setRowStretchFactor(0, 4)
        layout.layout.setRowStretchFactor(1, 0)
        layout.layout.setRowStretchFactor(2, 5)
        self.strip.setXLink(self.waveform)
        self.spectrogram.setXLink(self.waveform)

        self._cursor_lines = []
        self._playhead_lines = []
        self._regions = []
        self._cross_v = []
        self._cross_h = []
        for plot in self.plots:
            vb = plot.vb
            vb.zoom_requested.connect(self._on_zoom_requested)
            vb.scroll_requested.connect(self.scroll)
            vb.clicked.connect(self._on_clicked)
            vb.double_clicked.connect(self.fit)
            vb.drag_selected.connect(self._on_drag_selected)
            cursor = pg.InfiniteLine(angle=90, movable=False,
                                     pen=pg.mkPen(CURSOR, width=1, style=Qt.PenStyle.DashLine))
            playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(PLAYHEAD, width=2))
            region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(*SELECTION),
                                         pen=pg.mkPen(CURSOR, width=1))
            cross_v = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(CROSSHAIR, width=1))
            cross_h = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(CROSSHAIR, width=1))
            for item, z in ((region, 5), (cursor, 10), (playhead, 20), (cross_v, 30),
                            (cross_h, 30)):
                item.setZValue(z)
                item.setVisible(False)
                plot.addItem(item, ignoreBounds=True)
            self._cursor_lines.append(cursor)
            self._playhead_lines.append(playhead)
            self._regions.append(region)
            self._cross_v.append(cross_v)
            self._cross_h.append(cross_h)
        self.waveform.vb.sigXRangeChanged.connect(self._on_view_range_changed)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.viewport().installEventFilter(self)

        self.readout = QLabel()
        self.readout.setObjectName("readout")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.placeholder = QLabel(PLACEHOLDER)
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #4b5563; font-size: 15px;")

        self.caption = QLabel()
        self.caption.setObjectName("explanation_caption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setStyleSheet("color: #1f2937;")
        self.stop_button = QToolButton()
        self.stop_button.setObjectName("explanation_stop")
        self.stop_button.setText("Stop")
        self.stop_button.setToolTip("Stop working out what drove the result")
        self.stop_button.clicked.connect(self.explanation_stop_requested)
        self.caption_row = QWidget()
        caption_layout = QHBoxLayout(self.caption_row)
        caption_layout.setContentsMargins(LEFT_MARGIN_PX, 0, 4, 2)
        caption_layout.addWidget(self.caption, 1)
        caption_layout.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignTop)
        self.caption_row.hide()

        plots_page = QWidget()
        plots_layout = QVBoxLayout(plots_page)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.setSpacing(2)
        plots_layout.addWidget(self.readout)
        plots_layout.addWidget(self.graphics, 1)
        plots_layout.addWidget(self.caption_row)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.placeholder)
        self._stack.addWidget(plots_page)
        self._plots_page = plots_page

    # -- data --------------------------------------------------------------------------------
    @property
    def duration(self) -> float:
        return self.data.duration if self.data is not None else 0.0

    @property
    def has_recording(self) -> bool:
        return self.data is not None

    def set_data(self, data: DisplayData) -> None:
        """Show a new recording, whole, with the cursor at its start."""
        self.data = data
        self.waveform.set_signal(data.display_samples, data.display_rate)
        self.spectrogram.set_spectrogram(data.spectrogram, fmax=data.fmax,
                                         duration=data.duration)
        for plot in (self.strip,):
            plot.vb.setLimits(xMin=0.0, xMax=max(data.duration, 1e-3))
        self.strip.clear_windows()
        self.clear_explanation()
        self.selection = None
        self.playhead_s = None
        self._update_selection()
        self.set_playhead(None)
        self._stack.setCurrentWidget(self._plots_page)
        self.set_range(nav.fit(data.duration))
        self.set_cursor(0.0)
        self._hide_crosshair()

    def clear(self) -> None:
        self.data = None
        self.waveform.clear_signal()
        self.spectrogram.clear_spectrogram()
        self.strip.clear_windows()
        self.clear_explanation()
        self.selection = None
        self.set_playhead(None)
        self._stack.setCurrentWidget(self.placeholder)

    def set_prediction(self, prediction) -> None:
        """Draw the per-window probabilities and the S1/S2 markers of ``prediction`` (None
        clears them). A recording refused for its quality keeps its markers when the core
        found heart cycles in it: they show what it could still see. The windows are the
        network's: with a heart-cycle expert in the model they are judged against the network's
        own threshold (``extra["window_threshold"]``), not the combined one.
        """
        if prediction is None or self.data is None:
            self.strip.clear_windows()
            self.waveform.set_cycles(None)
            return
        extra = getattr(prediction, "extra", None) or {}
        self.strip.set_windows(prediction.window_starts, prediction.window_seconds,
                               prediction.window_probabilities,
                               extra.get("window_threshold", prediction.threshold),
                               self.data.duration,
                               refused=prediction.label not in ("normal", "abnormal"),
                               network_only="window_threshold" in extra)
        self.waveform.set_cycles(getattr(prediction, "cycles", None))

    def set_markers_visible(self, visible: bool) -> None:
        """Show or hide the heart-cycle markers (the setting is kept across recordings)."""
        self.waveform.set_markers_visible(visible)

    # -- what drove the result ---------------------------------------------------------------
    @property
    def explanation_shown(self) -> bool:
        return self.spectrogram.occlusion_shown

    def show_explanation_progress(self, fraction: float) -> None:
        """Say that the map is being computed (``fraction`` done), with a Stop button."""
        self.caption.setText(progress_caption(fraction))
        self.stop_button.show()
        self.caption_row.show()

    def set_explanation(self, occlusion, *, refused: bool = False,
                        windows_only: bool = False) -> None:
        """Draw an occlusion map over the spectrogram, with its caption (``windows_only``: the
        model's heart-cycle expert, which the map does not cover, holds the rest of the answer).
        """
        self.spectrogram.set_occlusion(occlusion)
        self.caption.setText(caption(occlusion, refused=refused, windows_only=windows_only))
        self.stop_button.hide()
        self.caption_row.show()

    def set_explanation_visible(self, visible: bool) -> None:
        """Show or hide the map drawn last (it is kept for this recording)."""
        self.spectrogram.set_occlusion_visible(visible)
        self.caption_row.setVisible(visible and self.spectrogram.overlay is not None)

    def clear_explanation(self) -> None:
        self.spectrogram.clear_occlusion()
        self.caption.clear()
        self.caption_row.hide()

    # -- navigation --------------------------------------------------------------------------
    def view_range(self) -> nav.TimeRange:
        return self._range

    def set_range(self, view: nav.TimeRange) -> None:
        if self.data is None:
            return
        start, end = nav.clamp(view, self.data.duration)
        self._range = (start, end)
        self.waveform.setXRange(start, end, padding=0)

    def zoom_by(self, factor: float, anchor: float | None = None) -> None:
        if anchor is None:
            start, end = self._range
            anchor = self.cursor_s if start <= self.cursor_s <= end else (start + end) / 2
        self.set_range(nav.zoom(self._range, factor, anchor, self.duration))

    def zoom_in(self) -> None:
        self.zoom_by(2.0)

    def zoom_out(self) -> None:
        self.zoom_by(0.5)

    def scroll(self, fraction: float) -> None:
        self.set_range(nav.scroll(self._range, fraction, self.duration))

    def step_back(self) -> None:
        self.scroll(-nav.STEP_FRACTION)

    def step_forward(self) -> None:
        self.scroll(nav.STEP_FRACTION)

    def page_back(self) -> None:
        self.scroll(-1.0)

    def page_forward(self) -> None:
        self.scroll(1.0)

    def to_start(self) -> None:
        self.set_range(nav.to_start(self._range, self.duration))

    def to_end(self) -> None:
        self.set_range(nav.to_end(self._range, self.duration))

    def fit(self) -> None:
        self.set_range(nav.fit(self.duration))

    # -- cursor, selection, playhead --------------------------------------------------------
    def set_cursor(self, time_s: float) -> None:
        self.cursor_s = min(max(float(time_s), 0.0), self.duration)
        for line in self._cursor_lines:
            line.setPos(self.cursor_s)
            line.setVisible(self.data is not None)
        self.cursor_moved.emit(self.cursor_s)
        self._show_readout()

    def set_selection(self, selection: tuple[float, float] | None) -> None:
        if selection is not None:
            start, end = sorted(selection)
            start, end = max(start, 0.0), min(end, self.duration)
            selection = (start, end) if end > start else None
        self.selection = selection
        self._update_selection()
        self.selection_changed.emit(selection)
        self._show_readout()

    def clear_selection(self) -> None:
        self.set_selection(None)

    def playback_span(self) -> tuple[float, float | None]:
        """Where playback starts and ends: the selection, or the cursor to the end."""
        if self.selection is not None:
            return self.selection
        start = self.cursor_s if self.cursor_s < self.duration - 0.01 else 0.0
        return (start, None)

    def set_playhead(self, time_s: float | None, *, follow: bool = True) -> None:
        self.playhead_s = time_s
        for line in self._playhead_lines:
            line.setVisible(time_s is not None)
            if time_s is not None:
                line.setPos(time_s)
        if time_s is not None and follow and self.data is not None:
            followed = nav.follow(self._range, time_s, self.duration)
            if followed != self._range:
                self.set_range(followed)

    def _update_selection(self) -> None:
        for region in self._regions:
            region.setVisible(self.selection is not None)
            if self.selection is not None:
                region.setRegion(self.selection)

    # -- read-out ----------------------------------------------------------------------------
    def readout_for(self, time_s: float, plot=None, y: float | None = None) -> str:
        """The crosshair's text at ``time_s`` (and ``y`` on ``plot``)."""
        parts = [f"t {time_s:.3f} s"]
        amplitude = self.waveform.amplitude_at(time_s)
        if amplitude is not None:
            parts.append(f"amplitude {amplitude:+.4f}")
        phase = self.waveform.markers.state_at(time_s)
        if phase is not None:
            parts.append(phase)
        if plot is self.spectrogram and y is not None:
            level = self.spectrogram.level_at(time_s, y)
            parts.append(f"{y:.0f} Hz" + (f", {level:.0f} dB" if level is not None else ""))
            drop = self.spectrogram.occlusion_at(time_s, y)
            if drop is not None:
                parts.append(f"removing this changes P(abnormal) by {-drop:+.3f}")
        probability = self.strip.probability_at(time_s)
        if probability is not None:
            parts.append(f"window P(abnormal) {probability:.2f}")
        return "  ·  ".join(parts)

    def _base_readout(self) -> str:
        if self.data is None:
            return ""
        start, end = self._range
        text = (f"View {start:.2f}–{end:.2f} s of {self.duration:.1f} s  ·  cursor "
                f"{self.cursor_s:.2f} s")
        if self.selection is not None:
            a, b = self.selection
            text += f"  ·  selection {a:.2f}–{b:.2f} s ({b - a:.2f} s)"
        return text

    def _show_readout(self) -> None:
        text = self._hover_text or self._base_readout()
        self.readout.setText(text)
        self.readout_changed.emit(text)

    def _on_mouse_moved(self, scene_pos) -> None:
        if self.data is None:
            return
        for index, plot in enumerate(self.plots):
            if plot.vb.sceneBoundingRect().contains(scene_pos):
                point = plot.vb.mapSceneToView(scene_pos)
                time_s, y = float(point.x()), float(point.y())
                for line in self._cross_v:
                    line.setPos(time_s)
                    line.setVisible(True)
                for other, line in enumerate(self._cross_h):
                    line.setVisible(other == index and plot is not self.strip)
                    if other == index:
                        line.setPos(y)
                self._hover_text = self.readout_for(time_s, plot, y)
                self._show_readout()
                return
        self._hide_crosshair()

    def _hide_crosshair(self) -> None:
        for line in (*self._cross_v, *self._cross_h):
            line.setVisible(False)
        self._hover_text = ""
        self._show_readout()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Leave:
            self._hide_crosshair()
        return super().eventFilter(watched, event)

    # -- gestures ----------------------------------------------------------------------------
    def _on_zoom_requested(self, factor: float, anchor: float) -> None:
        self.zoom_by(factor, anchor)

    def _on_clicked(self, time_s: float) -> None:
        self.graphics.setFocus(Qt.FocusReason.MouseFocusReason)
        if self.data is not None:
            self.set_selection(None)
            self.set_cursor(time_s)

    def _on_drag_selected(self, start: float, end: float, finished: bool) -> None:
        if self.data is None:
            return
        start, end = sorted((start, end))
        width_px = max(self.waveform.vb.width(), 1.0)
        span_s = self._range[1] - self._range[0]
        if (end - start) / span_s * width_px < CLICK_TOLERANCE_PX:
            if finished:
                self._on_clicked(start)
            return
        self.set_selection((start, end))
        if finished:
            self.set_cursor(self.selection[0] if self.selection else start)

    def _on_view_range_changed(self, _vb, view) -> None:
        self._range = (float(view[0]), float(view[1]))
        self.range_changed.emit(*self._range)
        self._show_readout()

    # -- images ------------------------------------------------------------------------------
    def render_image(self, width: int = 1400, height: int = 700) -> QImage:
        """The three plots as an image (no crosshair), for the report. The occlusion map is
        left out: its caption would not go with it.
        """
        self._hide_crosshair()
        map_shown = self.spectrogram.occlusion_shown
        self.spectrogram.set_occlusion_visible(False)
        old_size = self.graphics.size()
        self.graphics.resize(width, height)
        image = self.graphics.grab().toImage()
        self.graphics.resize(old_size)
        self.spectrogram.set_occlusion_visible(map_shown)
        return image

    def time_to_viewport(self, time_s: float, plot=None, y: float | None = None):
        """The viewport position of a time (and y) on ``plot``: for tests and screenshots."""
        plot = plot or self.waveform
        y = float(np.mean(plot.vb.viewRange()[1])) if y is None else y
        scene = plot.vb.mapViewToScene(pg.Point(time_s, y))
        return self.graphics.mapFromScene(scene)
