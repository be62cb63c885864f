"""The Models tab: the model library with each model's card, import (checked, refused with the
reason), delete, one-click activation and rollback, and a side-by-side comparison of the active
model with another on the same evaluation folder.

Evaluations and imports (which load the model with Keras) run on a worker thread; the library
file operations are small and atomic and run on the GUI thread.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from audiofuse_core.errors import AudioFuseError, ModelError
from audiofuse_core.evaluation import fmt

from .. import colours
from .evaluation_tab import evaluate_folder
from .evaluation_view import add_roc, auc_text, make_roc_plot
from .library import LibraryModel, ModelLibrary
from .tasks import TaskRunner

COMPARE_ROWS = (("ROC-AUC [95 % CI]", None), ("sensitivity", "sensitivity"),
                ("specificity", "specificity"), ("balanced accuracy", "balanced_accuracy"),
                ("MCC", "mcc"), ("F1 abnormal", "f1_abnormal"), ("accuracy", "accuracy"),
                ("threshold", "threshold"))


def compare_models(active: str, candidate: str, folder: str, report, should_stop):
    """Evaluate both models on the same folder (on a worker thread)."""
    first = evaluate_folder(active, [folder], report, should_stop)
    second = evaluate_folder(candidate, [folder], report, should_stop)
    return first, second


class ModelsTab(QWidget):
    model_activated = Signal(str)  # path of the model that is now active
    listed = Signal()  # the table was filled again: models may have come, gone or been renamed

    COLUMNS = ("", "name", "model", "created", "validation ROC-AUC", "file")

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.comparison = None
        self.runner = TaskRunner(self)
        self.expert_child: subprocess.Popen | None = None  # add-feature-expert, while it runs
        self.runner.done.connect(self._on_runner_done)
        self.runner.error.connect(self._on_runner_error)
        self.runner.busy_changed.connect(lambda _b: self._update_buttons())

        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)

        self.activate_button = QPushButton("Make active")
        self.activate_button.clicked.connect(lambda: self.activate(self.selected_id()))
        self.rollback_button = QPushButton("Roll back")
        self.rollback_button.setToolTip("Make the previously active model active again")
        self.rollback_button.clicked.connect(self.roll_back)
        self.import_button = QPushButton("Import model file...")
        self.import_button.clicked.connect(self._on_import_clicked)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.expert_button = QPushButton("Add heart-cycle expert...")
        self.expert_button.setToolTip(
            "Write a copy of the selected model with a second opinion from each recording's "
            "heart cycle, trained on the recordings the model was trained on (choose their "
            "folder)")
        self.expert_button.clicked.connect(self._on_expert_clicked)
        buttons = QHBoxLayout()
        for button in (self.activate_button, self.rollback_button, self.import_button,
                       self.delete_button, self.expert_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.compare_folder = QLineEdit()
        self.compare_folder.setPlaceholderText("evaluation folder the models were not trained on")
        browse = QPushButton("Folder...")
        browse.clicked.connect(self._on_compare_browse_clicked)
        self.compare_button = QPushButton("Compare selected with active")
        self.compare_button.clicked.connect(self.compare)
        compare_row = QHBoxLayout()
        compare_row.addWidget(self.compare_folder, 1)
        compare_row.addWidget(browse)
        compare_row.addWidget(self.compare_button)
        self.compare_table = QTableWidget(len(COMPARE_ROWS) + 1, 3)
        self.compare_table.setHorizontalHeaderLabels(["", "active", "selected"])
        self.compare_table.verticalHeader().hide()
        self.compare_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare_table.horizontalHeader().setStretchLastSection(True)
        self.compare_roc = make_roc_plot()
        self.compare_roc.setMinimumSize(260, 240)
        compare_body = QHBoxLayout()
        compare_body.addWidget(self.compare_table, 3)
        compare_body.addWidget(self.compare_roc, 2)

        self.message = QLabel()
        self.message.setWordWrap(True)

        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(self.table)
        upper.addWidget(self.card)
        upper.setStretchFactor(0, 3)
        upper.setStretchFactor(1, 2)
        compare_box = QWidget()
        compare_layout = QVBoxLayout(compare_box)
        compare_layout.setContentsMargins(0, 0, 0, 0)
        compare_layout.addWidget(QLabel("<b>Compare on the same folder</b>"))
        compare_layout.addLayout(compare_row)
        compare_layout.addLayout(compare_body)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(compare_box)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)
        self.refresh()

    # -- listing --------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        select = select or self.selected_id()
        active = self.library.active_id()
        models = self.library.models()
        self.table.setRowCount(len(models))
        for row, entry in enumerate(models):
            auc = entry.validation_auc
            cells = ["active" if entry.id == active else "",
                     entry.name + (" (bundled)" if entry.bundled else ""),
                     entry.kind, entry.created[:16].replace("T", " "),
                     "" if auc is None else f"{auc:.3f}",
                     entry.error or entry.path.name]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.id)
                if entry.id == active:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if entry.error:
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        ids = [m.id for m in models]
        self.table.selectRow(ids.index(select) if select in ids else 0)
        # the same row index may now hold another model: no selection signal, so show its card
        self._on_table_selection_changed()
        self.listed.emit()

    def selected_id(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def selected(self) -> LibraryModel | None:
        model_id = self.selected_id()
        try:
            return self.library.get(model_id) if model_id else None
        except ModelError:
            return None

    def _on_table_selection_changed(self) -> None:
        entry = self.selected()
        if entry is None:
            self.card.clear()
        elif entry.error:
            self.card.setMarkdown(f"**This model file cannot be used:** {entry.error}")
        else:
            from audiofuse_core.model_card import render_model_card

            self.card.setMarkdown(render_model_card(entry.metadata))
        self._update_buttons()

    def _update_buttons(self) -> None:
        entry = self.selected()
        busy = self.runner.busy
        active = self.library.active_id()
        self.activate_button.setEnabled(entry is not None and not entry.error
                                        and entry.id != active)
        self.rollback_button.setEnabled(self.library.can_roll_back())
        self.delete_button.setEnabled(entry is not None and not entry.bundled
                                      and entry.id != active)
        self.delete_button.setToolTip("The bundled model cannot be deleted"
                                      if entry is not None and entry.bundled else
                                      "The active model cannot be deleted"
                                      if entry is not None and entry.id == active else "")
        self.import_button.setEnabled(not busy)
        meta = entry.metadata if entry is not None and not entry.error else {}
        self.expert_button.setEnabled(not busy and bool(meta) and not meta.get("feature_expert")
                                      and bool((meta.get("split") or {})
                                               .get("training_records")))
        self.compare_button.setEnabled(not busy and entry is not None and not entry.error)

    # -- actions --------------------------------------------------------------------------------
    def activate(self, model_id: str | None) -> None:
        if not model_id:
            return
        try:
            entry = self.library.activate(model_id)
        except AudioFuseError as exc:
            self.message.setText(f"<b>Not activated:</b> {exc}")
            return
        self.message.setText(f"{entry.name} is now the active model.")
        self.refresh(model_id)
        self.model_activated.emit(str(entry.path))

    def roll_back(self) -> None:
        try:
            entry = self.library.roll_back()
        except AudioFuseError as exc:
            self.message.setText(f"<b>No rollback:</b> {exc}")
            return
        self.message.setText(f"Rolled back: {entry.name} is the active model again.")
        self.refresh(entry.id)
        self.model_activated.emit(str(entry.path))

    def delete(self, model_id: str) -> None:
        try:
            self.library.delete(model_id)
        except AudioFuseError as exc:
            self.message.setText(f"<b>Not deleted:</b> {exc}")
            return
        self.message.setText(f"Deleted {model_id}.")
        self.refresh()

    def _on_delete_clicked(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        answer = QMessageBox.question(self, "Delete model",
                                      f"Delete {entry.name} ({entry.path.name}) for good?")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(entry.id)

    def import_file(self, path: str | Path) -> None:
        """Check and copy a model file into the library (on the worker thread)."""
        if self.runner.busy:
            return
        self.message.setText(f"Checking {Path(path).name}...")
        self.runner.submit("import", lambda _r, _s: self.library.import_model(path))

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", "", "Keras model (*.keras)")
        if path:
            self.import_file(path)

    def add_feature_expert(self, folder: str | Path) -> None:
        """Write, on the worker thread, a copy of the selected model with a heart-cycle expert
        trained on its own training recordings, which ``folder`` must hold
        (audiofuse_core.feature_expert); the copy joins the library, the original is untouched.
        """
        entry = self.selected()
        if entry is None or self.runner.busy:
            return
        out = self.library.new_model_path(f"{entry.path.stem}-cycles")
        self.message.setText(f"Describing the recordings in {folder} and training the "
                             f"heart-cycle expert for {entry.name} (a few minutes)...")

        self.runner.submit("expert", lambda _report, should_stop: self._run_expert_child(
            entry.path, folder, out, should_stop))

    def _run_expert_child(self, model: Path, folder: str | Path, out: Path, should_stop):
        """``audiofuse add-feature-expert`` in a child process, as training runs: a crash there
        (out of memory, a TensorFlow abort) ends the child, never the app. On the worker thread.
        """
        command = [sys.executable, "-m", "audiofuse_core.cli", "add-feature-expert", str(model),
                   str(folder), "--out", str(out)]
        with tempfile.TemporaryFile() as errors:
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors,
                                     cwd=Path(__file__).resolve().parents[2])
            self.expert_child = child  # the panel's close stops it and waits for it
            while child.poll() is None:
                if should_stop():
                    child.terminate()
                    child.wait(30)
                    raise AudioFuseError("stopped: no model was written")
                time.sleep(0.2)
            if child.returncode != 0:
                errors.seek(0)
                lines = [line.strip() for line in errors.read().decode(errors="replace")
                         .replace("\r", "\n").splitlines() if line.strip()]
                reason = lines[-1] if lines else f"exit code {child.returncode}"
                raise AudioFuseError(reason.removeprefix("audiofuse: "))
        return self.library.get(out.stem)

    def _on_expert_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "The folder the model was trained on (its training and validation recordings)")
        if folder:
            self.add_feature_expert(folder)

    def _on_compare_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Evaluation folder")
        if folder:
            self.compare_folder.setText(folder)

    def compare(self) -> None:
        entry, folder = self.selected(), self.compare_folder.text().strip()
        if entry is None or not folder or self.runner.busy:
            self.message.setText("Select a model and an evaluation folder to compare on.")
            return
        active = self.library.active().path
        self.message.setText(f"Evaluating the active model and {entry.name} on {folder}...")
        self.comparison = None
        self.runner.submit("compare", lambda r, s: compare_models(
            str(active), str(entry.path), folder, None, s))

    def _on_runner_done(self, name: str, result) -> None:
        if name == "import":
            self.message.setText(f"Imported {result.name} as {result.path.name}.")
            self.refresh(result.id)
        elif name == "compare":
            self.comparison = result
            self._show_comparison(*result)
        elif name == "expert":
            self.message.setText(f"Wrote {result.path.name}: the model with its heart-cycle "
                                 "expert (its card below). Make it active to use it.")
            self.refresh(result.id)
        self._update_buttons()

    def _on_runner_error(self, name: str, exc: Exception, _trace: str) -> None:
        reason = str(exc) if isinstance(exc, AudioFuseError) else f"{type(exc).__name__}: {exc}"
        what = {"import": "Refused", "expert": "No model was written"}.get(
            name, "The comparison failed")
        self.message.setText(f"<b>{what}:</b> {reason}")
        self._update_buttons()

    def _show_comparison(self, active, candidate) -> None:
        self.compare_table.setHorizontalHeaderLabels(
            ["", f"active: {active.model_name}", f"selected: {candidate.model_name}"])
        rows = [("recordings (abnormal)",
                 f"{active.overall['n']} ({active.overall['n_abnormal']})",
                 f"{candidate.overall['n']} ({candidate.overall['n_abnormal']})")]
        for label, key in COMPARE_ROWS:
            if key is None:
                rows.append((label, auc_text(active.overall), auc_text(candidate.overall)))
            else:
                rows.append((label, fmt(active.overall.get(key)),
                             fmt(candidate.overall.get(key))))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                self.compare_table.setItem(r, c, QTableWidgetItem(text))
        self.compare_table.resizeColumnsToContents()
        self.compare_roc.clear()
        self.compare_roc.plot([0, 1], [0, 1], pen=pg.mkPen("#9ca3af",
                                                           style=Qt.PenStyle.DashLine))
        add_roc(self.compare_roc, active, colours.CROSSHAIR, "active")
        add_roc(self.compare_roc, candidate, colours.CURSOR, "selected")
        better = (candidate.overall.get("roc_auc") or 0) > (active.overall.get("roc_auc") or 0)
        self.message.setText(
            "Compared on the same recordings. The selected model has the "
            f"{'higher' if better else 'lower or equal'} ROC-AUC; overlapping intervals mean "
            "the difference may be chance. Use 'Make active' to switch.")
