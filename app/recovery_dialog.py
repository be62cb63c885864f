"""At start-up: offer to recover recordings that a killed or crashed AudioFuse left behind.

:func:`app.recording.find_partial_recordings` finds them in the recordings folder;
:class:`RecoveryDialog` lists them (who, where, when, how many seconds) with a box each, and
recovers the ticked ones (:func:`app.recording.recover`: the file and its sidecar, marked
recovered), or deletes them after a confirmation, or leaves them for later. It emits
:attr:`RecoveryDialog.recovered` with the saved files, which the window opens and classifies.
GUI thread only; converting a journal takes milliseconds for a usual recording.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .colours import ERROR
from .recording import PartialRecording, RecordingError, recover
from .recording.recovery import discard

INTRO = ("AudioFuse was closed while recording (by force, a crash or a power cut). What it had "
         "saved can be recovered; up to about the last second may be missing.")


def describe_partial(partial: PartialRecording) -> str:
    """One line for the list: name, ID, site, start, seconds."""
    info = partial.info
    started = info.started_at.replace("T", " ")[:16] if info.started_at else "unknown time"
    who = f"ID {info.recording_id}, " if info.recording_id else ""
    return (f"{partial.name}: {who}{info.site}, started {started}, "
            f"{partial.seconds:.1f} s saved")


class RecoveryDialog(QDialog):
    """Lists interrupted recordings; Recover (and open), Delete, or Later."""

    recovered = Signal(object)  # list[Path] of recovered recordings

    def __init__(self, partials: list[PartialRecording], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recovery_dialog")
        self.setWindowTitle("Recover interrupted recordings")
        self.partials = list(partials)
        self.confirm_box: QMessageBox | None = None
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("partial_recordings")
        for partial in self.partials:
            item = QListWidgetItem(describe_partial(partial))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setToolTip(str(partial.journal))
            self.list.addItem(item)
        self.error_label = QLabel()
        self.error_label.setObjectName("recovery_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR};")
        self.error_label.hide()
        buttons = QDialogButtonBox()
        self.recover_button = QPushButton("Recover and open")
        self.recover_button.setObjectName("recover")
        self.recover_button.setDefault(True)
        self.discard_button = QPushButton("Delete…")
        self.discard_button.setObjectName("discard")
        self.later_button = QPushButton("Later")
        self.later_button.setObjectName("later")
        self.later_button.setToolTip("Keep them; they will be offered again at the next start")
        buttons.addButton(self.recover_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(self.later_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.recover_button.clicked.connect(self.recover_checked)
        self.discard_button.clicked.connect(self.ask_discard)
        self.later_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self.resize(640, 300)

    def checked(self) -> list[PartialRecording]:
        return [p for i, p in enumerate(self.partials)
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def _remove(self, done: list[PartialRecording]) -> None:
        for partial in done:
            index = self.partials.index(partial)
            self.partials.pop(index)
            self.list.takeItem(index)

    def recover_checked(self) -> list[Path]:
        """Recover the ticked recordings; emits :attr:`recovered` with their files."""
        paths, errors, done = [], [], []
        for partial in self.checked():
            try:
                result = recover(partial)
            except RecordingError as exc:
                errors.append(str(exc))
                continue
            done.append(partial)
            if result is None:
                errors.append(f"{partial.name}: nothing had been recorded yet; removed.")
            else:
                paths.append(result.path)
        self._remove(done)
        if paths:
            self.recovered.emit(paths)
        if errors:
            self.error_label.setText("\n".join(errors))
            self.error_label.show()
        if not self.partials or (paths and not errors):
            self.accept()
        return paths

    def ask_discard(self) -> None:
        chosen = self.checked()
        if not chosen:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete interrupted recordings",
                          f"Delete {len(chosen)} interrupted recording(s) for good? They "
                          f"cannot be recovered afterwards.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self)
        box.setObjectName("confirm_discard")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda answer: self._discard(chosen, answer))
        self.confirm_box = box
        box.open()

    def _discard(self, chosen: list[PartialRecording], answer: int) -> None:
        if int(answer) != QMessageBox.StandardButton.Yes.value:
            return
        errors, done = [], []
        for partial in chosen:
            try:
                discard(partial)
                done.append(partial)
            except RecordingError as exc:
                errors.append(str(exc))
        self._remove(done)
        if errors:
            self.error_label.setText("\n".join(errors))
            self.error_label.show()
        elif not self.partials:
            self.accept()
