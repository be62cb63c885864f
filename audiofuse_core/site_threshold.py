"""Refit a model's decision threshold on a clinic's own labelled recordings.

On a stethoscope or population it never heard, a model keeps more of how it *ranks* recordings
than of where its threshold falls: left out of training, PhysioNet's training-f was ranked at
ROC-AUC 0.61 by the fusion, but at the model's own threshold every one of its 76 recordings was
called abnormal (sensitivity 1.00, specificity 0.02; docs/results.md). Before a clinic relies on
a model, it should evaluate it on recordings of its own; where the ranking holds up, this module
moves the threshold to where that clinic's recordings put it.

:func:`refit_threshold` scores the labelled recordings, chooses the threshold that maximises
Youden's J on them (as training does on its validation recordings), and writes a **copy** of the
model with that threshold: the weights, the temperature and everything else are untouched, the
original file is never changed, and an existing file is never overwritten. The copy's metadata
keeps the site's name, its counts, the threshold before and after, and the figures at both; the
model card shows them. The figures after the refit are measured on the recordings the threshold
was fitted to, so they are optimistic: check the copy on other recordings of the same site.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import Record
from .errors import AudioFuseError, DatasetError, ModelError
from .evaluation import EvaluationReport, evaluate, fmt, metrics_table
from .metrics import best_threshold, binary_metrics

MIN_PER_CLASS = 10
RANKS_POORLY = 0.7  # a site's ROC-AUC under this: no threshold makes the model reliable there
RULE = "maximises Youden's J (sensitivity + specificity - 1)"


@dataclass(frozen=True)
class SiteThreshold:
    """What :func:`refit_threshold` did: the copy it wrote and the figures at both thresholds."""

    source: Path
    out: Path
    site: str
    threshold_before: float
    threshold_after: float
    before: dict[str, Any]  # binary metrics on the site's recordings at the old threshold
    after: dict[str, Any]  # the same at the refitted threshold (fitted on them: optimistic)
    report: EvaluationReport

    @property
    def warning(self) -> str | None:
        """Why the copy should not be relied on even with its new threshold, or None."""
        if self.before["roc_auc"] >= RANKS_POORLY:
            return None
        return (f"ROC-AUC {fmt(self.before['roc_auc'])} on this site's recordings: the model "
                "ranks them poorly; no threshold makes it reliable here.")

    def to_markdown(self) -> str:
        lines = [
            f"# Threshold refitted for {self.site}", "",
            f"- Model: {self.source.name} ({self.report.model_name}, version "
            f"{self.report.model_version})",
            f"- Written: {self.out} (the original is unchanged)",
            f"- Recordings scored: {self.before['n']} ({self.before['n_abnormal']} abnormal); "
            f"{len(self.report.failed)} could not be scored",
            f"- ROC-AUC on them: {fmt(self.before['roc_auc'])} [{fmt(self.before['roc_auc_low'])}, "
            f"{fmt(self.before['roc_auc_high'])}]: the threshold cannot improve the ranking",
            f"- Threshold {fmt(self.threshold_before)} -> {fmt(self.threshold_after)} ({RULE} "
            "on these recordings)", "",
            metrics_table([(f"threshold {fmt(self.threshold_before)} (before)", self.before),
                           (f"threshold {fmt(self.threshold_after)} (after)", self.after)]),
            "",
            "The figures after the refit are measured on the recordings the threshold was fitted "
            "to, so they are optimistic: check the new model on other recordings of this site.",
        ]
        if self.warning:
            lines += ["", f"**Warning**: {self.warning}"]
        return "\n".join(lines) + "\n"


def refit_threshold(model: str | Path, records: Sequence[Record], out: str | Path, *,
                    site: str, bootstrap: int = 1000, min_per_class: int = MIN_PER_CLASS,
                    progress: Callable[[int, int, Any], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> SiteThreshold:
    """Score ``records`` with the model file ``model`` and write a copy with the threshold that
    suits them to ``out`` (see the module docstring and :func:`write_site_copy`).
    """
    source, out = Path(model), Path(out)
    _check_out(out)
    if not source.is_file():
        raise ModelError(f"{source}: model file not found")
    report = evaluate(source, records, bootstrap=bootstrap, progress=progress,
                      should_stop=should_stop)
    return write_site_copy(source, report, out, site=site, bootstrap=bootstrap,
                           min_per_class=min_per_class)


def write_site_copy(model: str | Path, report: EvaluationReport, out: str | Path, *,
                    site: str, bootstrap: int = 1000,
                    min_per_class: int = MIN_PER_CLASS) -> SiteThreshold:
    """Write to ``out`` a copy of the model file ``model`` whose threshold maximises Youden's J
    on ``report`` (that model's evaluation on the site's recordings).

    Raises an :class:`AudioFuseError` with the reason, and writes nothing, when ``out`` exists
    (or is the model itself), when the report holds fewer than ``min_per_class`` scored
    recordings of either class, or when the report was cancelled.
    """
    from .models import load_model, save_model

    source, out = Path(model), Path(out)
    _check_out(out)
    if report.cancelled:
        raise AudioFuseError("the evaluation was cancelled: no model was written")
    labels, scores = report.scored()
    n_abnormal = int(np.sum(labels == 1))
    n_normal = int(len(labels) - n_abnormal)
    if min(n_normal, n_abnormal) < min_per_class:
        raise DatasetError(
            f"{site}: {n_normal} normal and {n_abnormal} abnormal recordings could be scored "
            f"({len(report.failed)} could not); at least {min_per_class} of each are needed to "
            "choose a threshold")
    before_threshold = float(report.threshold)
    threshold = best_threshold(labels, scores)
    before = binary_metrics(labels, scores, before_threshold, bootstrap=bootstrap).to_dict()
    after = binary_metrics(labels, scores, threshold, bootstrap=bootstrap).to_dict()

    keras_model = load_model(source)
    meta = dict(keras_model.metadata)
    now = datetime.now(UTC)
    entry = {
        "site": site, "date": now.isoformat(timespec="seconds"), "source": source.name,
        "source_version": meta.get("version"), "n": before["n"],
        "n_abnormal": before["n_abnormal"], "not_scored": len(report.failed),
        "threshold_before": before_threshold, "threshold_after": threshold,
        "before": before, "after": after,
    }
    meta["site_thresholds"] = [*meta.get("site_thresholds", []), entry]
    meta["threshold"] = threshold
    meta["threshold_rule"] = (f"refitted for {site} on {before['n']} of its recordings "
                              f"({now:%Y-%m-%d}): {RULE}; was {before_threshold:.3f}")
    meta["version"] = f"{meta.get('version', 'unversioned')}+site-{now:%Y%m%d%H%M}"
    keras_model.metadata = meta
    _check_out(out)  # made while the model loaded?
    save_model(keras_model, out)
    return SiteThreshold(source, out, site, before_threshold, threshold, before, after, report)


def _check_out(out: Path) -> None:
    if out.suffix != ".keras":
        raise ModelError(f"{out}: model files must end in .keras")
    if out.exists():
        raise AudioFuseError(f"{out}: already exists; choose a new file name (nothing is "
                             "overwritten)")
