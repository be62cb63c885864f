"""Metrics against values worked out by hand, and the evaluation report's structure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audiofuse_core.metrics import (
    auc_interval,
    best_threshold,
    binary_metrics,
    expected_calibration_error,
    fit_platt,
    platt,
    roc_auc,
    roc_curve,
)


def test_roc_auc_by_hand():
    labels = np.array([0, 0, 1, 1])
    assert roc_auc(labels, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)  # ties half
    assert roc_auc(labels, np.array([0.9, 0.8, 0.1, 0.2])) == pytest.approx(0.0)
    assert math.isnan(roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_binary_metrics_by_hand():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.1, 0.05])
    m = binary_metrics(labels, scores, 0.5, bootstrap=200)
    assert (m.tp, m.fn, m.fp, m.tn) == (2, 1, 1, 4)
    assert m.sensitivity == pytest.approx(2 / 3) and m.specificity == pytest.approx(0.8)
    assert m.f1_abnormal == pytest.approx(4 / 6)
    assert m.mcc == pytest.approx((2 * 4 - 1 * 1) / math.sqrt(3 * 3 * 5 * 5))
    assert m.roc_auc_low <= m.roc_auc <= m.roc_auc_high


def test_auc_interval_narrows_with_more_data():
    rng = np.random.default_rng(0)
    def interval(n):
        labels = np.repeat([0, 1], n)
        scores = np.concatenate([rng.normal(0, 1, n), rng.normal(1, 1, n)])
        low, high = auc_interval(labels, scores, bootstrap=300)
        return high - low
    assert interval(400) < interval(25)


def test_best_threshold_separates():
    labels = np.array([0, 0, 0, 1, 1])
    t = best_threshold(labels, np.array([0.1, 0.2, 0.3, 0.6, 0.7]))
    assert 0.3 < t < 0.6


def test_roc_curve_ends():
    fpr, tpr, _ = roc_curve(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.4, 0.3]))
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1


def test_ece():
    labels = np.array([1, 0] * 50)
    assert expected_calibration_error(labels, np.full(100, 0.5)) == pytest.approx(0.0)
    assert expected_calibration_error(labels, np.full(100, 0.95)) == pytest.approx(0.45)


def test_platt_scaling_recovers_the_map_that_made_the_labels():
    """Labels drawn with P(abnormal) = sigmoid(2 logit(p) - 0.8): the fit finds slope 2 and
    intercept -0.8, and the recalibrated probabilities are better calibrated than p.
    """
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 20000)
    truth = platt(p, 2.0, -0.8)
    labels = (rng.uniform(size=p.size) < truth).astype(int)
    slope, intercept = fit_platt(labels, p)
    assert slope == pytest.approx(2.0, abs=0.1) and intercept == pytest.approx(-0.8, abs=0.1)
    assert expected_calibration_error(labels, platt(p, slope, intercept)) < 0.02
    assert expected_calibration_error(labels, p) > 0.05
    # the identity map leaves probabilities alone; the map keeps their order
    np.testing.assert_allclose(platt(p, 1.0, 0.0), p, rtol=1e-9)
    assert np.all(np.diff(platt(np.sort(p), slope, intercept)) > 0)
    # classes that separate perfectly still give a finite fit
    assert all(map(math.isfinite, fit_platt(np.array([0, 0, 1, 1]), np.array([.1, .2, .8, .9]))))


def test_a_score_that_is_not_a_number_is_refused_not_ranked():
    # NaN sorted last in the AUC and compared false in its interval: two different answers
    labels = np.array([0, 0, 1, 1])
    for bad in (np.nan, np.inf):
        scores = np.array([0.1, 0.2, bad, 0.9])
        with pytest.raises(ValueError, match="1 of 4 scores are not finite"):
            roc_auc(labels, scores)
        with pytest.raises(ValueError, match="not finite"):
            auc_interval(labels, scores)
