"""The rows of the results table and their CSV export. Qt-free.

One :class:`BatchRow` per recording of a batch: waiting, classifying, done (with the answer),
failed (with the one-line reason) or cancelled. :func:`write_csv` saves the rows as they are, for
a spreadsheet: one line per recording, probabilities with six decimals, the reason in a column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from audiofuse_core.atomic import atomic_write_text
from audiofuse_core.inference import unfamiliar_notice

WAITING = "waiting"
CLASSIFYING = "classifying…"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"

CSV_COLUMNS = ("file", "path", "duration_s", "result", "probability_abnormal", "threshold",
               "heart_rate_bpm", "status", "reason", "model", "model_version", "note")


@dataclass
class BatchRow:
    """One recording of a batch and what became of it."""

    path: Path
    status: str = WAITING
    duration: float | None = None
    label: str | None = None  # normal, abnormal, poor-quality
    probability: float | None = None
    threshold: float | None = None
    heart_rate_bpm: float | None = None
    reason: str = ""
    note: str = ""  # the recording is unlike the model's training recordings
    model: str = ""
    model_version: str = ""
    request_id: int | None = None
    prediction: object = None  # the core's Prediction, kept to show the row's recording

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def result_text(self) -> str:
        """The result in words, as the table shows it."""
        if self.status == FAILED:  # unreadable, or readable but not classifiable (too short)
            return "Not classified"
        if self.label == "poor-quality":
            return "Poor quality"
        return (self.label or "").capitalize()

    @property
    def status_text(self) -> str:
        if self.status == FAILED and self.reason:
            return f"{FAILED}: {self.reason}"
        if self.status == DONE and self.note:
            return f"{DONE}: unlike the training recordings"
        return self.status

    def set_prediction(self, prediction) -> None:
        self.prediction = prediction
        self.status = DONE
        self.duration = float(prediction.duration)
        self.label = prediction.label
        self.probability = float(prediction.probability)
        self.threshold = float(prediction.threshold)
        self.heart_rate_bpm = getattr(prediction, "heart_rate_bpm", None)
        quality = getattr(prediction, "quality", None)
        self.reason = getattr(quality, "reason", "") if prediction.label == "poor-quality" else ""
        self.note = unfamiliar_notice(prediction) or ""
        self.model = prediction.model_name
        self.model_version = prediction.model_version

    def set_failed(self, reason: str) -> None:
        self.status = FAILED
        self.reason = reason

    def csv_row(self) -> dict[str, str]:
        def number(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        return {
            "file": self.name, "path": str(self.path), "duration_s": number(self.duration, 3),
            "result": self.label or "", "probability_abnormal": number(self.probability, 6),
            "threshold": number(self.threshold, 6),
            "heart_rate_bpm": number(self.heart_rate_bpm, 1), "status": self.status,
            "reason": self.reason, "model": self.model, "model_version": self.model_version,
            "note": self.note,
        }


def write_csv(rows: list[BatchRow], path: str | Path) -> Path:
    """Save ``rows`` (in the order given) as CSV with a header line; returns the path. Written
    beside it, then renamed over it: a failure leaves an earlier file of that name whole.
    """
    path = Path(path)
    stream = io.StringIO(newline="")
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row.csv_row())
    atomic_write_text(path, stream.getvalue(), newline="")
    return path
