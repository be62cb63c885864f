"""Heart rate and S1/systole/S2/diastole segmentation, checked against expert segmentations."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from audiofuse_core import heartcycle as hc
from audiofuse_core.audio import load_audio
from tests.conftest import CIRCOR

RATE = 2000


def _reference(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(samples at 2000 Hz, annotation rows) of a CirCor test record (not a development
    patient: the shipped parameters never saw it).
    """
    audio = load_audio(CIRCOR / f"{name}.wav", sample_rate=RATE)
    return audio.samples, hc.read_annotations(CIRCOR / f"{name}.tsv")


def _reference_rate(rows: np.ndarray) -> float:
    cycles = hc._annotated_cycles(rows)
    return 60.0 / float(np.median(cycles[:, 0]))


@pytest.mark.parametrize("name", ["85035_TV", "68194_TV"])
def test_matches_the_expert_segmentation(name):
    samples, rows = _reference(name)
    cycles = hc.segment(samples, RATE)
    assert cycles.heart_rate_bpm is not None
    assert abs(cycles.heart_rate_bpm - _reference_rate(rows)) < 6.0
    annotated = rows[rows[:, 2] > 0]
    span = (annotated[0, 0], annotated[-1, 1])
    for detected, state in ((cycles.s1_centres, 1), (cycles.s2_centres, 3)):
        ref = rows[rows[:, 2] == state]
        reference = (ref[:, 0] + ref[:, 1]) / 2.0
        detected = detected[(detected >= span[0]) & (detected <= span[1])]
        hits = hc.match_events(detected, reference, 0.060)
        f1 = 2 * hits / (len(detected) + len(reference))
        assert f1 >= 0.85, f"{name} state {state}: F1 {f1:.2f}"


def test_cycles_alternate_s1_systole_s2_diastole(normal_wav):
    audio = load_audio(normal_wav, sample_rate=RATE)
    cycles = hc.segment(audio.samples, RATE)
    assert 40 < cycles.heart_rate_bpm < 140
    expected = audio.duration * cycles.heart_rate_bpm / 60.0
    assert abs(cycles.cycle_count - expected) <= 2
    # every S1 ends before its S2 starts, every S2 before the next S1
    events = sorted([(t, "S1") for t in cycles.s1_onsets] + [(t, "S2") for t in cycles.s2_onsets])
    kinds = [kind for _, kind in events]
    assert all(a != b for a, b in zip(kinds, kinds[1:]))
    assert np.all(cycles.s1_offsets > cycles.s1_onsets)
    states = cycles.states
    changes = np.flatnonzero(np.diff(states)) + 1
    assert np.all((states[changes] - states[changes - 1]) % 4 == 1)  # S1 -> systole -> S2 ...


def test_rate_does_not_depend_on_the_sample_rate(normal_wav):
    audio = load_audio(normal_wav, sample_rate=RATE)
    high = load_audio(normal_wav, sample_rate=4000)
    a = hc.segment(audio.samples, RATE)
    b = hc.segment(high.samples, 4000)
    assert abs(a.heart_rate_bpm - b.heart_rate_bpm) < 2.0
    assert abs(len(a.s1_onsets) - len(b.s1_onsets)) <= 1


def test_noise_and_silence_have_no_heart_rate():
    rng = np.random.default_rng(0)
    for samples in (rng.standard_normal(10 * RATE) * 0.1, np.zeros(10 * RATE)):
        cycles = hc.segment(samples.astype(np.float32), RATE)
        assert cycles.heart_rate_bpm is None
        assert cycles.cycle_count == 0
        assert cycles.to_dict()["s1"] == []


def test_viterbi_recovers_a_known_state_sequence():
    # emissions that point at a known sequence with some frames ambiguous: the duration model
    # must fill the gaps with the right states
    durations = [6, 7, 5, 20] * 6
    truth = np.concatenate([np.full(d, k % 4) for k, d in enumerate(durations)])
    rng = np.random.default_rng(1)
    log_b = np.full((len(truth), 4), -3.0)
    log_b[np.arange(len(truth)), truth] = 0.0
    blur = rng.random(len(truth)) < 0.3
    log_b[blur] = 0.0
    means = np.array([[6.0, 7.0, 5.0, 20.0]])
    states, scores = hc._hsmm_viterbi(log_b, means, np.full((1, 4), 1.0))
    assert np.mean(states == truth) > 0.97
    # a wrong duration model scores worse on the same emissions
    _, worse = hc._hsmm_viterbi(log_b, np.array([[6.0, 20.0, 5.0, 7.0]]), np.full((1, 4), 1.0))
    assert worse[0] < scores[0]


def test_shipped_parameters_fit_the_features():
    params = hc.default_params()
    assert params.weights.shape == (hc.N_FEATURES * (2 * hc.CONTEXT + 1) + 1, 4)
    assert 0.08 < params.s1_mean < 0.16 and 0.08 < params.s2_mean < 0.16
    assert "CirCor" in params.source


def test_fit_params_learns_from_annotations():
    items = [_reference(name) for name in ("85035_TV", "68194_TV")]
    params = hc.fit_params([(hc.envelopes(s, RATE), rows) for s, rows in items])
    assert params.weights.shape == hc.default_params().weights.shape
    assert abs(params.s1_mean - 0.12) < 0.03
    # the learned emissions prefer the annotated state on the annotated frames
    env = hc.envelopes(items[0][0], RATE)
    labels = hc.frame_labels(items[0][1], len(env.features))
    guess = np.argmax(hc.emission_log_likelihood(env.features, params), axis=1)
    keep = labels >= 0
    assert np.mean(guess[keep] == labels[keep]) > 0.5  # chance is 0.25


def test_to_dict_is_json(normal_wav):
    audio = load_audio(normal_wav, sample_rate=RATE)
    data = hc.segment(audio.samples, RATE).to_dict()
    text = json.dumps(data)
    assert set(data) == {"heart_rate_bpm", "systolic_interval_s", "periodicity", "s1", "s2"}
    assert len(data["s1"]) > 3 and all(len(pair) == 2 for pair in data["s1"])
    assert "NaN" not in text


def test_twenty_seconds_segment_quickly(normal_wav):
    audio = load_audio(normal_wav, sample_rate=RATE)
    samples = np.tile(audio.samples, 3)[: 20 * RATE]
    hc.segment(samples, RATE)  # warm the imports
    times = []
    for _ in range(3):
        started = time.perf_counter()
        hc.segment(samples, RATE)
        times.append(time.perf_counter() - started)
    assert min(times) < 0.25  # about 15 ms on a laptop core; generous for busy CI machines
