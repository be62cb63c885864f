"""The recording-quality gate: real recordings pass, artefacts and damaged recordings fail with
the right reason in words.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from audiofuse_core import heartcycle as hc
from audiofuse_core.audio import load_audio
from audiofuse_core.quality import QualityReport, assess_quality
from tests.conftest import CIRCOR, physionet_files

RATE = 2000
# Two real recordings here are refused, knowingly (see docs/signal_analysis.md):
# d0004 (abnormal) holds gliding tonal chirps (a squeak or a musical murmur) that the speech
# index cannot tell from a voice; b0033 (5.3 s, the shortest) shows a heart-cycle periodicity of
# 0.25 where noise of that length reaches 0.28 one time in fourteen: too little evidence.
KNOWN_REFUSED = {"d0004", "b0033"}


@pytest.fixture(scope="module")
def clean(normal_wav) -> np.ndarray:
    return load_audio(normal_wav, sample_rate=RATE).samples.astype(np.float64)


def _problems(samples: np.ndarray) -> tuple[str, ...]:
    report = assess_quality(samples, RATE)
    assert report.ok == (not report.problems)
    assert bool(report.reason) == (not report.ok)
    return report.problems


def test_real_recordings_pass():
    paths = [p for p in physionet_files() if p.stem not in KNOWN_REFUSED]
    paths += sorted(CIRCOR.glob("*.wav"))
    assert len(paths) >= 14
    for path in paths:
        audio = load_audio(path, sample_rate=RATE)
        report = assess_quality(audio.samples, RATE)
        assert report.ok, f"{path.name}: {report.reason}"


def test_pascal_artifacts_fail(pascal_dir):
    artifacts = sorted(pascal_dir.glob("set_*/artifact__*.wav"))
    assert artifacts
    for path in artifacts:
        audio = load_audio(path, sample_rate=RATE)
        report = assess_quality(audio.samples, RATE)
        assert not report.ok, path.name
        assert "noise" in report.problems or "no_heart_cycle" in report.problems


def test_clipping_fails(clean):
    level = np.quantile(np.abs(clean), 0.98)  # the loudest 2 % of samples cut flat
    problems = _problems(np.clip(clean, -level, level))
    assert problems[0] == "clipping"


def test_dropouts_fail(clean):
    damaged = clean.copy()
    rng = np.random.default_rng(3)
    for start in rng.choice(len(clean) - RATE // 2, 8, replace=False):
        damaged[start:start + int(0.3 * RATE)] = 0.0  # 8 gaps of 300 ms
    assert "dropouts" in _problems(damaged)
    # silence before the chest piece touched the skin is not a gap
    lead_in = np.concatenate([np.zeros(2 * RATE), clean])
    assert "dropouts" not in _problems(lead_in)


def test_rubbing_noise_fails(clean):
    rng = np.random.default_rng(4)
    spectrum = np.fft.rfft(rng.standard_normal(len(clean)))
    freqs = np.fft.rfftfreq(len(clean), 1.0 / RATE)
    noise = np.fft.irfft(spectrum * ((freqs > 100) / np.sqrt(np.maximum(freqs, 1))), len(clean))
    noise *= 2.0 * np.std(clean) / np.std(noise)  # 6 dB louder than the heart
    assert "noise" in _problems(clean + noise)


def test_movement_bumps_fail(clean):
    damaged = clean.copy()
    rng = np.random.default_rng(5)
    peak = np.abs(clean).max()
    t = np.arange(int(0.12 * RATE)) / RATE
    for start in rng.choice(len(clean) - len(t), int(len(clean) / RATE), replace=False):
        damaged[start:start + len(t)] += 4 * peak * rng.standard_normal(len(t)) * np.exp(-t / 0.03)
    assert "noise" in _problems(damaged)


def test_voice_fails(clean):
    # a stand-in for speech: a glottal pulse train (110-220 Hz, gliding like intonation) through
    # two vowel formants, in syllables of 150-350 ms; real speech (espeak-ng) is in the bench
    from scipy.signal import lfilter

    rng = np.random.default_rng(6)
    n = len(clean)
    voice = np.zeros(n)
    t = int(0.3 * RATE)
    while t < n - RATE // 2:
        length = int(rng.uniform(0.15, 0.35) * RATE)
        f0 = rng.uniform(110, 220) * np.linspace(1.0, rng.uniform(0.8, 1.2), length)
        phase = np.cumsum(f0 / RATE)
        pulses = np.diff(np.floor(phase), prepend=0.0)
        for formant in (rng.uniform(300, 700), rng.uniform(800, 950)):
            r = 0.97
            a = [1, -2 * r * np.cos(2 * np.pi * formant / RATE), r * r]
            voice[t:t + length] += lfilter([1.0], a, pulses)
        t += length + int(rng.uniform(0.05, 0.3) * RATE)
    voice *= np.std(clean) / np.std(voice)
    assert _problems(clean + voice)[0] == "speech"


def test_too_short_and_silent():
    assert "too_short" in assess_quality(np.random.default_rng(0).standard_normal(3 * RATE),
                                         RATE).problems
    # under one 5-s analysis window: too short, however clean
    assert "too_short" in assess_quality(np.random.default_rng(0).standard_normal(
        int(4.5 * RATE)), RATE).problems
    report = assess_quality(np.zeros(10 * RATE), RATE)
    assert report.problems[0] == "silent"
    assert "stethoscope" in report.reason


def test_noise_has_no_heart_cycle():
    noise = np.random.default_rng(7).standard_normal(20 * RATE) * 0.05
    report = assess_quality(noise, RATE)
    assert not report.ok
    assert "no_heart_cycle" in report.problems


def test_report_is_plain_data(clean):
    report = assess_quality(clean, RATE)
    assert isinstance(report, QualityReport) and report.ok and report.reason == ""
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["problems"] == []
    assert set(data["indices"]) == {"duration_s", "level_dbfs", "clipping_fraction",
                                    "dropout_fraction", "noise_fraction", "speech_fraction",
                                    "periodicity"}
    assert all(isinstance(v, float) for v in data["indices"].values())


def test_gate_and_segmentation_are_fast(clean):
    samples = np.tile(clean, 3)[: 20 * RATE]
    env = hc.envelopes(samples, RATE)
    assess_quality(samples, RATE, env=env)  # warm the imports
    times = []
    for _ in range(3):
        started = time.perf_counter()
        env = hc.envelopes(samples, RATE)
        assess_quality(samples, RATE, env=env)
        hc.segment(samples, RATE, env=env)
        times.append(time.perf_counter() - started)
    assert min(times) < 0.3  # about 40 ms on one laptop core; generous for busy CI machines


def test_classifier_refuses_a_poor_recording(untrained_model_path, normal_wav, tmp_path):
    import soundfile as sf

    from audiofuse_core.inference import Classifier

    classifier = Classifier(untrained_model_path)
    good = classifier.predict_file(normal_wav)
    assert good.label in ("normal", "abnormal") and good.quality.ok
    data = json.loads(json.dumps(good.to_dict()))
    assert data["quality"]["ok"] is True and data["quality"]["reason"] == ""
    assert 40 < data["heart_rate_bpm"] < 140
    assert len(data["cycles"]["s1"]) >= 5 and len(data["cycles"]["s2"]) >= 5

    samples, rate = sf.read(normal_wav, dtype="float32")
    level = np.quantile(np.abs(samples), 0.97)
    clipped = tmp_path / "clipped.wav"
    sf.write(clipped, np.clip(samples, -level, level), rate)
    bad = classifier.predict_file(clipped)
    assert bad.label == "poor-quality"
    data = json.loads(json.dumps(bad.to_dict()))
    assert data["label"] == "poor-quality" and "clipped" in data["quality"]["reason"]
    assert data["quality"]["problems"][0] == "clipping"
    assert 0.0 <= data["probability"] <= 1.0  # still reported, for audit

    ungated = Classifier(untrained_model_path, quality_gate=False).predict_file(clipped)
    assert ungated.label in ("normal", "abnormal") and not ungated.quality.ok
