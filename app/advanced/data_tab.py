"""The Data tab: choose data-set folders, scan them (headers only, off the GUI thread), and show
what was found, what was skipped and why, and whether a model can be trained on it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from audiofuse_core.errors import AudioFuseError

from .dataset_summary import DatasetSummary, summarise_scan
from .tasks import TaskRunner


def scan_folders(folders: list[Path], artifact_as_abnormal: bool) -> DatasetSummary:
    """Scan and summarise (runs on a worker thread)."""
    from audiofuse_core.datasets import scan_many

    result = scan_many(list(folders), artifact_as_abnormal=artifact_as_abnormal)
    return summarise_scan(result, list(folders))


class DataTab(QWidget):
    summary_changed = Signal(object)  # DatasetSummary, or None while scanning / after an error

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary: DatasetSummary | None = None
        self.error: str | None = None
        self.runner = TaskRunner(self)
        self.runner.done.connect(self._on_runner_done)
        self.runner.error.connect(self._on_runner_error)
        self._rescan = False

        self.folders = QListWidget()
        self.folders.setMaximumHeight(80)
        self.folders.setToolTip("PhysioNet 2016 (REFERENCE.csv), PASCAL heartbeat-sounds, or "
                                "your own: a folder per class, or a labels.csv (file,label).")
        add = QPushButton("Add folder...")
        add.clicked.connect(self.ask_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._on_remove_clicked)
        self.artifact = QCheckBox("PASCAL: count 'artifact' recordings as abnormal")
        self.artifact.toggled.connect(lambda _on: self.rescan())
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.folders, 1)
        top.addLayout(buttons)

        self.headline = QLabel("Add a labelled data-set folder.")
        self.headline.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #9f1239; font-weight: bold;")
        self.problem.hide()
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.subsets = QTableWidget(0, 3)
        self.subsets.setHorizontalHeaderLabels(["subset", "normal", "abnormal"])
        self.subsets.verticalHeader().hide()
        self.subsets.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.skipped = QTableWidget(0, 2)
        self.skipped.setHorizontalHeaderLabels(["skipped file", "reason"])
        self.skipped.verticalHeader().hide()
        self.skipped.horizontalHeader().setStretchLastSection(True)
        self.skipped.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.skipped.setSortingEnabled(True)
        tables = QHBoxLayout()
        tables.addWidget(self.subsets, 2)
        tables.addWidget(self.skipped, 3)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Data-set folders</b>"))
        layout.addLayout(top)
        layout.addWidget(self.artifact)
        layout.addWidget(self.headline)
        layout.addWidget(self.problem)
        layout.addWidget(self.details)
        layout.addLayout(tables, 1)

    # -- folders --------------------------------------------------------------------------------
    def folder_paths(self) -> list[Path]:
        return [Path(self.folders.item(i).text()) for i in range(self.folders.count())]

    def set_folders(self, folders: list[str | Path]) -> None:
        self.folders.clear()
        for folder in folders:
            self.folders.addItem(str(folder))
        self.rescan()

    def add_folder(self, folder: str | Path) -> None:
        if str(folder) not in [str(p) for p in self.folder_paths()]:
            self.folders.addItem(str(folder))
        self.rescan()

    def ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a labelled data-set folder")
        if folder:
            self.add_folder(folder)

    def _on_remove_clicked(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))
        self.rescan()

    # -- scanning -------------------------------------------------------------------------------
    def rescan(self) -> None:
        folders = self.folder_paths()
        self.summary = None
        self.summary_changed.emit(None)
        if self.runner.busy:  # the scan running is of other folders: scan again once it is back
            self._rescan = True
            if folders:
                return
        if not folders:
            self._show_problem(None, "Add a labelled data-set folder.")
            return
        self.headline.setText("Scanning...")
        self.problem.hide()
        artifact = self.artifact.isChecked()
        self.runner.submit("scan", lambda _report, _stop: scan_folders(folders, artifact))

    def _on_runner_done(self, _name: str, summary: DatasetSummary) -> None:
        if self._rescan:
            self._rescan = False
            self.rescan()
            return
        self.summary, self.error = summary, None
        self._show(summary)
        self.summary_changed.emit(summary)

    def _on_runner_error(self, _name: str, exc: Exception, _trace: str) -> None:
        if self._rescan:
            self._rescan = False
            self.rescan()
            return
        reason = str(exc) if isinstance(exc, AudioFuseError) else f"the scan failed: {exc}"
        self.error = reason
        self._show_problem(reason, "The folder could not be scanned.")
        self.subsets.setRowCount(0)
        self.skipped.setRowCount(0)
        self.summary_changed.emit(None)

    def _show_problem(self, problem: str | None, headline: str) -> None:
        self.headline.setText(headline)
        self.details.clear()
        self.problem.setText(problem or "")
        self.problem.setVisible(bool(problem))

    def _show(self, s: DatasetSummary) -> None:
        self._show_problem(s.problem, s.headline())
        rates = ", ".join(f"{rate} Hz ({n})" for rate, n in s.sample_rates.items()) or "-"
        details = f"Sample rates: {rates}."
        if s.durations:
            low, mid, high = s.durations
            details += f" Durations: {low:.1f} s to {high:.1f} s (median {mid:.1f} s)."
        self.details.setText(details)
        self.subsets.setRowCount(len(s.per_subset))
        for row, (subset, counts) in enumerate(s.per_subset.items()):
            for column, text in enumerate((subset, str(counts.get("normal", 0)),
                                           str(counts.get("abnormal", 0)))):
                self.subsets.setItem(row, column, QTableWidgetItem(text))
        self.subsets.resizeColumnsToContents()
        self.skipped.setSortingEnabled(False)
        self.skipped.setRowCount(len(s.skipped))
        for row, (path, reason) in enumerate(s.skipped):
            item = QTableWidgetItem(Path(path).name)
            item.setToolTip(path)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.skipped.setItem(row, 0, item)
            self.skipped.setItem(row, 1, QTableWidgetItem(reason))
        self.skipped.setSortingEnabled(True)
        self.skipped.resizeColumnToContents(0)
