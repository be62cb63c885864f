"""Evaluate a model on labelled recordings: recording-level metrics, overall and per subset.

Every recording is classified on all its windows (the :class:`Classifier` path, exactly as a
clinician's file would be); a recording that cannot be read is listed with its reason and left
out of the metrics, never a crash. A recording the quality gate refuses (the program gives it no
normal/abnormal answer, only the reason) is scored like the others, so that the figures measure
the model on every readable recording, and marked: the report also gives the figures on the
recordings the gate accepts, the answers a clinician would actually be shown.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write_text
from .datasets import CLASS_NAMES, Record
from .errors import AudioFuseError
from .inference import POOR_QUALITY
from .metrics import binary_metrics, roc_curve

#: the files :meth:`EvaluationReport.write` writes
REPORT_FILES = ("report.json", "report.md", "predictions.csv")


@dataclass
class RecordResult:
    record: Record
    probability: float | None
    predicted: str | None
    error: str | None = None
    refused: str | None = None  # the quality gate's reason when it refused the recording
    unfamiliar: bool = False  # unlike the model's training recordings (inference.unfamiliar_notice)


@dataclass
class EvaluationReport:
    model_name: str
    model_version: str
    model_path: str
    threshold: float
    overall: dict[str, Any]
    per_subset: dict[str, dict[str, Any]]
    results: list[RecordResult] = field(default_factory=list)
    cancelled: bool = False
    # on the recordings the quality gate accepted: {"refused": count, "overall": metrics,
    # "per_subset": {...}}; None when it refused none (the figures above are then those)
    accepted: dict[str, Any] | None = None

    @property
    def failed(self) -> list[RecordResult]:
        return [r for r in self.results if r.error is not None]

    def scored(self) -> tuple[np.ndarray, np.ndarray]:
        ok = [r for r in self.results if r.error is None]
        return (np.array([r.record.label for r in ok]),
                np.array([r.probability for r in ok], dtype=np.float64))

    def roc(self):
        labels, scores = self.scored()
        return roc_curve(labels, scores)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name, "model_version": self.model_version,
            "model_path": self.model_path, "threshold": self.threshold,
            "overall": self.overall, "per_subset": self.per_subset,
            "cancelled": self.cancelled, "accepted_by_quality_gate": self.accepted,
            "recordings": [
                {"path": str(r.record.path), "subset": r.record.subset,
                 "label": CLASS_NAMES[r.record.label],
                 "probability": r.probability, "predicted": r.predicted, "error": r.error,
                 "refused_by_quality_gate": r.refused, "unfamiliar": r.unfamiliar}
                for r in self.results
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def to_markdown(self) -> str:
        lines = [f"# Evaluation of {self.model_name} ({self.model_version})", ""]
        lines.append(f"Decision threshold {self.threshold:.3f}. Recording-level metrics; "
                     "ROC-AUC with a 95 % bootstrap interval.")
        lines.append("")
        lines.append(metrics_table([("all", self.overall)]
                                   + sorted(self.per_subset.items())))
        if self.accepted is not None:
            count = self.accepted["refused"]
            lines += ["", f"The quality gate refused {count} of {len(self.scored()[0])} "
                      "recordings (the program gives them no normal/abnormal answer, only the "
                      "reason; they are scored above). On the recordings it accepted:", ""]
            lines.append(metrics_table([("accepted", self.accepted["overall"])]
                                       + sorted(self.accepted["per_subset"].items())))
        unfamiliar = sum(r.unfamiliar for r in self.results if r.error is None)
        if unfamiliar:
            lines += ["", f"{unfamiliar} of {len(self.scored()[0])} recordings are unlike the "
                      "model's training recordings (their heart-cycle figures lie further from "
                      "theirs than the model's limit): when many are, the folder is a device, "
                      "site or population the model has not heard, and these figures are the "
                      "ones to trust there, not the model card's."]
        if self.failed:
            lines += ["", f"{len(self.failed)} recording(s) could not be scored:", ""]
            lines += [f"- {r.record.path.name}: {r.error}" for r in self.failed]
        if self.cancelled:
            lines += ["", "The evaluation was cancelled: the figures cover part of the data."]
        return "\n".join(lines) + "\n"

    def write(self, folder: str | Path) -> list[Path]:
        """report.json, report.md and predictions.csv in ``folder`` (made if missing; each file
        written whole or not at all). Raises AudioFuseError when the folder cannot be written.
        """
        folder = check_report_folder(folder)
        stream = io.StringIO(newline="")
        writer = csv.writer(stream)
        writer.writerow(["path", "subset", "label", "probability", "predicted", "error",
                         "refused_by_quality_gate", "unfamiliar"])
        for r in self.results:
            writer.writerow([r.record.path, r.record.subset, CLASS_NAMES[r.record.label],
                             "" if r.probability is None else f"{r.probability:.6f}",
                             r.predicted or "", r.error or "", r.refused or "",
                             "yes" if r.unfamiliar else ""])
        texts = dict(zip(REPORT_FILES, (self.to_json(), self.to_markdown(),
                                        stream.getvalue()), strict=True))
        paths = []
        for name, text in texts.items():
            path = folder / name
            try:
                atomic_write_text(path, text, newline="")
            except OSError as exc:
                raise AudioFuseError(f"{path}: the report cannot be written "
                                     f"({exc.strerror or exc})") from None
            paths.append(path)
        return paths


def check_report_folder(folder: str | Path) -> Path:
    """``folder``, made if missing; AudioFuseError when it is a file or cannot be made (checked
    before an evaluation starts, so that no scoring is lost to it).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AudioFuseError(f"{folder} is a file, not a folder: the report needs a folder "
                             f"(it writes report.json, report.md and predictions.csv there)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioFuseError(f"{folder}: the report folder cannot be made "
                             f"({exc.strerror or exc})") from None
    return folder


def metrics_table(rows: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """A Markdown table of metric dicts (from BinaryMetrics.to_dict)."""
    head = ("| part | n (abnormal) | ROC-AUC [95 % CI] | MCC | F1 abn. | sens. | spec. | "
            "bal. acc. | acc. |")
    out = [head, "|---|---|---|---|---|---|---|---|---|"]
    for name, m in rows:
        out.append(
            f"| {name} | {m['n']} ({m['n_abnormal']}) | {fmt(m['roc_auc'])} "
            f"[{fmt(m['roc_auc_low'])}, {fmt(m['roc_auc_high'])}] | {fmt(m['mcc'])} | "
            f"{fmt(m['f1_abnormal'])} | {fmt(m['sensitivity'])} | {fmt(m['specificity'])} | "
            f"{fmt(m['balanced_accuracy'])} | {fmt(m['accuracy'])} |")
    return "\n".join(out)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def evaluate(classifier, records: Sequence[Record], *, threshold: float | None = None,
             bootstrap: int = 1000,
             progress: Callable[[int, int, RecordResult], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> EvaluationReport:
    """Score ``records`` with ``classifier`` (a :class:`Classifier` or a model path)."""
    if not hasattr(classifier, "predict_file"):
        from .inference import Classifier

        classifier = Classifier(classifier)
    threshold = classifier.threshold if threshold is None else float(threshold)
    results: list[RecordResult] = []
    cancelled = False
    for i, record in enumerate(records):
        if should_stop is not None and should_stop():
            cancelled = True
            break
        try:
            prediction = classifier.predict_file(record.path)
        except AudioFuseError as exc:
            result = RecordResult(record, None, None, str(exc))
        else:
            refused = None
            if prediction.quality is not None and prediction.label == POOR_QUALITY:
                refused = prediction.quality.reason
            familiarity = prediction.extra.get("familiarity") or {}
            result = RecordResult(record, prediction.probability,
                                  "abnormal" if prediction.probability >= threshold
                                  else "normal", refused=refused,
                                  unfamiliar=bool(familiarity.get("unfamiliar")))
        results.append(result)
        if progress is not None:
            progress(i + 1, len(records), result)
    return summarise(results, classifier.name, classifier.version, str(classifier.path),
                     threshold, bootstrap=bootstrap, cancelled=cancelled)


def summarise(results: list[RecordResult], name: str, version: str, path: str,
              threshold: float, *, bootstrap: int = 1000, cancelled: bool = False
              ) -> EvaluationReport:
    ok = [r for r in results if r.error is None]
    overall, per_subset = _figures(ok, threshold, bootstrap)
    accepted = None
    refused = sum(r.refused is not None for r in ok)
    if refused:
        kept = _figures([r for r in ok if r.refused is None], threshold, bootstrap)
        accepted = {"refused": refused, "overall": kept[0], "per_subset": kept[1]}
    return EvaluationReport(name, version, path, threshold, overall, per_subset, results,
                            cancelled, accepted)


def _figures(ok: list[RecordResult], threshold: float, bootstrap: int
             ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The metrics of scored results, overall and per subset."""
    labels = np.array([r.record.label for r in ok], dtype=int)
    scores = np.array([r.probability for r in ok], dtype=np.float64)
    overall = binary_metrics(labels, scores, threshold, bootstrap=bootstrap).to_dict()
    per_subset = {}
    for subset in sorted({r.record.subset for r in ok}):
        mask = np.array([r.record.subset == subset for r in ok])
        per_subset[subset] = binary_metrics(labels[mask], scores[mask], threshold,
                                            bootstrap=bootstrap).to_dict()
    return overall, per_subset
