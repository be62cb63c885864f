"""The results table of a batch: fills in as each recording is classified.

:class:`BatchModel` holds the :class:`~app.batch_results.BatchRow` list (a Qt item model on it);
:class:`BatchPanel` shows it sortable (numbers sort as numbers) with the progress, a Cancel
button, CSV export and Clear. Selecting a row asks the window to open that recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .batch_results import CANCELLED, CLASSIFYING, DONE, FAILED, WAITING, BatchRow
from .colours import ABNORMAL, ERROR, NORMAL, REFUSED

COLUMNS = ("File", "Duration", "Result", "Probability", "Status")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_RESULT_ORDER = {"abnormal": 0, "poor-quality": 1, "normal": 2}
_RESULT_COLOURS = {"normal": NORMAL, "abnormal": ABNORMAL, "poor-quality": REFUSED}

Index = QModelIndex | QPersistentModelIndex


class BatchModel(QAbstractTableModel):
    """The rows of every batch opened since the table was last cleared."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[BatchRow] = []
        self._by_request: dict[int, int] = {}

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name,
                    "" if row.duration is None else f"{row.duration:.1f} s",
                    row.result_text,
                    "" if row.probability is None or row.label == "poor-quality"
                    else f"{row.probability:.3f}",
                    row.status_text)[column]
        if role == SORT_ROLE:
            return (row.name.casefold(),
                    -1.0 if row.duration is None else row.duration,
                    _RESULT_ORDER.get(row.label or "", 3),
                    # a refused recording shows no probability: it sorts with the blanks
                    -1.0 if row.probability is None or row.label == "poor-quality"
                    else row.probability,
                    row.status)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 0:
                return str(row.path)
            if column == 4 and (row.reason or row.note):
                return row.reason or row.note
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == 2 and row.label in _RESULT_COLOURS:
                return QColor(_RESULT_COLOURS[row.label])
            if column == 4 and row.status == FAILED:
                return QColor(ERROR)
        return None

    # -- rows ---------------------------------------------------------------------------------
    def add(self, path: Path, request_id: int) -> BatchRow:
        row = BatchRow(path=Path(path), request_id=request_id)
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows))
        self.rows.append(row)
        self._by_request[request_id] = len(self.rows) - 1
        self.endInsertRows()
        return row

    def row_of(self, request_id: int) -> BatchRow | None:
        position = self._by_request.get(request_id)
        return None if position is None else self.rows[position]

    def changed(self, row: BatchRow) -> None:
        """Tell the view that ``row`` changed."""
        position = self.rows.index(row)
        self.dataChanged.emit(self.index(position, 0), self.index(position, len(COLUMNS) - 1))

    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self._by_request.clear()
        self.endResetModel()

    def counts(self) -> dict[str, int]:
        counts = {WAITING: 0, CLASSIFYING: 0, DONE: 0, FAILED: 0, CANCELLED: 0}
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts


class BatchPanel(QWidget):
    """The table with its progress line and buttons."""

    recording_selected = Signal(object)  # BatchRow
    cancel_requested = Signal()
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = BatchModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setObjectName("batch_table")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the order they were opened
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        # compact rows: the style's default (about 30 px) showed six recordings at a time
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.progress_label = QLabel()
        self.progress_label.setObjectName("batch_progress")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop classifying the recordings still waiting")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save this table as a CSV file")
        self.export_button.clicked.connect(self.export_requested)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Empty the table (the files are not touched)")
        self.clear_button.clicked.connect(self.clear)

        buttons = QHBoxLayout()
        buttons.addWidget(self.progress_label, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)
        self.refresh()

    @property
    def rows(self) -> list[BatchRow]:
        return self.model.rows

    def visible_rows(self) -> list[BatchRow]:
        """The rows in the order the table shows them (sorted as the user chose)."""
        return [self.model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]
                for r in range(self.proxy.rowCount())]

    def add(self, path: Path, request_id: int) -> BatchRow:
        row = self.model.add(path, request_id)
        self.refresh()
        return row

    def update_row(self, row: BatchRow) -> None:
        self.model.changed(row)
        self.refresh()

    def clear(self) -> None:
        self.model.clear()
        self.refresh()

    def select(self, row: BatchRow) -> None:
        source = self.model.index(self.model.rows.index(row), 0)
        self.table.selectRow(self.proxy.mapFromSource(source).row())

    def refresh(self) -> None:
        counts = self.model.counts()
        total = len(self.model.rows)
        finished = counts[DONE] + counts[FAILED] + counts[CANCELLED]
        text = f"{counts[DONE]} of {total} classified"
        if counts[FAILED]:
            text += f", {counts[FAILED]} could not be classified"
        if counts[CANCELLED]:
            text += f", {counts[CANCELLED]} cancelled"
        self.progress_label.setText(text if total else "No recordings in the table.")
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(finished)
        self.cancel_button.setEnabled(counts[WAITING] + counts[CLASSIFYING] > 0)
        self.export_button.setEnabled(counts[DONE] + counts[FAILED] > 0)
        self.clear_button.setEnabled(total > 0 and finished == total)

    def _on_selection_changed(self, *_args) -> None:
        indexes = self.table.selectionModel().selectedRows()
        if indexes:
            source = self.proxy.mapToSource(indexes[0])
            self.recording_selected.emit(self.model.rows[source.row()])
