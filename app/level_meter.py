"""An input level meter: RMS bar, peak tick and a clip warning, in dB re full scale.

Green up to -12 dBFS, amber to -3, red above; the peak tick holds a heart beat's peak for 1.5 s
before falling; "CLIP" in words when a sample reached full scale (the colour is never the only
sign). GUI thread only; it draws the last
:class:`~app.recording.recorder.Level` it was given.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0
PEAK_HOLD_S = 1.5  # the peak tick stays this long, so heart-beat peaks can be read
PEAK_FALL_DB_PER_S = 20.0  # then falls at this rate
ZONES = ((-12.0, "#16a34a"), (-3.0, "#d97706"), (0.0, "#dc2626"))


class LevelMeter(QWidget):
    """Horizontal meter from :data:`FLOOR_DB` to 0 dBFS."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("level_meter")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.rms_db = FLOOR_DB
        self.peak_db = FLOOR_DB  # the held peak
        self.clipped = False
        self._held = FLOOR_DB
        self._held_at = 0.0
        self._clipped_at = -1e9
        self.setToolTip("Input level (dB re full scale). Aim for peaks between -20 and -6 dB; "
                        "CLIP means the sound is too loud for the device: lower its gain.")

    def set_level(self, rms_db: float, peak_db: float, clipped: bool) -> None:
        """The level of the last fraction of a second; the peak is held (see PEAK_HOLD_S)."""
        now = time.monotonic()
        if peak_db >= self.peak_db:  # a new peak: hold it
            self._held, self._held_at = float(peak_db), now
        fall = PEAK_FALL_DB_PER_S * max(0.0, now - self._held_at - PEAK_HOLD_S)
        self.peak_db = max(float(peak_db), self._held - fall, FLOOR_DB)
        if clipped:
            self._clipped_at = now
        self.rms_db = float(rms_db)
        self.clipped = now - self._clipped_at <= PEAK_HOLD_S
        self.update()

    def reset(self) -> None:
        self.peak_db = self._held = FLOOR_DB
        self._clipped_at = -1e9
        self.set_level(FLOOR_DB, FLOOR_DB, False)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(200, 18)

    @staticmethod
    def _fraction(db: float) -> float:
        return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(rect, QColor("#e5e7eb"))
        width = rect.width()
        left = rect.left()
        level = self._fraction(self.rms_db)
        start = 0.0
        for top_db, colour in ZONES:
            end = min(level, self._fraction(top_db))
            if end > start:
                painter.fillRect(QRectF(left + start * width, rect.top(), (end - start) * width,
                                        rect.height()), QColor(colour))
            start = max(start, self._fraction(top_db))
        if self.peak_db > FLOOR_DB:
            x = left + self._fraction(self.peak_db) * width
            painter.setPen(QPen(QColor("#111827"), 2))
            painter.drawLine(int(x), int(rect.top()), int(x), int(rect.bottom()))
        painter.setPen(QColor("#9ca3af"))
        painter.drawRect(rect)
        if self.clipped:
            painter.setPen(QColor("#ffffff"))
            painter.fillRect(QRectF(rect.right() - 40, rect.top(), 40, rect.height()),
                             QColor("#dc2626"))
            painter.drawText(QRectF(rect.right() - 40, rect.top(), 40, rect.height()),
                             Qt.AlignmentFlag.AlignCenter, "CLIP")
        painter.end()
