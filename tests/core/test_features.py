"""The display spectrogram (numpy STFT): frequency and time axes, level, a real recording."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from audiofuse_core.features import display_spectrogram


def test_a_tone_burst_lands_on_its_frequency_and_time():
    rate = 2000
    t = np.arange(4 * rate) / rate
    x = np.where((t >= 1.0) & (t < 1.5), np.sin(2 * np.pi * 150.0 * t), 0.0).astype(np.float32)
    x += 1e-4 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    spec = display_spectrogram(x, rate, fmax=800.0, top_db=60.0)
    assert spec.frequencies[-1] <= 800.0 and spec.db.shape == (len(spec.frequencies),
                                                               len(spec.times))
    row, col = np.unravel_index(np.argmax(spec.db), spec.db.shape)
    assert abs(spec.frequencies[row] - 150.0) <= rate / 128  # one bin of the 128-point FFT
    assert 1.0 <= spec.times[col] <= 1.5
    assert abs(spec.db.max()) < 1e-4 and spec.db.min() >= -60.0  # dB re the maximum, floor
    assert abs(spec.times[1] - spec.times[0] - 0.008) < 1e-9  # centred frames every hop
    assert abs(spec.times[-1] - 4.0) <= 0.008


def test_real_recording_and_a_recording_shorter_than_one_window(normal_wav):
    x, rate = sf.read(normal_wav, dtype="float32")
    spec = display_spectrogram(x, rate)
    assert np.isfinite(spec.db).all() and spec.db.shape[1] == len(x) // round(0.008 * rate) + 1
    short = display_spectrogram(x[:50], rate)
    assert short.db.shape[1] >= 1 and np.isfinite(short.db).all()
