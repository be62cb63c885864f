"""What drove the result: the core's occlusion map drawn over the spectrogram, and its caption.

:func:`audiofuse_core.explain.occlusion_map` removes one cell at a time (0.5 s of the recording
in one of 8 frequency bands), classifies again and keeps, per cell, the drop of the recording's
probability of "abnormal". Here each cell becomes a rectangle on the spectrogram's time and
frequency axes: orange-red (the abnormal colour) where removing the sound lowered the
probability, so that sound pushed the result towards "abnormal"; blue-green (the normal colour)
where removing it raised the probability, so it pushed towards "normal". The opacity grows with
the size of the change, relative to the largest change in the map, and cells that changed
almost nothing stay clear. The caption says the same in words, with the largest change.

:func:`cell_colours` and :func:`caption` are Qt-free; :class:`OcclusionOverlay` is the
pyqtgraph item (GUI thread only).
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg

from .colours import ABNORMAL, NORMAL

MAX_ALPHA = 0.62  # the strongest cell still lets the spectrogram show through
MIN_SCALE = 0.01  # a map whose largest change is smaller is not stretched to full colour
CLEAR_BELOW = 0.08  # cells under this share of the largest change are not coloured


def cell_colours(drop: np.ndarray) -> tuple[np.ndarray, float]:
    """RGBA (0-255) per cell of ``drop`` [bands, segments], and the largest absolute change."""
    drop = np.asarray(drop, dtype=np.float64)
    largest = float(np.max(np.abs(drop))) if drop.size else 0.0
    scale = max(largest, MIN_SCALE)
    strength = np.clip(np.abs(drop) / scale, 0.0, 1.0)
    strength[strength < CLEAR_BELOW] = 0.0
    rgba = np.zeros(drop.shape + (4,), dtype=np.uint8)
    for sign, colour in ((1.0, ABNORMAL), (-1.0, NORMAL)):
        red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        chosen = np.sign(drop) == sign
        rgba[chosen, 0], rgba[chosen, 1], rgba[chosen, 2] = red, green, blue
    rgba[..., 3] = np.round(255 * MAX_ALPHA * strength).astype(np.uint8)
    return rgba, largest


def caption(occlusion, *, refused: bool = False, windows_only: bool = False) -> str:
    """The overlay's caption (rich text): what the colours mean, in plain words.
    ``windows_only``: the model also has a heart-cycle expert, which the map does not explain.
    """
    _, largest = cell_colours(occlusion.drop)
    seconds = float(np.median(np.diff(occlusion.segment_edges_s))) if \
        len(occlusion.segment_edges_s) > 1 else 0.0
    bands = len(occlusion.band_edges_hz) - 1
    swatch = '<span style="color:{};">&#9632;</span>'
    text = (
        "<b>What drove the result</b> (occlusion map): the recording was classified again with "
        f"each cell ({seconds:.1f} s in one of {bands} frequency bands) removed in turn. "
        f"{swatch.format(ABNORMAL)} <b>Orange-red</b>: removing that sound lowered the "
        "probability of abnormal, so it pushed the result towards abnormal. "
        f"{swatch.format(NORMAL)} <b>Green</b>: removing it raised the probability, so it "
        "pushed towards normal. Stronger colour, larger change (largest here: "
        f"{largest:.3f}).")
    if largest < MIN_SCALE:
        text += " No single part of the recording changed the result much."
    if windows_only:
        text += (" The map explains the network's half of the answer (the windows' "
                 "probability); the heart-cycle figures, the other half, are not mapped.")
    if refused:
        text += (" The recording was refused for its quality: the map explains the "
                 "probability kept for audit, not an answer.")
    text += " The spectrogram is in grey meanwhile."
    return text


def progress_caption(fraction: float) -> str:
    return html.escape(
        f"Working out what drove the result: each part of the recording is removed in turn and "
        f"the recording classified again… {100 * fraction:.0f} %")


class OcclusionOverlay(pg.BarGraphItem):
    """The map's cells as translucent rectangles, in seconds and hertz."""

    def __init__(self, occlusion, *, fmax: float) -> None:
        drop = np.asarray(occlusion.drop, dtype=np.float64)
        bands, segments = drop.shape
        times = np.asarray(occlusion.segment_edges_s, dtype=np.float64)
        freqs = np.minimum(np.asarray(occlusion.band_edges_hz, dtype=np.float64), fmax)
        x0 = np.tile(times[:-1], bands)
        x1 = np.tile(times[1:], bands)
        y0 = np.repeat(freqs[:-1], segments)
        y1 = np.repeat(freqs[1:], segments)
        rgba, self.largest = cell_colours(drop)
        brushes = [pg.mkBrush(*colour) for colour in rgba.reshape(-1, 4)]
        super().__init__(x0=x0, x1=x1, y0=y0, y1=y1, brushes=brushes, pen=pg.mkPen(None))
        self.occlusion = occlusion
        self.extent = (float(times[0]), float(times[-1]), float(freqs[0]), float(freqs[-1]))

    def drop_at(self, time_s: float, frequency_hz: float) -> float | None:
        """The cell's probability drop at a time and frequency (None outside the map)."""
        occ = self.occlusion
        column = int(np.searchsorted(occ.segment_edges_s, time_s, side="right")) - 1
        row = int(np.searchsorted(occ.band_edges_hz, frequency_hz, side="right")) - 1
        if not (0 <= column < occ.drop.shape[1] and 0 <= row < occ.drop.shape[0]):
            return None
        return float(occ.drop[row, column])
