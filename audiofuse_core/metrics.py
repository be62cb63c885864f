"""Recording-level metrics in plain numpy: ROC-AUC (with a bootstrap interval), MCC, F1...

Label 1 is "abnormal" (the positive class) throughout.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks); NaN with one class only.
    A score that is not a finite number is refused (ValueError): it has no rank.
    """
    labels = np.asarray(labels).astype(bool)
    scores = _finite(scores)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [scores.size]))
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = 0.5 * (start + end - 1) + 1.0
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _finite(scores) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).sum())
        raise ValueError(f"{bad} of {scores.size} scores are not finite numbers: a recording "
                         "without a probability cannot be ranked")
    return scores


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates, thresholds), thresholds descending."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    thresholds = np.unique(scores)[::-1]
    n_pos, n_neg = max(labels.sum(), 1), max((~labels).sum(), 1)
    tpr = np.array([(scores[labels] >= t).sum() / n_pos for t in thresholds])
    fpr = np.array([(scores[~labels] >= t).sum() / n_neg for t in thresholds])
    return (np.concatenate(([0.0], fpr)), np.concatenate(([0.0], tpr)),
            np.concatenate(([np.inf], thresholds)))


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold that maximises Youden's J (sensitivity + specificity - 1).

    Midway between neighbouring scores, so it does not sit on one recording's score.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.all() or not labels.any():
        return 0.5
    candidates = np.unique(scores)
    mids = np.concatenate(([candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2,
                           [candidates[-1] + 1e-6]))
    best, best_j = 0.5, -np.inf
    for t in mids:
        predicted = scores >= t
        j = predicted[labels].mean() + (~predicted[~labels]).mean() - 1.0
        if j > best_j + 1e-12:
            best, best_j = float(t), j
    return float(np.clip(best, 0.0, 1.0))


@dataclass
class BinaryMetrics:
    n: int
    n_abnormal: int
    roc_auc: float
    roc_auc_low: float
    roc_auc_high: float
    mcc: float
    f1_abnormal: float
    accuracy: float
    sensitivity: float
    specificity: float
    balanced_accuracy: float
    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(self).items()}


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float, *,
                   bootstrap: int = 1000, seed: int = 0) -> BinaryMetrics:
    """Every metric we report, at ``threshold``, with a percentile-bootstrap 95 % AUC interval."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    predicted = (scores >= threshold).astype(int)
    tp = int(((predicted == 1) & (labels == 1)).sum())
    tn = int(((predicted == 0) & (labels == 0)).sum())
    fp = int(((predicted == 1) & (labels == 0)).sum())
    fn = int(((predicted == 0) & (labels == 1)).sum())
    sens = _ratio(tp, tp + fn)
    spec = _ratio(tn, tn + fp)
    precision = _ratio(tp, tp + fp)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    denom = math.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = (tp * tn - fp * fn) / denom if denom > 0 else 0.0
    auc = roc_auc(labels, scores)
    low, high = auc_interval(labels, scores, bootstrap=bootstrap, seed=seed)
    del precision
    return BinaryMetrics(
        n=int(labels.size), n_abnormal=int(labels.sum()), roc_auc=auc, roc_auc_low=low,
        roc_auc_high=high, mcc=float(mcc), f1_abnormal=f1,
        accuracy=_ratio(tp + tn, labels.size), sensitivity=sens, specificity=spec,
        balanced_accuracy=(sens + spec) / 2 if not (math.isnan(sens) or math.isnan(spec))
        else float("nan"),
        threshold=float(threshold), tp=tp, fp=fp, tn=tn, fn=fn,
    )


def auc_interval(labels: np.ndarray, scores: np.ndarray, *, bootstrap: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the ROC-AUC, resampling within each class (scores as
    :func:`roc_auc` takes them).
    """
    labels = np.asarray(labels).astype(bool)
    scores = _finite(scores)
    pos, neg = scores[labels], scores[~labels]
    if pos.size == 0 or neg.size == 0 or bootstrap <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.empty(bootstrap)
    for i in range(bootstrap):
        p = rng.choice(pos, pos.size)
        n = rng.choice(neg, neg.size)
        # probability a random positive outranks a random negative (ties count half)
        comparison = p[:, None] - n[None, :]
        values[i] = ((comparison > 0).sum() + 0.5 * (comparison == 0).sum()) / comparison.size
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1.0 - alpha))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray,
                               bins: int = 10) -> float:
    """ECE with equal-width bins: the mean gap between confidence and accuracy, weighted."""
    labels = np.asarray(labels).astype(float)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(probabilities[mask].mean() - labels[mask].mean())
    return float(total)


def fit_platt(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """Platt scaling of probabilities: the (slope, intercept) minimising the log loss of
    sigmoid(slope * logit(p) + intercept), by Newton's method (a faint ridge keeps it finite
    when the classes separate).
    """
    y = np.asarray(labels, dtype=np.float64)
    z = _logit(probabilities)
    x = np.stack([z, np.ones_like(z)], axis=1)
    w = np.array([1.0, 0.0])
    for _ in range(100):
        q = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -500, 500)))
        gradient = x.T @ (q - y) + 1e-3 * w
        hessian = (x * (q * (1 - q))[:, None]).T @ x + 1e-3 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(w[0]), float(w[1])


def platt(probabilities: np.ndarray | float, slope: float, intercept: float) -> np.ndarray:
    """sigmoid(slope * logit(p) + intercept), elementwise."""
    u = slope * _logit(probabilities) + intercept
    return 1.0 / (1.0 + np.exp(-np.clip(u, -500, 500)))


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")
