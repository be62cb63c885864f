"""Classifier on every real sample, at every rate: one probability, a timeline, the model's rate."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audiofuse_core.errors import ModelError, SampleRateError, TooShortError
from audiofuse_core.inference import Classifier
from tests.conftest import CIRCOR, physionet_files


@pytest.fixture(scope="module")
def classifier(untrained_model_path):
    return Classifier(untrained_model_path)


def test_predicts_every_physionet_and_circor_sample(classifier):
    for path in physionet_files() + sorted(CIRCOR.glob("*.wav")):
        p = classifier.predict_file(path)
        assert 0.0 <= p.probability <= 1.0
        expected = "abnormal" if p.probability >= p.threshold else "normal"
        assert p.label == (expected if p.quality.ok else "poor-quality")
        assert p.sample_rate == 2000 and p.original_rate in (2000, 4000)
        # overlapping 5 s windows every 2.5 s cover the whole recording
        expected = max(1, int(np.ceil((p.duration - 5.0) / 2.5 - 1e-9)) + 1)
        assert len(p.window_probabilities) in (expected, expected + 1)
        assert p.window_starts[-1] + p.window_seconds == pytest.approx(max(p.duration, 5.0),
                                                                       abs=1e-3)
        assert p.probability == pytest.approx(np.mean(p.window_probabilities))


def test_predicts_other_devices(classifier, pascal_dir, yaseen_dir):
    files = sorted(pascal_dir.rglob("*.wav")) + sorted(yaseen_dir.rglob("*.wav"))
    rates = set()
    for path in files:
        try:
            p = classifier.predict_file(path)
        except TooShortError:
            continue  # a few PASCAL clips are under 2 s
        rates.add(p.original_rate)
        assert p.sample_rate == 2000 and 0 <= p.probability <= 1
    assert {44100, 4000, 8000} <= rates


def test_array_and_file_agree(classifier, abnormal_wav):
    samples, rate = sf.read(abnormal_wav, dtype="float32")
    from_file = classifier.predict_file(abnormal_wav)
    from_array = classifier.predict_array(samples, rate)
    assert from_array.probability == pytest.approx(from_file.probability, abs=1e-6)


def test_a_window_gets_the_same_logit_whatever_the_batch_it_is_in(classifier, abnormal_wav):
    """One compiled graph takes any number of windows, up to 16 a call: the batch must not
    change a logit, nor may a new batch size trace the graph again (a second trace crashed the
    app's model thread once).
    """
    from audiofuse_core.features import model_windows, prepare_signal

    samples, rate = sf.read(abnormal_wav, dtype="float32")
    windows, _ = model_windows(prepare_signal(samples, rate, classifier.preset), classifier.preset)
    many = np.concatenate([windows] * (20 // len(windows) + 1))[:20]  # two calls
    together = classifier.window_logits(many)
    for n in (1, 3, 5, 9):
        np.testing.assert_allclose(classifier.window_logits(many[:n]), together[:n], atol=1e-4)
    eager = np.asarray(classifier.model(many[:7], training=False))[:, 0]
    np.testing.assert_allclose(classifier.window_logits(many[:7]), eager, atol=1e-4)
    if classifier._graph is not None:  # the TensorFlow backend
        assert classifier._graph.experimental_get_tracing_count() == 1


def test_resampling_keeps_the_answer(classifier, abnormal_wav):
    from audiofuse_core.audio import resample

    samples, rate = sf.read(abnormal_wav, dtype="float32")
    at_rate = classifier.predict_array(samples, rate).probability
    up = classifier.predict_array(resample(samples, rate, 48000), 48000).probability
    assert up == pytest.approx(at_rate, abs=0.02)


def test_a_rate_too_low_for_the_model_s_band_is_refused_not_called_normal(
        classifier, abnormal_wav, tmp_path):
    """At 1000 Hz the default preset's band above 500 Hz is missing, and the feature expert
    read that as a normal heart: such a file is refused, with the rate it needs. 1600 Hz, which
    holds the whole 25-800 Hz band, is answered.
    """
    from audiofuse_core.audio import resample

    samples, rate = sf.read(abnormal_wav, dtype="float32")
    assert classifier.min_file_rate == 1600
    low = tmp_path / "low.wav"
    sf.write(low, resample(samples, rate, 1000), 1000)
    with pytest.raises(SampleRateError, match=r"low.wav: recorded at 1000 Hz.*at least 1600 Hz"):
        classifier.predict_file(low)
    with pytest.raises(SampleRateError):
        classifier.predict_array(resample(samples, rate, 1000), 1000)
    assert classifier.predict_array(resample(samples, rate, 1600), 1600).label != ""


def test_to_dict_is_json_ready(classifier, normal_wav):
    import json

    data = json.loads(json.dumps(classifier.predict_file(normal_wav).to_dict()))
    for key in ("path", "probability", "label", "threshold", "duration_s", "sample_rate",
                "windows", "model", "model_version"):
        assert key in data


def test_paper_preset_uses_the_first_window_only(tmp_path, normal_wav):
    from audiofuse_core.models import build_model, save_model
    from audiofuse_core.presets import PAPER

    path = save_model(build_model(PAPER, "waveform"), tmp_path / "paper.keras")
    classifier = Classifier(path)
    p = classifier.predict_file(normal_wav)
    assert p.sample_rate == 22050 and len(p.window_probabilities) == 1
    assert classifier.min_file_rate == 2000  # PhysioNet's files, all it could have learned


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Classifier(tmp_path / "none.keras")


def test_the_figures_worker_fails_loudly_and_never_outlives_a_prediction(untrained_model_path,
                                                                          abnormal_wav):
    """The quality gate and heart cycles run on a worker thread beside the network: an error
    there reaches the caller, and an error in the network waits for the worker first.
    """
    import threading

    classifier = Classifier(untrained_model_path)
    audio = classifier.load(abnormal_wav)
    plain = classifier.predict_audio(audio)
    assert plain.cycles.heart_rate_bpm == plain.heart_rate_bpm and plain.quality is not None

    def broken(_audio):
        raise ValueError("figures broke")

    classifier._recording_figures = broken
    with pytest.raises(ValueError, match="figures broke"):
        classifier.predict_audio(audio)

    finished = threading.Event()

    def slow(audio_):
        finished.wait(0.3)
        finished.set()
        return None, (plain.quality, plain.cycles)

    def network_broken(_windows):
        raise RuntimeError("network broke")

    classifier._recording_figures = slow
    classifier.window_logits = network_broken
    with pytest.raises(RuntimeError, match="network broke"):
        classifier.predict_audio(audio)
    assert finished.is_set()  # the worker had finished before the error reached us


def test_a_model_whose_output_is_not_a_number_is_refused_not_called_normal(tmp_path,
                                                                            abnormal_wav):
    """A damaged weight makes every logit NaN; NaN >= threshold is false, so it would have read
    as a normal heart. The Classifier says the model gave no answer, and evaluate counts it
    as an error for that recording.
    """
    from audiofuse_core.datasets import scan
    from audiofuse_core.evaluation import evaluate
    from audiofuse_core.models import build_model, save_model
    from audiofuse_core.presets import get_preset

    model = build_model(get_preset("default"), "waveform", seed=3,
                        metadata={"name": "damaged", "version": "test", "threshold": 0.5})
    weights = model.get_weights()
    weights[-1] = np.full_like(weights[-1], np.nan)  # the output layer's bias
    model.set_weights(weights)
    path = save_model(model, tmp_path / "damaged.keras")
    classifier = Classifier(path)
    with pytest.raises(ModelError, match="not a number"):
        classifier.predict_file(abnormal_wav)
    records = scan(CIRCOR).records[:3]
    report = evaluate(path, records, bootstrap=10)
    assert [r.error is not None and "not a number" in r.error for r in report.results] == [
        True] * len(records)
