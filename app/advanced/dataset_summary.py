"""What a scanned data-set folder holds, and whether a model can be trained on it (no Qt).

:func:`summarise_scan` turns the core's :class:`~audiofuse_core.datasets.ScanResult` into the
figures the Data tab shows (recordings per subset and label, sample rates, durations, skipped
files with their reasons) and one plain-language reason why training cannot start, or ``None``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audiofuse_core.datasets import CLASS_NAMES, ScanResult

MIN_PER_CLASS = 2  # one for training and one for validation, per class


@dataclass
class DatasetSummary:
    folders: list[Path]
    layout: str
    n_records: int
    per_label: dict[str, int]
    per_subset: dict[str, dict[str, int]]
    sample_rates: dict[int, int]  # rate: number of recordings
    durations: tuple[float, float, float] | None  # min, median, max in seconds
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    problem: str | None = None  # why training cannot start; None when it can

    @property
    def trainable(self) -> bool:
        return self.problem is None

    def headline(self) -> str:
        parts = [f"{self.n_records} recordings ({self.layout} layout): "
                 f"{self.per_label.get('normal', 0)} normal, "
                 f"{self.per_label.get('abnormal', 0)} abnormal"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} file(s) skipped")
        return "; ".join(parts)


def summarise_scan(result: ScanResult, folders: list[Path] | None = None) -> DatasetSummary:
    records = result.records
    per_label = Counter(CLASS_NAMES[r.label] for r in records)
    rates = Counter(r.sample_rate for r in records if r.sample_rate)
    lengths = [r.duration for r in records if r.duration]
    durations = (float(np.min(lengths)), float(np.median(lengths)), float(np.max(lengths))) \
        if lengths else None
    skipped = [(str(s.path), s.reason) for s in result.skipped]
    summary = DatasetSummary(folders or [result.root], result.layout, len(records),
                             dict(per_label), result.counts(), dict(sorted(rates.items())),
                             durations, skipped)
    summary.problem = training_problem(summary)
    return summary


def training_problem(summary: DatasetSummary) -> str | None:
    """One sentence saying why no model can be trained on this data, or ``None``."""
    if summary.n_records == 0:
        if not summary.skipped:
            return "No recordings found: the folder holds no audio files we can read."
        reasons = Counter(_reason_kind(reason) for _, reason in summary.skipped)
        top = ", ".join(f"{n} {kind}" for kind, n in reasons.most_common(3))
        return (f"No usable labelled recordings: all {len(summary.skipped)} file(s) were "
                f"skipped ({top}). See the list of skipped files.")
    for label in CLASS_NAMES:
        if summary.per_label.get(label, 0) == 0:
            other = "abnormal" if label == "normal" else "normal"
            return (f"Only one class: every recording is labelled '{other}'. Training needs "
                    "both normal and abnormal recordings.")
    for label in CLASS_NAMES:
        if summary.per_label.get(label, 0) < MIN_PER_CLASS:
            return (f"Too few '{label}' recordings ({summary.per_label.get(label, 0)}): at "
                    f"least {MIN_PER_CLASS} are needed, one to train on and one to validate.")
    return None


def _reason_kind(reason: str) -> str:
    text = reason.lower()
    if "no label" in text or "not listed" in text or "neither normal" in text \
            or "unknown label" in text or "unlabelled" in text:
        return "without a label"
    if "not readable" in text or "no audio samples" in text or "cannot read" in text:
        return "unreadable"
    return "for other reasons"
