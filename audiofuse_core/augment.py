"""Augmentation with what real stethoscopes and rooms do to a heart sound.

Each transform imitates a physical cause, so the model learns to ignore it: the device's
frequency response (a tilt and a resonance), its gain, a different chest-piece coupling (a
low-pass), background noise (white, pink or brown, at a realistic SNR), a different heart rate
(speed change by resampling), clipping of a hot input, polarity, and a recorder that freezes
for a moment. Optionally (``response_db``) a random smooth frequency response on top of the
resonance and tilt: another stethoscope's colouring, drawn afresh for every window. Applied per
training window, on the resampled signal before the preset's band-pass (numpy and scipy only).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter


def augment_window(signal: np.ndarray, start: int, window: int, sample_rate: int,
                   rng: np.random.Generator, *, response_db: float = 0.0) -> np.ndarray:
    """Cut a ``window``-sample piece at ``start`` (with a random speed change) and degrade it.

    ``response_db`` > 0 adds, to 70 % of the windows, a random smooth frequency response whose
    gains at 8 frequencies from 25 to 800 Hz have that standard deviation in dB
    (:func:`random_response`). 0 (the default) draws nothing more from ``rng``, so the windows of
    a run without it are those of earlier runs.
    """
    speed = rng.uniform(0.9, 1.1) if rng.random() < 0.5 else 1.0
    span = int(round(window * speed))
    piece = _cut(signal, start, span)
    if span != window:
        index = np.linspace(0.0, span - 1, window)
        piece = np.interp(index, np.arange(span), piece).astype(np.float32)
    x = piece.astype(np.float64)
    if rng.random() < 0.3:
        x = _freeze(x, sample_rate, rng)
    if rng.random() < 0.7:
        x = _peaking(x, sample_rate, freq=rng.uniform(40.0, 600.0),
                     gain_db=rng.uniform(-9.0, 9.0), q=rng.uniform(0.5, 3.0))
    if rng.random() < 0.7:
        x = _tilt(x, sample_rate, db_per_octave=rng.uniform(-4.0, 4.0))
    if response_db > 0 and rng.random() < 0.7:
        x = random_response(x, sample_rate, rng, spread_db=response_db)
    if rng.random() < 0.3:
        x = _one_pole_lowpass(x, sample_rate, cutoff=rng.uniform(200.0, 600.0))
    if rng.random() < 0.3:
        # 15-40 dB below the recording: a murmur can sit 20 dB under S1, so harsher noise would
        # teach the model that murmurs do not matter.
        x = x + _noise(len(x), rng) * _rms(x) * 10 ** (-rng.uniform(15.0, 40.0) / 20.0)
    x = x * 10 ** (rng.uniform(-12.0, 12.0) / 20.0)
    if rng.random() < 0.1:
        level = np.quantile(np.abs(x), rng.uniform(0.9, 0.99))
        x = np.clip(x, -level, level)
    if rng.random() < 0.5:
        x = -x
    return x.astype(np.float32)


def _freeze(x: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Hold the signal at one value for 50 ms to 1 s, one to three times: the "frozen" gaps of
    a faulty recorder. Many of PhysioNet training-e's abnormal recordings hold such gaps and its
    normal ones almost never do; putting them in windows of both classes takes away a shortcut
    that has nothing to do with the heart.
    """
    y = x.copy()
    for _ in range(int(rng.integers(1, 4))):
        length = int(rng.uniform(0.05, 1.0) * rate)
        start = int(rng.integers(0, max(1, len(y) - length)))
        y[start:start + length] = y[start]
    return y


def _cut(signal: np.ndarray, start: int, span: int) -> np.ndarray:
    piece = signal[start:start + span]
    if len(piece) < span:
        piece = np.pad(piece, (0, span - len(piece)))
    return piece


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x)) + 1e-12)


def _peaking(x: np.ndarray, rate: int, *, freq: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ audio-EQ-cookbook peaking filter: a resonance or notch of the chest piece."""
    freq = min(freq, 0.45 * rate)
    a = 10 ** (gain_db / 40.0)
    w0 = 2 * np.pi * freq / rate
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a])
    return lfilter(b / den[0], den / den[0], x)


def _tilt(x: np.ndarray, rate: int, *, db_per_octave: float) -> np.ndarray:
    """A gentle spectral tilt: a first-order shelf around 150 Hz (bell vs diaphragm)."""
    gain = 10 ** (db_per_octave * 2.0 / 20.0)  # about two octaves of slope either side
    w = np.tan(np.pi * 150.0 / rate)
    # first-order high shelf by bilinear transform of H(s) = (g s + w) / (s + w)
    b = np.array([gain + w, w - gain])
    a = np.array([1 + w, w - 1])
    y = lfilter(b / a[0], a / a[0], x)
    return y / max(1.0, gain)


RESPONSE_NODES_HZ = np.geomspace(25.0, 800.0, 8)  # about 0.7 octave apart


def response_gains_db(freqs: np.ndarray, node_gains_db: np.ndarray) -> np.ndarray:
    """The gain in dB at ``freqs`` of a response given at :data:`RESPONSE_NODES_HZ`: linear in
    log frequency between the nodes, flat beyond the first and the last.
    """
    log_f = np.log(np.maximum(freqs, RESPONSE_NODES_HZ[0]))
    return np.interp(log_f, np.log(RESPONSE_NODES_HZ), node_gains_db)


def random_response(x: np.ndarray, rate: int, rng: np.random.Generator, *,
                    spread_db: float) -> np.ndarray:
    """Colour ``x`` with a random smooth, zero-phase frequency response.

    Stethoscopes differ by 10 dB and more across 25-800 Hz (chest piece, tubing, membrane,
    microphone), in shapes a single resonance and tilt do not reach. The gains at
    :data:`RESPONSE_NODES_HZ` are drawn from a normal distribution of ``spread_db``, clipped at
    2.5 of it, and the response is applied in the frequency domain; the level is then restored
    to that of ``x`` so that only the colouring changes.
    """
    gains = np.clip(rng.normal(0.0, spread_db, len(RESPONSE_NODES_HZ)),
                    -2.5 * spread_db, 2.5 * spread_db)
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    y = np.fft.irfft(spectrum * 10 ** (response_gains_db(freqs, gains) / 20.0), len(x))
    return y * (_rms(x) / _rms(y))


def _one_pole_lowpass(x: np.ndarray, rate: int, *, cutoff: float) -> np.ndarray:
    k = np.exp(-2 * np.pi * cutoff / rate)
    return lfilter([1 - k], [1, -k], x)


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise of unit RMS."""
    colour = rng.integers(3)
    white = rng.standard_normal(n)
    if colour == 0:
        noise = white
    elif colour == 1:
        spectrum = np.fft.rfft(white)
        freqs = np.arange(len(spectrum), dtype=np.float64)
        freqs[0] = 1.0
        noise = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    else:
        noise = np.cumsum(white)
        noise -= np.linspace(noise[0], noise[-1], n)
    return noise / _rms(noise)
