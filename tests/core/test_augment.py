"""Augmentation on a real heart sound: each window is degraded as a stethoscope or a room would,
reproducibly, and the optional random frequency response colours it as asked.
"""

from __future__ import annotations

import numpy as np
import pytest

from audiofuse_core.audio import load_audio
from audiofuse_core.augment import (
    RESPONSE_NODES_HZ,
    augment_window,
    random_response,
    response_gains_db,
)
from audiofuse_core.errors import TrainingError
from audiofuse_core.training import TrainConfig

RATE = 2000


@pytest.fixture(scope="module")
def heart(normal_wav) -> np.ndarray:
    return load_audio(normal_wav, sample_rate=RATE).samples.astype(np.float32)


def test_a_window_is_reproducible_from_its_seed_and_differs_between_seeds(heart):
    n = 5 * RATE
    first = augment_window(heart, 1000, n, RATE, np.random.default_rng(7))
    again = augment_window(heart, 1000, n, RATE, np.random.default_rng(7))
    other = augment_window(heart, 1000, n, RATE, np.random.default_rng(8))
    assert first.shape == (n,) and first.dtype == np.float32
    assert np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_without_a_random_response_the_windows_of_earlier_runs_are_unchanged(heart):
    """response_db=0 draws nothing more from the generator: a run resumed or repeated without
    the option sees exactly the windows it saw before the option existed.
    """
    n = 5 * RATE
    for seed in range(20):
        plain_rng, off_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        plain = augment_window(heart, 500, n, RATE, plain_rng)
        off = augment_window(heart, 500, n, RATE, off_rng, response_db=0.0)
        np.testing.assert_array_equal(plain, off)
        assert plain_rng.random() == off_rng.random()
    coloured = [augment_window(heart, 500, n, RATE, np.random.default_rng(s), response_db=6.0)
                for s in range(20)]
    plain = [augment_window(heart, 500, n, RATE, np.random.default_rng(s)) for s in range(20)]
    changed = sum(not np.allclose(c, p) for c, p in zip(coloured, plain, strict=True))
    assert 8 <= changed <= 20  # 70 % of the windows, on average


def test_the_response_is_linear_in_log_frequency_between_its_nodes_and_flat_beyond():
    gains = np.arange(len(RESPONSE_NODES_HZ), dtype=float) * 2.0 - 7.0
    np.testing.assert_allclose(response_gains_db(RESPONSE_NODES_HZ, gains), gains)
    middle = np.sqrt(RESPONSE_NODES_HZ[2] * RESPONSE_NODES_HZ[3])  # halfway in log frequency
    assert response_gains_db(np.array([middle]), gains)[0] == pytest.approx(
        (gains[2] + gains[3]) / 2)
    assert response_gains_db(np.array([0.0, 10.0]), gains).tolist() == [gains[0], gains[0]]
    assert response_gains_db(np.array([950.0]), gains)[0] == gains[-1]


def test_a_random_response_colours_the_sound_by_the_drawn_gains_and_keeps_its_level(heart):
    x = heart[:5 * RATE].astype(np.float64)
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    spreads = []
    for seed in range(30):
        y = random_response(x, RATE, np.random.default_rng(seed), spread_db=6.0)
        assert np.sqrt(np.mean(y ** 2)) == pytest.approx(np.sqrt(np.mean(x ** 2)), rel=1e-6)
        # the same draw, replayed: the gains the function applied
        gains = np.clip(np.random.default_rng(seed).normal(0.0, 6.0, len(RESPONSE_NODES_HZ)),
                        -15.0, 15.0)
        measured = 20 * np.log10(np.abs(np.fft.rfft(y)) / np.maximum(np.abs(np.fft.rfft(x)),
                                                                      1e-12))
        band = (freqs >= 25) & (freqs <= 800) & (np.abs(np.fft.rfft(x)) > 1e-6)
        offset = measured[band] - response_gains_db(freqs[band], gains)
        assert np.ptp(offset) < 1e-6  # the drawn shape exactly, up to the level restored
        spreads.append(np.std(gains))
    assert 3.5 < np.mean(spreads) < 7.0


def test_the_random_response_setting_is_checked():
    with pytest.raises(TrainingError, match="between 0 and 12 dB"):
        TrainConfig(out="x.keras", random_response_db=20.0).check()
    with pytest.raises(TrainingError, match="needs augmentation on"):
        TrainConfig(out="x.keras", random_response_db=6.0, augment=False).check()
    TrainConfig(out="x.keras", random_response_db=6.0).check()
