"""The Evaluation tab: any model on any labelled folder, off the GUI thread, into an
:class:`~app.advanced.evaluation_view.EvaluationView`, with export.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from audiofuse_core.errors import AudioFuseError, DatasetError
from audiofuse_core.site_threshold import MIN_PER_CLASS

from .evaluation_view import EvaluationView
from .library import ModelLibrary
from .tasks import TaskRunner

BOOTSTRAP = 1000


def evaluate_folder(model_path: str | Path, folders: list[str | Path],
                    report: Callable[[tuple[int, int]], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, *,
                    bootstrap: int = BOOTSTRAP):
    """Scan ``folders`` and evaluate ``model_path`` on them (on a worker thread)."""
    from audiofuse_core.datasets import scan_many
    from audiofuse_core.evaluation import evaluate

    data = scan_many([Path(f) for f in folders])
    if not data.records:
        reasons = "; ".join(sorted({s.reason for s in data.skipped}))[:300]
        raise DatasetError("no labelled recordings to evaluate on"
                           + (f" ({reasons})" if reasons else ""))
    return evaluate(str(model_path), data.records, bootstrap=bootstrap, should_stop=should_stop,
                    progress=(lambda i, n, _r: report((i, n))) if report else None)


class EvaluationTab(QWidget):
    evaluated = Signal(object)  # EvaluationReport
    recording_activated = Signal(str)
    model_added = Signal(str)  # path of a model written into the library (a site's threshold)

    #: Recordings of each class an evaluation needs before its threshold can be refitted.
    min_per_class = MIN_PER_CLASS

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.runner = TaskRunner(self)
        self.runner.done.connect(self._on_runner_done)
        self.runner.error.connect(self._on_runner_error)
        self.runner.progress.connect(self._on_runner_progress)
        self.runner.busy_changed.connect(self._on_runner_busy_changed)

        self.model = QComboBox()
        self.model.setMinimumWidth(280)
        pick_model = QPushButton("Model file...")
        pick_model.clicked.connect(self._on_pick_model_clicked)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("labelled folder (PhysioNet, PASCAL or your own layout)")
        pick_folder = QPushButton("Folder...")
        pick_folder.clicked.connect(self._on_pick_folder_clicked)
        self.run_button = QPushButton("Evaluate")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.export_button = QPushButton("Export...")
        self.export_button.setEnabled(False)
        self.export_button.setToolTip("report.md, report.json, predictions.csv, roc.png, "
                                      "confusion.png")
        self.export_button.clicked.connect(self._on_export_clicked)
        self.refit_button = QPushButton("Refit threshold...")
        self.refit_button.setEnabled(False)
        self.refit_button.setToolTip(
            "Save a copy of this model, in the library, whose decision threshold suits this "
            "folder's recordings (a new stethoscope or clinic). The weights are not changed.")
        self.refit_button.clicked.connect(self.refit_threshold)
        self.report = None  # the last finished evaluation
        self._report_site = ""
        row = QHBoxLayout()
        row.addWidget(QLabel("Model"))
        row.addWidget(self.model, 2)
        row.addWidget(pick_model)
        row.addWidget(QLabel("on"))
        row.addWidget(self.folder, 3)
        row.addWidget(pick_folder)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.export_button)
        row.addWidget(self.refit_button)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m recordings")
        self.progress.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.view = EvaluationView()
        self.view.recording_activated.connect(self.recording_activated)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.view, 1)
        self.refresh_models()

    def refresh_models(self) -> None:
        current = self.model.currentData()
        self.model.clear()
        active = self.library.active_id()
        for entry in self.library.models():
            if entry.error:
                continue
            mark = " (active)" if entry.id == active else ""
            self.model.addItem(entry.describe() + mark, str(entry.path))
        index = self.model.findData(current)
        self.model.setCurrentIndex(max(0, index))

    def set_model(self, path: str | Path) -> None:
        index = self.model.findData(str(path))
        if index < 0:
            self.model.addItem(Path(path).name, str(path))
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)

    def _on_pick_model_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model file", "", "Keras model (*.keras)")
        if path:
            self.set_model(path)

    def _on_pick_folder_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Labelled folder to evaluate on")
        if folder:
            self.folder.setText(folder)

    def start(self) -> None:
        model, folder = self.model.currentData(), self.folder.text().strip()
        if not model or not folder:
            self.message.setText("Choose a model and a labelled folder.")
            return
        if self.runner.busy:
            return
        self.message.setText(f"Evaluating {Path(model).name} on {folder}...")
        self.report = None
        self.refit_button.setEnabled(False)
        self._report_site = Path(folder).name or folder
        self.progress.setValue(0)
        self.progress.show()
        self.runner.submit("evaluate", lambda report, stop: evaluate_folder(
            model, [folder], report, stop))

    def _on_runner_progress(self, _name: str, value: tuple[int, int]) -> None:
        done, total = value
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def _on_runner_busy_changed(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        self.refit_button.setEnabled(not busy and self.report is not None
                                     and not self.report.cancelled)

    def _on_runner_done(self, name: str, result) -> None:
        if name == "refit":
            self._on_refitted(result)
            return
        self.message.setText("Double-click a recording to open it in the viewer. "
                             "Misclassified recordings are shaded.")
        self.report = result
        self.view.show_report(result)
        self.export_button.setEnabled(True)
        self.evaluated.emit(result)

    def _on_runner_error(self, name: str, exc: Exception, _trace: str) -> None:
        reason = str(exc) if isinstance(exc, AudioFuseError) else f"{type(exc).__name__}: {exc}"
        what = "No model was written" if name == "refit" else "The evaluation failed"
        self.message.setText(f"<b>{what}:</b> {reason}")

    def refit_threshold(self) -> None:
        """Write, off the GUI thread, a library copy of the evaluated model with the threshold
        refitted on the evaluated recordings (audiofuse_core.site_threshold).
        """
        report = self.report
        if report is None or self.runner.busy:
            return
        from audiofuse_core.site_threshold import write_site_copy

        source, site = Path(report.model_path), self._report_site
        out = self.library.new_model_path(f"{source.stem}-{site}")
        minimum = self.min_per_class
        self.message.setText(f"Refitting the threshold of {source.name} for {site}...")
        self.runner.submit("refit", lambda _report, _stop: write_site_copy(
            source, report, out, site=site, bootstrap=BOOTSTRAP, min_per_class=minimum))

    def _on_refitted(self, done) -> None:
        before, after = done.before, done.after
        self.message.setText(
            f"Saved <b>{done.out.stem}</b> in the library: threshold "
            f"{done.threshold_before:.3f} → {done.threshold_after:.3f}; on these "
            f"{before['n']} recordings sensitivity {before['sensitivity']:.2f} → "
            f"{after['sensitivity']:.2f}, specificity {before['specificity']:.2f} → "
            f"{after['specificity']:.2f} (fitted on them, so optimistic: check it on other "
            "recordings of this site). Activate it in the Models tab to use it."
            + (f" <b>Warning:</b> {done.warning}" if done.warning else ""))
        self.refresh_models()
        self.model_added.emit(str(done.out))

    def _on_export_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the evaluation to")
        if folder:
            self.export(folder)

    def confirm_replace(self, folder: Path, names: list[str]) -> bool:
        """Ask before an earlier export in ``folder`` is replaced; the tests answer for the user
        by replacing this.
        """
        answer = QMessageBox.question(
            self, "Replace the earlier export?",
            f"{folder} already holds {', '.join(names)}, perhaps of another evaluation.\n"
            "Replace them with this evaluation?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def export(self, folder: str | Path) -> list[Path]:
        earlier = [name for name in self.view.EXPORT_NAMES if (Path(folder) / name).exists()]
        if earlier and not self.confirm_replace(Path(folder), earlier):
            self.message.setText(f"Not exported: {folder} holds an earlier export; choose "
                                 "another folder, or agree to replace it.")
            return []
        try:
            paths = self.view.export(folder)
        except (AudioFuseError, OSError) as exc:  # a read-only or full disk: say so, keep going
            self.message.setText(f"Not exported: {exc}")
            return []
        self.message.setText(f"Exported {len(paths)} files to {folder}.")
        return paths
