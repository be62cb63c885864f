"""The dialog that asks for the patient and recording details of a PDF report, and where to
save it. Nothing typed here is remembered after the dialog closes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .colours import ERROR
from .report_pdf import ReportFields, undrawable

PLACEHOLDERS = {"birth_date": "e.g. 1956-03-14", "recorded_on": "e.g. 2026-11-24 10:30",
                "recording_site": "e.g. mitral area, supine"}


class ReportDialog(QDialog):
    """Fields, a file name and Save; ``write(path, fields)`` does the writing."""

    saved = Signal(object)  # Path

    def __init__(self, default_path: Path, write: Callable[[Path, ReportFields], Path],
                 parent: QWidget | None = None, *,
                 also_printed: dict[str, str] | None = None) -> None:
        super().__init__(parent)
        self._also_printed = dict(also_printed or {})  # label -> text the report prints too
        self.setWindowTitle("Export PDF report")
        self.setObjectName("report_dialog")
        self._write = write
        self._replace_agreed: Path | None = None  # the file the save dialog agreed to replace
        self.edits: dict[str, QLineEdit | QPlainTextEdit] = {}
        form = QFormLayout()
        for key, label in ReportFields.LABELS.items():
            if key == "notes":
                edit: QLineEdit | QPlainTextEdit = QPlainTextEdit()
                edit.setFixedHeight(70)
            else:
                edit = QLineEdit()
                edit.setPlaceholderText(PLACEHOLDERS.get(key, ""))
            edit.setObjectName(f"report_{key}")
            self.edits[key] = edit
            form.addRow(label + ":", edit)
        self.path_edit = QLineEdit(str(default_path))
        self.path_edit.setObjectName("report_path")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form.addRow("Save as:", path_row)
        self.error_label = QLabel()
        self.error_label.setObjectName("report_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR};")
        self.error_label.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("Save PDF")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        note = QLabel("The details appear on the report only; AudioFuse does not keep them.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #4b5563;")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

    def fields(self) -> ReportFields:
        values = {key: (edit.toPlainText() if isinstance(edit, QPlainTextEdit)
                        else edit.text()).strip() for key, edit in self.edits.items()}
        return ReportFields(**values)

    def set_field(self, key: str, value: str) -> None:
        edit = self.edits[key]
        if isinstance(edit, QPlainTextEdit):
            edit.setPlainText(value)
        else:
            edit.setText(value)

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the report as", self.path_edit.text(),
                                                "PDF files (*.pdf)")
        if chosen:
            self.path_edit.setText(chosen if chosen.lower().endswith(".pdf") else chosen + ".pdf")
            self._replace_agreed = Path(self.path_edit.text())  # the file dialog asked already

    def confirm_replace(self, path: Path) -> bool:
        """Ask before an existing file is replaced (a report written earlier, maybe with other
        notes); the tests answer for the user by replacing this.
        """
        answer = QMessageBox.question(
            self, "Replace the report?",
            f"{path.name} already exists in {path.parent}.\nReplace it with this report?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def confirm_undrawable(self, missing: dict[str, str]) -> bool:
        """Ask before saving a report on which some typed characters would print as empty boxes
        (``missing``: field label -> those characters); the tests answer by replacing this.
        """
        lines = "\n".join(f"{label}: {' '.join(chars)}" for label, chars in missing.items())
        answer = QMessageBox.warning(
            self, "Characters the report cannot show",
            "No font on this computer can draw these characters, so the report would show "
            f"empty boxes in their place:\n\n{lines}\n\nInstall a font that covers them (for "
            "Chinese, Japanese or Korean, Noto Sans CJK), or type them in Latin letters. "
            "Save the report anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def accept(self) -> None:
        text = self.path_edit.text().strip()
        if not text:
            self._show_error("Choose where to save the report.")
            return
        path = Path(text).expanduser()
        if path.suffix.lower() != ".pdf":
            path = path.with_name(path.name + ".pdf")
        if not path.parent.is_dir():
            self._show_error(f"The folder {path.parent} does not exist.")
            return
        fields_ = self.fields()
        printed = [*fields_.items(), *self._also_printed.items()]
        missing = {label: chars for label, value in printed if (chars := undrawable(value))}
        if missing and not self.confirm_undrawable(missing):
            self._show_error("Not saved: some characters would print as empty boxes ("
                             + ", ".join(missing) + ").")
            return
        if path.exists() and path != self._replace_agreed and not self.confirm_replace(path):
            self._show_error(f"{path.name} exists: choose another name, or agree to replace it.")
            return
        try:
            written = self._write(path, fields_)
        except OSError as exc:
            self._show_error(f"The report could not be saved: {exc}")
            return
        super().accept()
        self.saved.emit(written)

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
