"""The occlusion map: it finds the time and frequency a decision rests on, and runs on a real
model file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from audiofuse_core.audio import load_audio, prepare_samples
from audiofuse_core.explain import band_edges, occlusion_map
from audiofuse_core.presets import get_preset

RATE = 2000


class ToneDetector:
    """A stand-in model whose logit is the loudest 100 ms of 140-180 Hz in a window."""

    preset = get_preset("default")
    temperature = 1.0

    def __init__(self) -> None:
        self.sos = butter(4, [140.0, 180.0], btype="bandpass", fs=RATE, output="sos")
        self.calls = 0

    def window_logits(self, windows: np.ndarray) -> np.ndarray:
        self.calls += len(windows)
        band = sosfiltfilt(self.sos, windows.astype(np.float64), axis=1)
        frames = band[:, : band.shape[1] // 200 * 200].reshape(len(windows), -1, 200)
        loudest = np.sqrt((frames ** 2).mean(axis=2)).max(axis=1)
        return 40.0 * loudest - 2.0


@pytest.fixture(scope="module")
def recording(normal_wav):
    audio = load_audio(normal_wav, sample_rate=RATE)
    samples = audio.samples.astype(np.float64)  # 9.3 s
    t = np.arange(len(samples)) / RATE
    burst = (t >= 6.0) & (t < 6.5)
    samples = samples + 0.3 * np.sin(2 * np.pi * 160.0 * t) * burst  # a 160 Hz tone, 6.0-6.5 s
    return prepare_samples(samples.astype(np.float32), RATE)


def test_map_points_at_the_time_and_band_that_decide(recording):
    model = ToneDetector()
    result = occlusion_map(model, recording)
    assert result.drop.shape == (8, int(np.ceil(recording.duration / 0.5)))
    band, segment = np.unravel_index(np.argmax(result.drop), result.drop.shape)
    lo, hi = result.band_edges_hz[band], result.band_edges_hz[band + 1]
    assert lo <= 160.0 <= hi
    assert result.segment_edges_s[segment] == pytest.approx(6.0)
    # elsewhere, removing sound changes (almost) nothing
    others = np.delete(result.drop.ravel(), np.argmax(result.drop))
    assert np.max(np.abs(others)) < 0.2 * result.drop.max()
    assert result.probability == pytest.approx(np.mean(result.window_probabilities))
    # only the windows that overlap a segment are run again, not all of them for every cell
    n_windows = len(result.window_probabilities)
    assert model.calls < result.drop.size * n_windows * 0.8 + n_windows


def test_stops_and_reports_progress(recording):
    seen = []
    assert occlusion_map(ToneDetector(), recording, should_stop=lambda: len(seen) >= 2,
                         progress=seen.append) is None
    seen.clear()
    occlusion_map(ToneDetector(), recording, segment_seconds=2.0, bands=2, progress=seen.append)
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_band_edges_cover_the_model_band():
    edges = band_edges(get_preset("default"), 8)
    assert edges[0] == pytest.approx(25.0) and edges[-1] == pytest.approx(800.0)
    assert np.all(np.diff(np.log(edges)) == pytest.approx(np.log(32.0) / 8))


def test_real_model_map(untrained_model_path, abnormal_wav):
    from audiofuse_core.inference import Classifier

    classifier = Classifier(untrained_model_path)
    audio = classifier.load(abnormal_wav)
    result = occlusion_map(classifier, audio, segment_seconds=2.5, bands=4)
    prediction = classifier.predict_audio(audio)
    assert result.probability == pytest.approx(prediction.probability, abs=1e-5)
    assert result.drop.shape == (4, int(np.ceil(audio.duration / 2.5)))
    assert np.all(np.isfinite(result.drop))
    data = json.loads(json.dumps(result.to_dict()))
    assert len(data["drop"]) == 4 and data["segment_edges_s"][-1] == pytest.approx(
        audio.duration, abs=1e-3)
