"""The result panel: the answer for the recording on screen, in words, colour and numbers.

It shows the verdict (Normal / Abnormal, or Poor quality when the core's quality gate refused the
recording: then the reason and no probability, as :class:`~audiofuse_core.inference.Prediction`
asks), the probability of "abnormal" against the model's threshold on a bar, the model's name
and version, the recording's duration and the rate the model used, and the line "Decision support
only: not a diagnosis." The signal-quality fields (``quality``, ``heart_rate_bpm``) are read with
``getattr`` so that a Prediction without them still shows.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from audiofuse_core.inference import unfamiliar_notice

from .colours import ABNORMAL, ERROR, NORMAL, REFUSED

DISCLAIMER = "Decision support only: not a diagnosis."
VERDICTS = {"normal": ("Normal", NORMAL), "abnormal": ("Abnormal", ABNORMAL)}


def verdict_of(prediction) -> tuple[str, str]:
    """(words, colour) for a prediction's label; anything else is a refused recording."""
    return VERDICTS.get(prediction.label, ("Poor quality: record again", REFUSED))


def quality_reason(prediction) -> str | None:
    quality = getattr(prediction, "quality", None)
    reason = getattr(quality, "reason", "") if quality is not None else ""
    return reason or None


def probability_text(probability: float) -> str:
    """The probability with two decimals, but never a certainty the model does not have:
    "above 0.99" rather than 1.00, "below 0.01" rather than 0.00.
    """
    if probability >= 0.995:
        return "above 0.99"
    if probability < 0.005:
        return "below 0.01"
    return f"{probability:.2f}"


def opinions_text(prediction) -> str:
    """How the probability was formed when the model carries a heart-cycle expert, else ""."""
    extra = getattr(prediction, "extra", None) or {}
    if "feature_expert_probability" not in extra:
        return ""
    opinions = (f"the recording's sound, window by window "
                f"({extra['network_probability']:.2f}), and its heart-cycle figures "
                f"({extra['feature_expert_probability']:.2f})")
    if "mean_probability" in extra:
        return (f"It combines {opinions}: their mean, {extra['mean_probability']:.2f}, "
                "recalibrated on the validation recordings.")
    return f"It averages {opinions}."


def label_left(mark: float, width: float, free_from: float, free_to: float,
               gap: float = 6.0) -> float:
    """Where a label ``width`` wide starts: centred under ``mark``, but kept inside
    [``free_from`` + gap, ``free_to`` - gap] (clear of the bar's "0" and "1").
    """
    return min(max(mark - width / 2, free_from + gap), free_to - gap - width)


class ProbabilityBar(QWidget):
    """A 0-1 bar filled to the probability, with the threshold marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probability: float | None = None
        self.threshold = 0.5
        self.colour = QColor(REFUSED)
        self.setMinimumHeight(37)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(240, 37)

    def set_value(self, probability: float | None, threshold: float, colour: str) -> None:
        self.probability = probability
        self.threshold = threshold
        self.colour = QColor(colour)
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QRectF(1, 4, self.width() - 2, 16)
        painter.setPen(QPen(QColor("#9ca3af"), 1))
        painter.setBrush(QColor("#f3f4f6"))
        painter.drawRoundedRect(bar, 3, 3)
        if self.probability is not None:
            filled = QRectF(bar.left(), bar.top(), bar.width() * self.probability, bar.height())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.colour)
            painter.drawRoundedRect(filled, 3, 3)
        x = bar.left() + bar.width() * self.threshold
        painter.setPen(QPen(QColor("#111827"), 2))
        painter.drawLine(int(x), int(bar.top()) - 3, int(x), int(bar.bottom()) + 2)
        font = painter.font()
        font.setPointSizeF(max(font.pointSizeF() * 0.8, 7))
        painter.setFont(font)
        painter.setPen(QColor("#374151"))
        painter.drawText(QRectF(bar.left(), bar.bottom() + 3, 40, 13),
                         Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRectF(bar.right() - 40, bar.bottom() + 3, 40, 13),
                         Qt.AlignmentFlag.AlignRight, "1")
        label = f"threshold {self.threshold:.2f}"
        metrics = QFontMetricsF(font)
        width = metrics.horizontalAdvance(label)
        left = label_left(x, width, bar.left() + metrics.horizontalAdvance("0"),
                          bar.right() - metrics.horizontalAdvance("1"))
        painter.drawText(QRectF(left, bar.bottom() + 3, width + 1, 13),
                         Qt.AlignmentFlag.AlignLeft, label)
        painter.end()


class ResultPanel(QWidget):
    """The answer for one recording, or what is happening instead."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prediction = None
        self.setMinimumWidth(260)
        self.verdict = QLabel()
        self.verdict.setObjectName("verdict")
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 2.0)
        big.setBold(True)
        self.verdict.setFont(big)
        self.verdict.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = ProbabilityBar()
        # the recording is unlike the model's training recordings: the answer is less reliable
        self.notice = QLabel()
        self.notice.setObjectName("unfamiliar")
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setStyleSheet("color: #78350f; background: #fef3c7; border: 1px solid "
                                  "#f59e0b; border-radius: 3px; padding: 4px;")
        self.notice.setVisible(False)
        self.details = QFormLayout()
        self.details.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.fields: dict[str, QLabel] = {}
        for key, label in (("file", "Recording"), ("duration", "Duration"),
                           ("rate", "Sample rate"), ("heart_rate", "Heart rate"),
                           ("quality", "Signal quality"), ("model", "Model")):
            value = QLabel()
            value.setObjectName(f"field_{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = value
            self.details.addRow(label + ":", value)
        self.disclaimer = QLabel(DISCLAIMER)
        self.disclaimer.setObjectName("disclaimer")
        self.disclaimer.setWordWrap(True)
        self.disclaimer.setStyleSheet("color: #374151; font-style: italic;")

        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict)
        layout.addWidget(self.summary)
        layout.addWidget(self.bar)
        layout.addWidget(self.notice)
        layout.addSpacing(6)
        layout.addLayout(self.details)
        layout.addStretch(1)
        layout.addWidget(self.disclaimer)
        self.show_message("No recording open.")

    # -- states ------------------------------------------------------------------------------
    def show_message(self, text: str, *, error: bool = False) -> None:
        """No answer to show: a state ("Classifying…") or a one-line reason (``error``)."""
        self.prediction = None
        self.verdict.setText("Not classified" if error else "")
        self.verdict.setStyleSheet(f"color: {ERROR};" if error else "")
        self.verdict.setVisible(error)
        self.summary.setText(text)
        self.summary.setStyleSheet(f"color: {ERROR};" if error else "color: #374151;")
        self.bar.setVisible(False)
        self.notice.setVisible(False)
        for key, value in self.fields.items():
            if key not in ("file", "duration", "model"):
                value.clear()

    def show_recording(self, path: Path | None, duration: float | None,
                       original_rate: int | None) -> None:
        """What is known before the model answers."""
        self.fields["file"].setText(path.name if path is not None else "")
        self.fields["file"].setToolTip(str(path) if path is not None else "")
        self.fields["duration"].setText(f"{duration:.1f} s" if duration is not None else "")
        self.fields["rate"].setText(f"{original_rate} Hz (file)" if original_rate else "")

    def show_model(self, name: str, version: str) -> None:
        self.fields["model"].setText(f"{name}, version {version}")

    def show_prediction(self, prediction) -> None:
        """The answer for a recording."""
        self.prediction = prediction
        words, colour = verdict_of(prediction)
        self.verdict.setText(words)
        self.verdict.setStyleSheet(f"color: {colour};")
        self.verdict.setVisible(True)
        refused = prediction.label not in VERDICTS
        reason = quality_reason(prediction)
        if refused:
            self.summary.setText((reason or "The recording is not good enough to classify.")
                                 + " No normal/abnormal answer is given for it.")
            self.summary.setStyleSheet("color: #374151;")
            self.bar.setVisible(False)
        else:
            side = "at or above" if prediction.probability >= prediction.threshold else "below"
            opinions = opinions_text(prediction)
            self.summary.setText(
                f"Probability of abnormal {probability_text(prediction.probability)}, {side} "
                f"the model's "
                f"threshold of {prediction.threshold:.2f}." + (f" {opinions}" if opinions else ""))
            self.summary.setStyleSheet("color: #111827;")
            self.bar.set_value(prediction.probability, prediction.threshold, colour)
            self.bar.setVisible(True)
        notice = unfamiliar_notice(prediction)
        self.notice.setText(notice or "")
        self.notice.setVisible(notice is not None)
        path = getattr(prediction, "path", None)
        self.show_recording(Path(path) if path else None, prediction.duration,
                            prediction.original_rate)
        self.fields["rate"].setText(f"analysed at {prediction.sample_rate} Hz "
                                    f"(file {prediction.original_rate} Hz)")
        heart_rate = getattr(prediction, "heart_rate_bpm", None)
        cycles = getattr(prediction, "cycles", None)
        count = cycles.cycle_count if cycles is not None else 0
        if heart_rate is None:
            self.fields["heart_rate"].setText("not measured")
        else:
            found = f" (from {count} heart cycles)" if count else ""
            self.fields["heart_rate"].setText(f"{heart_rate:.0f} beats per minute{found}")
        if getattr(prediction, "quality", None) is None:
            self.fields["quality"].setText("not assessed")
        else:
            self.fields["quality"].setText(reason or "acceptable")
        self.show_model(prediction.model_name, prediction.model_version)
