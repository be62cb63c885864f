"""Heart-cycle features: their shape on a real recording, their indifference to a stethoscope's
colouring, and what they say when there is no heart cycle to describe.
"""

from __future__ import annotations

import numpy as np
import pytest

from audiofuse_core import cycle_features as cf
from audiofuse_core.audio import load_audio
from audiofuse_core.heartcycle import segment


@pytest.fixture(scope="module")
def recording(physionet_dir):
    return load_audio(physionet_dir / "training-a" / "a0238.wav", sample_rate=cf.RATE).samples


def test_a_real_recording_gets_every_feature(recording):
    values = cf.recording_features(recording, cf.RATE)
    assert values.shape == (cf.N_CYCLE + cf.N_SPECTRAL,)
    assert np.isfinite(values).all()
    assert len(cf.cycle_feature_names()) == cf.N_CYCLE
    rate = values[cf.cycle_feature_names().index("heart_rate_bpm")]
    assert 40 < rate < 180


def test_the_cycle_contrasts_do_not_hear_the_stethoscopes_colouring(recording):
    from scipy.signal import butter, sosfilt

    # another chest piece: a 150 Hz second-order low-pass and twice the gain
    coloured = 2.0 * sosfilt(butter(2, 150, "lowpass", fs=cf.RATE, output="sos"), recording)
    cycles = segment(cf.prepare(recording, cf.RATE), cf.RATE)  # the same cycles for both
    plain = cf.cycle_features(recording, cf.RATE, cycles)
    other = cf.cycle_features(coloured, cf.RATE, cycles)
    contrasts = slice(0, len(cf.CONTRASTS) * cf.N_BANDS)
    contrast_change = np.median(np.abs(other[contrasts] - plain[contrasts]))
    level_change = np.median(np.abs(
        cf.band_log_energy(cf.prepare(coloured, cf.RATE)).mean(axis=1)
        - cf.band_log_energy(cf.prepare(recording, cf.RATE)).mean(axis=1)))
    assert level_change > 1.0  # the colouring moves the bands' levels a lot...
    assert contrast_change < 0.1 * level_change  # ...and the phases' contrasts hardly at all
    # the log-Mel summaries, by contrast, carry it
    assert np.abs(cf.spectral_summary(coloured, cf.RATE)[:cf.N_MELS]
                  - cf.spectral_summary(recording, cf.RATE)[:cf.N_MELS]).max() > 3.0


def test_no_heart_cycle_gives_missing_cycle_features_not_invented_ones():
    noise = np.random.default_rng(0).normal(size=10 * cf.RATE)
    values = cf.recording_features(noise, cf.RATE)
    assert np.isnan(values[:cf.N_CYCLE]).all()
    assert np.isfinite(values[cf.N_CYCLE:]).all()


def test_another_sample_rate_is_refused_with_the_reason(recording):
    with pytest.raises(ValueError, match="computed at 2000 Hz; got 4000 Hz"):
        cf.cycle_features(recording, 4000)


def test_the_numpy_log_mel_is_librosas_on_a_real_recording(normal_wav):
    """log_mel replaces librosa's melspectrogram + power_to_db at prediction (a 2 s first call
    and 120 MB of imports); the feature expert was trained on librosa's figures.
    """
    import librosa

    from audiofuse_core.audio import load_audio
    from audiofuse_core.cycle_features import N_MELS, RATE, log_mel, prepare

    x = prepare(load_audio(normal_wav, sample_rate=RATE).samples, RATE)
    reference = librosa.power_to_db(librosa.feature.melspectrogram(
        y=x.astype(np.float32), sr=RATE, n_fft=256, hop_length=40, n_mels=N_MELS, fmin=25,
        fmax=800))
    ours = log_mel(x)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=1e-3)  # dB; float32 against float64
    assert ours.max() - ours.min() <= 80.0 + 1e-9  # the 80 dB floor under the peak
