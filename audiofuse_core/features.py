"""Signal preparation shared by training and inference, and spectrograms for display.

The model computes its own spectrogram (see :mod:`audiofuse_core.models`); what happens before it,
resampling, band-pass and windowing, is here and is driven only by the preset, so training and
inference cannot disagree. :func:`display_spectrogram` is for views (the app, reports), not for
the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import bandpass, frame_windows, resample
from .presets import Preset


def _hz_to_mel(hz):
    """Slaney's mel scale (Auditory Toolbox): linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3.0)
    log = 15.0 + np.log(np.maximum(hz, 1000.0) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, linear)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3.0)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log, linear)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
    """Triangular mel filters [n_mels, n_fft // 2 + 1] on Slaney's scale, each normalised to
    unit area (the filterbank of librosa.filters.mel with its defaults, computed here so that
    loading a model does not pull in librosa's numba/llvmlite: 120 MB of memory).
    """
    fmax = min(fmax, sample_rate / 2.0)
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    slopes = edges[:, None] - fft_hz[None, :]
    rising = -slopes[:-2] / widths[:-1, None]
    falling = slopes[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype("float32")


def prepare_signal(samples: np.ndarray, sample_rate: int, preset: Preset) -> np.ndarray:
    """Resample a mono signal to the preset's rate (no filtering yet: see model_windows)."""
    return resample(np.asarray(samples, dtype=np.float32), int(sample_rate), preset.sample_rate)


def model_windows(signal: np.ndarray, preset: Preset) -> tuple[np.ndarray, np.ndarray]:
    """The windows the model sees for a prepared signal: (windows [n, samples], starts in s).

    Each window is band-passed on its own, exactly as training band-passes each (augmented)
    window it draws, so training and inference see identical processing.
    """
    windows, starts = frame_windows(signal, preset.window_samples, preset.hop_samples,
                                    whole=preset.whole_recording)
    return filter_windows(windows, preset), starts / float(preset.sample_rate)


def filter_windows(windows: np.ndarray, preset: Preset) -> np.ndarray:
    """The preset's band-pass applied to each window (rows of ``windows``)."""
    return bandpass(windows, preset.sample_rate, preset.bandpass_hz)


@dataclass(frozen=True)
class Spectrogram:
    """A log-power spectrogram for display: ``db`` is [frequencies, frames]."""

    db: np.ndarray
    frequencies: np.ndarray  # Hz, one per row
    times: np.ndarray  # s, centre of each frame
    sample_rate: int


def display_spectrogram(samples: np.ndarray, sample_rate: int, *, fmax: float = 1000.0,
                        window_seconds: float = 0.064, hop_seconds: float = 0.008,
                        top_db: float = 70.0) -> Spectrogram:
    """A linear-frequency STFT spectrogram in dB (re the maximum) up to ``fmax`` Hz.

    Plain numpy (a periodic Hann window, frames centred on ``k * hop`` with zero padding, as
    librosa's ``stft(center=True)`` does): librosa's own STFT compiles numba code on its first
    call, which cost a user's first recording 15-50 s on a fresh installation.
    """
    samples = np.asarray(samples, dtype=np.float32)
    n_fft = int(2 ** np.ceil(np.log2(max(16, window_seconds * sample_rate))))
    hop = max(1, int(round(hop_seconds * sample_rate)))
    half = n_fft // 2
    padded = np.pad(samples, (half, half))
    if len(padded) < n_fft:
        padded = np.pad(padded, (0, n_fft - len(padded)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    keep = frequencies <= min(fmax, sample_rate / 2.0)
    power = np.abs(np.fft.rfft(frames * window, axis=1)[:, keep].T) ** 2
    db = 10.0 * np.log10(np.maximum(power, 1e-10))
    db -= 10.0 * np.log10(max(float(power.max(initial=0.0)), 1e-10))
    db = np.maximum(db, db.max(initial=0.0) - top_db).astype(np.float32)
    times = np.arange(db.shape[1]) * hop / float(sample_rate)
    return Spectrogram(db=db, frequencies=frequencies[keep], times=times, sample_rate=sample_rate)
