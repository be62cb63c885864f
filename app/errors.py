"""Unexpected errors: logged to a rotating file, shown to the user in plain words.

:func:`setup_logging` writes the program's log to ``audiofuse.log`` in the user's log folder
(platformdirs; ``AUDIOFUSE_LOG_DIR`` overrides it), rotated at 1 MB with five old files kept.
:class:`ErrorReporter` installs ``sys.excepthook`` and ``threading.excepthook``: an exception that
nothing caught (in a slot, a timer, a worker thread) is logged with its traceback and shown in a
dialog that says what happened, that no recording was changed, what to do next, and where the log
is, with the traceback folded away under "Show Details". The hook may run on any thread: it only
logs and emits a queued signal; the dialog is made on the GUI thread. While one dialog is open,
further errors are counted in it instead of opening a dialog each (a failing timer would otherwise
bury the window).

Errors the user can cause (a file that cannot be read, a missing model) never come here: they are
caught where they happen and shown as a one-line reason.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox

APP_NAME = "AudioFuse"
LOG_FILE_NAME = "audiofuse.log"
LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 5

log = logging.getLogger(__name__)

ERROR_TEXT = ("AudioFuse ran into an unexpected problem and could not finish what it was doing. "
              "No recording was changed or deleted.\n\nYou can go on working. If it happens "
              "again, restart AudioFuse and send the log file below to your IT support.")


def default_log_dir() -> Path:
    override = os.environ.get("AUDIOFUSE_LOG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_NAME, appauthor=False))


def setup_logging(log_dir: str | Path | None = None, *, stderr: bool = True) -> Path:
    """Log to a rotating file (and stderr); returns the log file's path. Safe to call again."""
    folder = Path(log_dir) if log_dir is not None else default_log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE_NAME
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_audiofuse", False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: "
                                  "%(message)s")
    file_handler = RotatingFileHandler(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS,
                                       encoding="utf-8")
    handlers: list[logging.Handler] = [file_handler]
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler._audiofuse = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


class ErrorReporter(QObject):
    """The global exception hooks and the dialog they open."""

    error_shown = Signal(object)  # the QMessageBox
    _report = Signal(str)  # the traceback's text, queued to the GUI thread

    def __init__(self, log_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = Path(log_path)
        self.dialog: QMessageBox | None = None
        self.count = 0  # errors reported since start
        self.suppressed = 0  # errors that arrived while the dialog was open
        self._previous_hook = None
        self._previous_thread_hook = None
        self._report.connect(self._show)

    def install(self) -> None:
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall(self) -> None:
        if self._previous_hook is not None:
            sys.excepthook = self._previous_hook
            threading.excepthook = self._previous_thread_hook
            self._previous_hook = self._previous_thread_hook = None

    def _excepthook(self, exc_type, exc, tb) -> None:
        # NB: may run on any thread; logs and emits only.
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.critical("unexpected error:\n%s", text)
        self.count += 1
        self._report.emit(text)

    def _thread_excepthook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        self._excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    @Slot(str)
    def _show(self, details: str) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.suppressed += 1
            self.dialog.setText(ERROR_TEXT + f"\n\n({self.suppressed} more problem(s) since this "
                                "message appeared; all are in the log.)")
            return
        self.suppressed = 0
        box = QMessageBox(QMessageBox.Icon.Critical, "AudioFuse: unexpected problem", ERROR_TEXT,
                          QMessageBox.StandardButton.Ok, QApplication.activeWindow())
        box.setObjectName("error_dialog")
        box.setInformativeText(f"Log file: {self.log_path}")
        box.setDetailedText(details)
        open_folder = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
        open_folder.clicked.connect(lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(self.log_path.parent))))
        # With a second button Qt finds no escape button: Esc and the title bar's close would
        # then do nothing.
        box.setEscapeButton(QMessageBox.StandardButton.Ok)
        self.dialog = box
        box.open()  # not exec(): the event loop keeps running
        self.error_shown.emit(box)
