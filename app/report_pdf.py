"""A one-page PDF report of one recording, written with Qt's own PDF writer (QPdfWriter).

The page holds what the user typed about the patient and the recording (:class:`ReportFields`),
the waveform / probability strip / spectrogram as the window shows them, the result, a summary
of the model's card and the disclaimer. The page is laid out as rich text in device units at the
writer's resolution and drawn once, so it is always exactly one page; a long note is cut, not
spilled onto a second page.
"""

from __future__ import annotations

import html
import os
import unicodedata
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMarginsF, QRectF, QUrl
from PySide6.QtGui import (
    QFont,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
    QTextLayout,
)

from audiofuse_core import __version__
from audiofuse_core.inference import unfamiliar_notice

from .colours import ABNORMAL, NORMAL, REFUSED
from .result_panel import (
    DISCLAIMER,
    opinions_text,
    probability_text,
    quality_reason,
    verdict_of,
)

RESOLUTION_DPI = 300
CSS_DPI = 96  # the unit of sizes in Qt's rich text
MARGIN_MM = 14.0
IMAGE_URL = QUrl("report://views.png")


@dataclass
class ReportFields:
    """What the user typed; every field may be empty."""

    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    recording_site: str = ""
    recorded_on: str = ""
    clinician: str = ""
    notes: str = ""

    LABELS = {"patient_name": "Patient", "patient_id": "Patient ID",
              "birth_date": "Date of birth", "recording_site": "Recording site",
              "recorded_on": "Recorded on", "clinician": "Clinician", "notes": "Notes"}

    def items(self) -> list[tuple[str, str]]:
        return [(self.LABELS[f.name], getattr(self, f.name)) for f in fields(self)]


def undrawable(text: str) -> str:
    """The characters of ``text`` that no font on this computer can draw: on the report they
    would print as empty boxes (a patient's name in Chinese where no Chinese font is installed).
    """
    font = QFont("sans-serif")  # the report's font; Qt falls back to any font that has a glyph
    missing = []
    for char in dict.fromkeys(text):
        category = unicodedata.category(char)
        if category in ("Cc", "Cf") or category[0] == "Z":  # line breaks, joiners, spaces
            continue
        layout = QTextLayout(char, font)
        layout.beginLayout()
        layout.createLine()
        layout.endLayout()
        if any(0 in run.glyphIndexes() for run in layout.glyphRuns()):  # glyph 0: the box
            missing.append(char)
    return "".join(missing)


def _pct(value: Any) -> str:
    return f"{100 * float(value):.0f} %" if isinstance(value, (int, float)) else "n/a"


def model_summary(metadata: dict[str, Any]) -> list[str]:
    """A few lines of the model's card: what it is, what it was trained on, how it did."""
    preset = metadata.get("preset") or {}
    data = metadata.get("data") or {}
    overall = (metadata.get("validation") or {}).get("overall") or {}
    lines = [f"{metadata.get('name', 'unnamed model')}, version "
             f"{metadata.get('version', 'unversioned')} (created "
             f"{str(metadata.get('created', 'unknown'))[:10]}); {metadata.get('kind', '?')} "
             f"model, {preset.get('sample_rate', '?')} Hz, {preset.get('window_seconds', '?')} s "
             "windows."]
    if data:
        lines.append(f"Trained on {', '.join(data.get('datasets', [])) or '?'}: "
                     f"{data.get('n_train', '?')} recordings; validated on "
                     f"{data.get('n_validation', '?')} held-out recordings of the same data set.")
    if overall:
        auc = overall.get("roc_auc")
        ci = ""
        if overall.get("roc_auc_low") is not None:
            ci = f" [{overall['roc_auc_low']:.2f}, {overall['roc_auc_high']:.2f}]"
        auc_text = f"{auc:.2f}{ci}" if isinstance(auc, (int, float)) else "n/a"
        lines.append(f"Validation: ROC-AUC {auc_text}, sensitivity "
                     f"{_pct(overall.get('sensitivity'))}, specificity "
                     f"{_pct(overall.get('specificity'))} at the threshold "
                     f"{float(metadata.get('threshold', 0.5)):.2f} (n = {overall.get('n', '?')}).")
    else:
        lines.append("No validation figures are recorded in this model file.")
    use = metadata.get("intended_use", "decision support, not a diagnosis.")
    lines.append(f"Intended use: {use}")
    return lines


def _result_html(prediction) -> str:
    if prediction is None:
        return "<p>Not classified.</p>"
    words, colour = verdict_of(prediction)
    parts = [f'<p style="font-size:16pt; font-weight:bold; color:{colour};">'
             f"{html.escape(words)}</p>"]
    if prediction.label in ("normal", "abnormal"):
        side = "at or above" if prediction.probability >= prediction.threshold else "below"
        windows = (f"{len(prediction.window_probabilities)} windows of "
                   f"{prediction.window_seconds:g} s")
        opinions = opinions_text(prediction)
        how = (f". {html.escape(opinions[:-1])}; {windows}." if opinions
               else f" (mean of {windows}).")
        parts.append(f"<p>Probability of abnormal <b>{probability_text(prediction.probability)}"
                     f"</b>, {side} "
                     f"the model's threshold of {prediction.threshold:.2f}{how}</p>")
        notice = unfamiliar_notice(prediction)
        if notice:
            parts.append(f'<p style="color:#78350f;"><b>Note.</b> {html.escape(notice)}</p>')
    else:
        reason = quality_reason(prediction) or "The recording is not good enough to classify."
        parts.append(f"<p>{html.escape(reason)} No normal/abnormal answer is given.</p>")
    details = [f"duration {prediction.duration:.1f} s",
               f"analysed at {prediction.sample_rate} Hz (file {prediction.original_rate} Hz)"]
    heart_rate = getattr(prediction, "heart_rate_bpm", None)
    if heart_rate is not None:
        details.append(f"heart rate {heart_rate:.0f} beats per minute")
    parts.append(f"<p>{'; '.join(details)}.</p>")
    return "".join(parts)


def report_html(fields_: ReportFields, prediction, metadata: dict[str, Any],
                recording_path: Path | None, image_width: int, *,
                created: datetime | None = None) -> str:
    """The page as rich text (the image is ``IMAGE_URL``, ``image_width`` pixels of 1/96 inch
    wide: Qt scales an image's HTML size to the paint device's resolution).
    """
    created = created or datetime.now()
    rows = "".join(
        f'<tr><td style="color:#4b5563; padding-right:12px;">{label}</td>'
        f"<td>{html.escape(value).replace(chr(10), '<br>') if value else '—'}</td></tr>"
        for label, value in fields_.items())
    file_row = (f'<tr><td style="color:#4b5563; padding-right:12px;">Recording file</td>'
                f"<td>{html.escape(str(recording_path)) if recording_path else '—'}</td></tr>")
    model = "".join(f"<li>{html.escape(line)}</li>" for line in model_summary(metadata))
    legend = (f'<span style="color:{NORMAL};">■</span> window below the threshold &nbsp; '
              f'<span style="color:{ABNORMAL};">■</span> at or above &nbsp; '
              f'<span style="color:{REFUSED};">■</span> recording refused (poor quality)')
    return f"""
<html><body style="font-family:sans-serif; font-size:9.5pt; color:#111827;">
<p style="font-size:17pt; font-weight:bold; margin-bottom:0;">AudioFuse heart-sound report</p>
<p style="color:#4b5563; margin-top:2px;">Created {created:%Y-%m-%d %H:%M} with AudioFuse
{__version__}</p>
<table cellspacing="0" cellpadding="2">{rows}{file_row}</table>
<p style="font-size:12pt; font-weight:bold; margin-top:10px;">Recording</p>
<img src="{IMAGE_URL.toString()}" width="{image_width}">
<p style="font-size:8pt; color:#4b5563;">Top: waveform. Middle: probability of abnormal per
analysis window (dashed line: the threshold). Bottom: spectrogram, 0 to 1000 Hz. {legend}</p>
<p style="font-size:12pt; font-weight:bold; margin-top:8px;">Result</p>
{_result_html(prediction)}
<p style="font-size:12pt; font-weight:bold; margin-top:8px;">Model</p>
<ul style="margin-top:0;">{model}</ul>
<p style="font-size:11pt; font-weight:bold; margin-top:10px;">{DISCLAIMER} The result supports,
and never replaces, a clinician's auscultation and judgement.</p>
</body></html>"""


def write_report(path: str | Path, fields_: ReportFields, prediction, metadata: dict[str, Any],
                 views: QImage, *, recording_path: Path | None = None,
                 created: datetime | None = None) -> Path:
    """Write the one-page A4 report to ``path``; returns it. The PDF is written beside it and
    checked whole (its end-of-file marker) before it replaces ``path``: a full disk leaves an
    earlier report of that name as it was and raises OSError.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        _write_pdf(partial, fields_, prediction, metadata, views, recording_path=recording_path,
                   created=created)
        if not _whole_pdf(partial):
            raise OSError(f"{path}: the PDF could not be written whole (is the disk full?)")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _whole_pdf(path: Path) -> bool:
    """Whether ``path`` is a PDF that was written to its end (``%%EOF`` in its last bytes)."""
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, path.stat().st_size - 1024))
            return b"%%EOF" in stream.read()
    except OSError:
        return False


def _write_pdf(path: Path, fields_: ReportFields, prediction, metadata: dict[str, Any],
               views: QImage, *, recording_path: Path | None, created: datetime | None) -> None:
    writer = QPdfWriter(str(path))
    writer.setResolution(RESOLUTION_DPI)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait,
                                     QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
                                     QPageLayout.Unit.Millimeter))
    name = recording_path.name if recording_path else "recording"
    writer.setTitle(f"AudioFuse report: {name}")
    writer.setCreator(f"AudioFuse {__version__}")
    page = writer.pageLayout().paintRectPixels(RESOLUTION_DPI)
    width, height = page.width(), page.height()

    document = QTextDocument()
    document.documentLayout().setPaintDevice(writer)
    document.setTextWidth(width)
    document.setDocumentMargin(0)
    # An <img width> counts in 1/96 inch, whatever the writer's resolution: the image filled
    # three page widths and pushed the result and the disclaimer off the page before this.
    image_width = int(width * CSS_DPI / writer.logicalDpiX())
    if not views.isNull():
        document.addResource(QTextDocument.ResourceType.ImageResource, IMAGE_URL, views)
    for _ in range(4):  # shrink the image until the page fits on one page
        document.setHtml(report_html(fields_, prediction, metadata, recording_path, image_width,
                                     created=created))
        if document.size().height() <= height:
            break
        image_width = int(image_width * 0.85)

    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"{path.parent}: cannot write the PDF there (is the folder writable?)")
    try:
        document.drawContents(painter, QRectF(0, 0, width, height))
    finally:
        ended = painter.end()
    del painter, writer  # the file is complete and closed once the writer is gone
    if not ended:
        raise OSError(f"{path}: the PDF could not be written")
