"""The report of one evaluation: metrics with intervals, ROC curve with the operating point,
confusion matrix with labelled axes, and the sortable table of recordings.

A view only: it draws an :class:`~audiofuse_core.evaluation.EvaluationReport` made by the core
and computes nothing but what to draw. Double-clicking a recording emits
:attr:`EvaluationView.recording_activated` with its path (the panel passes it to the main
window's viewer). Exports: Markdown and CSV (the core's report writers), plots as PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from audiofuse_core.datasets import CLASS_NAMES
from audiofuse_core.evaluation import REPORT_FILES, EvaluationReport, fmt

from .. import colours

METRIC_COLUMNS = (
    ("part", None), ("n (abn.)", None), ("ROC-AUC [95 % CI]", None), ("sensitivity", "sensitivity"),
    ("specificity", "specificity"), ("bal. acc.", "balanced_accuracy"), ("MCC", "mcc"),
    ("F1 abn.", "f1_abnormal"), ("accuracy", "accuracy"),
)


class NumericItem(QTableWidgetItem):
    """A table cell that sorts by a number, not by its text."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.value = value

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, NumericItem):
            return self.value < other.value
        return super().__lt__(other)


def auc_text(metrics: dict) -> str:
    return (f"{fmt(metrics.get('roc_auc'))} [{fmt(metrics.get('roc_auc_low'))}, "
            f"{fmt(metrics.get('roc_auc_high'))}]")


def fill_metrics_table(table: QTableWidget, rows: list[tuple[str, dict]]) -> None:
    table.clear()
    table.setColumnCount(len(METRIC_COLUMNS))
    table.setHorizontalHeaderLabels([c for c, _ in METRIC_COLUMNS])
    table.setRowCount(len(rows))
    for r, (name, m) in enumerate(rows):
        cells = [name, f"{m.get('n', 0)} ({m.get('n_abnormal', 0)})", auc_text(m)]
        cells += [fmt(m.get(key)) for _, key in METRIC_COLUMNS[3:]]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            if r == 0:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
    height = table.horizontalHeader().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(min(height + 2, 260))


def make_roc_plot() -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setLabel("bottom", "1 - specificity (false-positive rate)")
    plot.setLabel("left", "sensitivity (true-positive rate)")
    plot.setXRange(0, 1, padding=0.02)
    plot.setYRange(0, 1, padding=0.02)
    plot.setLimits(xMin=-0.02, xMax=1.02, yMin=-0.02, yMax=1.02)
    plot.setMouseEnabled(x=False, y=False)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.addLegend(offset=(-10, -10))
    plot.plot([0, 1], [0, 1], pen=pg.mkPen("#9ca3af", style=Qt.PenStyle.DashLine))
    return plot


def add_roc(plot: pg.PlotWidget, report: EvaluationReport, colour: str, label: str) -> None:
    """The report's ROC curve and its operating point (the model's threshold)."""
    labels, scores = report.scored()
    if len(set(labels.tolist())) < 2:
        return
    fpr, tpr, _ = report.roc()
    plot.plot(fpr, tpr, pen=pg.mkPen(colour, width=2),
              name=f"{label} (AUC {fmt(report.overall.get('roc_auc'))})")
    sens, spec = report.overall.get("sensitivity"), report.overall.get("specificity")
    if sens is not None and spec is not None:
        plot.plot([1 - spec], [sens], pen=None, symbol="o", symbolSize=11,
                  symbolBrush=colour, symbolPen="k",
                  name=f"operating point (threshold {report.threshold:.2f})")


class ConfusionMatrix(QWidget):
    """2 x 2 counts with the true class down the side and the predicted class across the top."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setSpacing(2)
        title = QLabel("<b>Confusion matrix</b> (recordings)")
        grid.addWidget(title, 0, 0, 1, 4)
        grid.setColumnStretch(4, 1)
        grid.setRowStretch(5, 1)
        across = QLabel("predicted")
        across.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(across, 1, 2, 1, 2)
        down = QLabel("true")
        down.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(down, 3, 0, 2, 1)
        self.cells: dict[tuple[int, int], QLabel] = {}
        for j, name in enumerate(CLASS_NAMES):
            head = QLabel(name)
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(head, 2, 2 + j)
            side = QLabel(name)
            side.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(side, 3 + j, 1)
        for i in range(2):
            for j in range(2):
                cell = QLabel("-")
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setMinimumSize(90, 48)
                grid.addWidget(cell, 3 + i, 2 + j)
                self.cells[(i, j)] = cell

    def set_counts(self, m: dict) -> None:
        counts = {(0, 0): m.get("tn", 0), (0, 1): m.get("fp", 0),
                  (1, 0): m.get("fn", 0), (1, 1): m.get("tp", 0)}
        total = max(1, sum(counts.values()))
        for (i, j), n in counts.items():
            correct = i == j
            share = n / total
            base = QColor(colours.NORMAL if correct else colours.ABNORMAL)
            base.setAlphaF(0.15 + 0.6 * share)
            self.cells[(i, j)].setText(f"<b>{n}</b><br>{'correct' if correct else 'wrong'}")
            self.cells[(i, j)].setStyleSheet(
                f"background: rgba({base.red()},{base.green()},{base.blue()},"
                f"{base.alphaF():.2f}); border: 1px solid #999;")

    def value(self, true: int, predicted: int) -> int:
        text = self.cells[(true, predicted)].text()
        return int(text.split("</b>")[0].removeprefix("<b>"))


class EvaluationView(QWidget):
    """One evaluation report; see the module docstring."""

    recording_activated = Signal(str)  # path of a double-clicked recording

    RECORD_COLUMNS = ("recording", "subset", "true label", "P(abnormal)", "predicted", "result")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: EvaluationReport | None = None
        self.title = QLabel("No evaluation yet.")
        self.title.setWordWrap(True)
        self.metrics = QTableWidget(0, len(METRIC_COLUMNS))
        self.metrics.setHorizontalHeaderLabels([c for c, _ in METRIC_COLUMNS])
        self.metrics.resizeColumnsToContents()  # the headers readable before the first report
        self.metrics.verticalHeader().hide()
        self.metrics.setMaximumHeight(150)
        self.roc = make_roc_plot()
        self.roc.setMinimumSize(300, 260)
        self.roc.setMaximumWidth(520)
        self.confusion = ConfusionMatrix()
        self.records = QTableWidget(0, len(self.RECORD_COLUMNS))
        self.records.setHorizontalHeaderLabels(self.RECORD_COLUMNS)
        self.records.verticalHeader().hide()
        self.records.setSortingEnabled(True)
        self.records.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.records.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.records.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.records.horizontalHeader().setStretchLastSection(True)
        self.records.cellDoubleClicked.connect(self._on_records_double_clicked)
        self.records.setToolTip("Double-click a recording to open it in the viewer.")

        plots = QWidget()
        plots_layout = QHBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.roc, 1)
        plots_layout.addWidget(self.confusion, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(plots)
        splitter.addWidget(self.records)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.metrics)
        layout.addWidget(splitter, 1)

    def show_report(self, report: EvaluationReport) -> None:
        self.report = report
        failed = len(report.failed)
        text = (f"<b>{report.model_name}</b> ({report.model_version}) on "
                f"{len(report.results) - failed} recordings; decision threshold "
                f"{report.threshold:.3f}.")
        if failed:
            text += f" {failed} recording(s) could not be scored (listed below)."
        accepted = report.accepted
        if accepted is not None:
            text += (f" The quality gate refused {accepted['refused']} of them (no answer in "
                     "the program; scored in the table, marked below): the last row is the "
                     "recordings it accepted.")
        if report.cancelled:
            text += " <b>Cancelled: the figures cover part of the data.</b>"
        self.title.setText(text)
        rows = [("all", report.overall)] + sorted(report.per_subset.items())
        if accepted is not None:
            rows.append(("accepted by the quality gate", accepted["overall"]))
        fill_metrics_table(self.metrics, rows)
        self.roc.clear()
        self.roc.plot([0, 1], [0, 1], pen=pg.mkPen("#9ca3af", style=Qt.PenStyle.DashLine))
        add_roc(self.roc, report, colours.CURSOR, report.model_name)
        self.confusion.set_counts(report.overall)
        self._fill_records(report)

    def _fill_records(self, report: EvaluationReport) -> None:
        self.records.setSortingEnabled(False)
        self.records.setRowCount(len(report.results))
        shade = QColor(colours.ABNORMAL)
        shade.setAlpha(45)
        wrong = QBrush(shade)
        for row, result in enumerate(report.results):
            record = result.record
            truth = CLASS_NAMES[record.label]
            if result.error:
                verdict, probability = f"error: {result.error}", math.nan
            else:
                verdict = "correct" if result.predicted == truth else "misclassified"
                probability = float(result.probability)
                if result.refused:
                    verdict += " (refused by the quality gate)"
            cells = [QTableWidgetItem(record.path.name), QTableWidgetItem(record.subset),
                     QTableWidgetItem(truth),
                     NumericItem("" if math.isnan(probability) else f"{probability:.3f}",
                                 -1.0 if math.isnan(probability) else probability),
                     QTableWidgetItem(result.predicted or "-"), QTableWidgetItem(verdict)]
            cells[0].setData(Qt.ItemDataRole.UserRole, str(record.path))
            cells[0].setToolTip(str(record.path))
            if result.refused:
                cells[5].setToolTip(f"Refused by the quality gate: {result.refused}")
            for column, item in enumerate(cells):
                if verdict.startswith("misclassified") or result.error:
                    item.setBackground(wrong)
                self.records.setItem(row, column, item)
        self.records.setSortingEnabled(True)
        self.records.sortItems(3, Qt.SortOrder.DescendingOrder)
        self.records.resizeColumnsToContents()

    def _on_records_double_clicked(self, row: int, _column: int) -> None:
        item = self.records.item(row, 0)
        if item is not None:
            self.recording_activated.emit(str(item.data(Qt.ItemDataRole.UserRole)))

    # -- export -------------------------------------------------------------------------------
    EXPORT_NAMES = (*REPORT_FILES, "roc.png", "confusion.png")

    def export(self, folder: str | Path) -> list[Path]:
        """report.md, report.json, predictions.csv, roc.png and confusion.png in ``folder``."""
        if self.report is None:
            raise RuntimeError("nothing to export: no evaluation yet")
        folder = Path(folder)
        paths = self.report.write(folder)
        paths.append(self.save_plot(self.roc, folder / "roc.png"))
        paths.append(self.save_plot(self.confusion, folder / "confusion.png"))
        return paths

    @staticmethod
    def save_plot(widget: QWidget, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not widget.grab().save(str(path), "PNG"):
            raise OSError(f"{path}: could not write the image")
        return path
