"""Which parts of a recording drove the decision: an occlusion map over time and frequency.

:func:`occlusion_map` takes a loaded :class:`~audiofuse_core.inference.Classifier` and a
recording. It prepares the signal exactly as the classifier does (the model's rate and band-pass),
splits it into time segments (0.5 s) and frequency bands (8, spaced evenly on a log scale between
the preset's lowest and highest frequency), and occludes one cell at a time: the segment is
replaced by the same segment with that band removed (a zero-phase band-stop, crossfaded over
20 ms so no click is added). Only the model windows that overlap the segment are run again.

Each cell holds the drop of the recording's abnormal probability (the mean over its windows,
calibrated as the classifier reports it) when that cell is removed: positive where the sound
pushed the decision towards "abnormal", negative where it pushed towards "normal". The grid's
edges are in seconds and hertz, so a view can draw it over any spectrogram of the recording.

Cost: segments x bands x (windows per segment, 2 for the default preset) model windows; about
640 for 20 s of audio, a few seconds on a laptop CPU. Run it on request, off the GUI thread;
``progress`` and ``should_stop`` (plain callables) are called between segments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .audio import Audio
from .features import model_windows, prepare_signal
from .presets import Preset

_CROSSFADE_SECONDS = 0.02


class WindowModel(Protocol):
    """What the map needs from a classifier (``Classifier`` has it)."""

    preset: Preset

    @property
    def temperature(self) -> float: ...

    def window_logits(self, windows: np.ndarray) -> np.ndarray: ...


@dataclass
class OcclusionMap:
    """Drop of the abnormal probability when each time x frequency cell is removed."""

    probability: float  # the recording's abnormal probability, nothing removed
    drop: np.ndarray  # [bands, segments]; > 0: the cell pushed towards "abnormal"
    band_edges_hz: np.ndarray  # [bands + 1], ascending
    segment_edges_s: np.ndarray  # [segments + 1], from 0 to the recording's end
    window_probabilities: np.ndarray  # per model window, nothing removed
    window_starts: np.ndarray  # s

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": round(float(self.probability), 6),
            "band_edges_hz": [round(float(f), 2) for f in self.band_edges_hz],
            "segment_edges_s": [round(float(t), 3) for t in self.segment_edges_s],
            "drop": np.round(self.drop, 6).tolist(),
        }


def band_edges(preset: Preset, bands: int) -> np.ndarray:
    """``bands`` log-spaced bands between the preset's lowest and highest frequency."""
    top = min(preset.fmax, 0.45 * preset.sample_rate)
    low = max(preset.fmin, 10.0)
    return np.geomspace(low, top, bands + 1)


def occlusion_map(classifier: WindowModel, audio: Audio, *, segment_seconds: float = 0.5,
                  bands: int = 8, progress: Callable[[float], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> OcclusionMap | None:
    """Occlude every (band, segment) cell of ``audio`` and measure the probability drop.

    Returns None when ``should_stop`` asked to stop (partial maps are discarded).
    """
    from scipy.signal import butter, sosfiltfilt

    preset = classifier.preset
    rate = preset.sample_rate
    signal = prepare_signal(audio.samples, audio.sample_rate, preset).astype(np.float64)
    windows, starts = model_windows(signal.astype(np.float32), preset)
    start_index = np.round(starts * rate).astype(int)
    width = windows.shape[1]
    base = _probabilities(classifier, windows)
    probability = float(np.mean(base))
    edges_hz = band_edges(preset, bands)
    n = len(signal)
    duration = n / float(rate)
    seg = max(1, int(round(segment_seconds * rate)))
    seg_edges = np.append(np.arange(0, n, seg), n)
    # the signal with each band removed, once per band
    stopped = []
    for lo, hi in zip(edges_hz[:-1], edges_hz[1:]):
        sos = butter(4, [lo, hi], btype="bandpass", fs=rate, output="sos")
        stopped.append(signal - sosfiltfilt(sos, signal, padlen=min(n - 1, 27)))
    ramp = max(1, int(_CROSSFADE_SECONDS * rate))
    drop = np.zeros((bands, len(seg_edges) - 1))
    for s, (a, b) in enumerate(zip(seg_edges[:-1], seg_edges[1:])):
        if should_stop is not None and should_stop():
            return None
        lo_i, hi_i = max(0, a - ramp), min(n, b + ramp)
        mask = _crossfade_mask(a - lo_i, b - lo_i, hi_i - lo_i, ramp)
        hit = np.flatnonzero((start_index < hi_i) & (start_index + width > lo_i))
        batch, owners = [], []
        for band in range(bands):
            piece = signal[lo_i:hi_i] * (1.0 - mask) + stopped[band][lo_i:hi_i] * mask
            for k in hit:
                window = windows[k].copy()
                w_lo, w_hi = max(lo_i, start_index[k]), min(hi_i, start_index[k] + width)
                window[w_lo - start_index[k]:w_hi - start_index[k]] = \
                    piece[w_lo - lo_i:w_hi - lo_i]
                batch.append(window)
                owners.append((band, k))
        if batch:
            occluded = _probabilities(classifier, np.stack(batch).astype(np.float32))
            changed = {band: base.copy() for band in range(bands)}
            for (band, k), p in zip(owners, occluded):
                changed[band][k] = p
            for band in range(bands):
                drop[band, s] = probability - float(np.mean(changed[band]))
        if progress is not None:
            progress((s + 1) / (len(seg_edges) - 1))
    return OcclusionMap(
        probability=probability, drop=drop, band_edges_hz=edges_hz,
        segment_edges_s=np.minimum(seg_edges / float(rate), duration),
        window_probabilities=base, window_starts=starts,
    )


def _probabilities(classifier: WindowModel, windows: np.ndarray) -> np.ndarray:
    logits = np.asarray(classifier.window_logits(windows), dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-logits / float(classifier.temperature)))


def _crossfade_mask(a: int, b: int, length: int, ramp: int) -> np.ndarray:
    """1 on [a, b), raised-cosine ramps of ``ramp`` samples outside it, 0 elsewhere."""
    mask = np.zeros(length)
    mask[a:b] = 1.0
    rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 1) / (ramp + 1))
    left = rise[ramp - a:] if a < ramp else rise
    mask[a - len(left):a] = left
    right = rise[::-1][: length - b]
    mask[b:b + len(right)] = right
    return mask
