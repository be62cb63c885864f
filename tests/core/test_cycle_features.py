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
    with_profile = cf.recording_features(recording, cf.RATE, profile=True)
    assert with_profile.shape == (cf.N_CYCLE + cf.N_SPECTRAL + cf.N_PROFILE,)
    np.testing.assert_array_equal(with_profile[:len(values)], values)
    assert np.isfinite(with_profile).all()
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


def test_the_cycle_profile_ignores_a_gain_per_band_and_places_a_murmur(recording):
    x = cf.prepare(recording, cf.RATE)
    cycles = segment(x, cf.RATE)
    energy = cf.band_log_energy(x)
    plain = cf.cycle_profile(energy, cycles)
    assert plain.shape == (cf.N_PROFILE,) and np.isfinite(plain).all()
    # a stethoscope's response: a constant in each band's log energy, another in every band
    gains = np.random.default_rng(1).normal(scale=3.0, size=(cf.N_BANDS, 1))
    np.testing.assert_allclose(cf.cycle_profile(energy + gains, cycles), plain, atol=1e-9)
    # a systolic murmur: more energy in 250-400 Hz between each S1's end and the next S2
    murmur = energy.copy()
    band = slice(*cf.PROFILE_GROUPS[2])
    frames = np.arange(energy.shape[1]) / cycles.state_rate
    for end_s1 in cycles.s1_offsets:
        later = cycles.s2_onsets[cycles.s2_onsets > end_s1]
        if len(later):
            murmur[band, (frames >= end_s1) & (frames < later[0])] += 3.0
    shape = cf.cycle_profile(murmur, cycles).reshape(len(cf.PROFILE_GROUPS), -1)
    change = shape - plain.reshape(shape.shape)
    first_half, second_half = change[2, :cf.PROFILE_POINTS], change[2, cf.PROFILE_POINTS:]
    # raised in S1-to-S2 against the rest of the cycle by about the 3 added, where it was added
    assert first_half.max() - second_half.mean() > 2.5
    assert np.ptp(second_half) < 1e-9 and first_half[0] == pytest.approx(second_half[0])
    np.testing.assert_allclose(change[[0, 1, 3]], 0.0, atol=1e-9)  # other bands untouched


def test_no_heart_cycle_gives_missing_cycle_features_not_invented_ones():
    noise = np.random.default_rng(0).normal(size=10 * cf.RATE)
    values = cf.recording_features(noise, cf.RATE, profile=True)
    assert np.isnan(values[:cf.N_CYCLE]).all()
    assert np.isnan(values[-cf.N_PROFILE:]).all()
    assert np.isfinite(values[cf.N_CYCLE:-cf.N_PROFILE]).all()


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
