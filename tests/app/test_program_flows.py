"""The program around the views: the global exception hook (a log file and a plain-language
dialog, never a flood of dialogs) and the settings that outlive a window (layout, recent files).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from app.errors import ERROR_TEXT, LOG_FILE_NAME, ErrorReporter, setup_logging
from app.main_window import MainWindow
from app.settings import Settings

from .conftest import RESULT_TIMEOUT_MS


@pytest.fixture
def reporter(qapp, tmp_path):
    """The hooks as the program installs them, logging to this test's folder."""
    log_path = setup_logging(tmp_path / "logs", stderr=False)
    reporter = ErrorReporter(log_path)
    reporter.install()
    yield reporter
    reporter.uninstall()
    if reporter.dialog is not None:
        reporter.dialog.close()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_audiofuse", False):
            root.removeHandler(handler)
            handler.close()


def _fail_to_parse_a_rate() -> int:
    return int("2 kHz")  # a real error, raised by Python itself


@pytest.mark.qt_no_exception_capture  # the program's hook, not pytest-qt's, sees the errors
def test_an_uncaught_error_is_logged_and_shown_in_plain_words(qtbot, reporter):
    with qtbot.waitSignal(reporter.error_shown, timeout=5000) as shown:
        QTimer.singleShot(0, _fail_to_parse_a_rate)  # an error in a slot, as Qt runs it
    box: QMessageBox = shown.args[0]
    assert box.isVisible() and box.icon() == QMessageBox.Icon.Critical
    assert box.text() == ERROR_TEXT and "No recording was changed" in box.text()
    assert box.informativeText() == f"Log file: {reporter.log_path}"
    assert reporter.log_path.name == LOG_FILE_NAME and reporter.log_path.is_file()
    details = box.detailedText()  # the traceback, folded away under "Show Details"
    assert "Traceback" in details and "_fail_to_parse_a_rate" in details
    assert "ValueError: invalid literal for int() with base 10: '2 kHz'" in details
    for handler in logging.getLogger().handlers:
        handler.flush()
    logged = reporter.log_path.read_text(encoding="utf-8")
    assert "CRITICAL" in logged and "unexpected error" in logged
    assert "_fail_to_parse_a_rate" in logged and "ValueError" in logged
    buttons = [b.text() for b in box.buttons()]
    assert "Open log folder" in buttons

    # More errors while the dialog is open (here from sys.excepthook with a real exception,
    # and from a worker thread): counted in the same dialog, each one logged.
    try:
        {}["left ventricle"]
    except KeyError:
        sys.excepthook(*sys.exc_info())
    worker = threading.Thread(target=_fail_to_parse_a_rate, name="worker")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: reporter.suppressed == 2, timeout=5000)
    assert reporter.count == 3 and reporter.dialog is box
    assert "(2 more problem(s) since this message appeared; all are in the log.)" in box.text()
    for handler in logging.getLogger().handlers:
        handler.flush()
    logged = reporter.log_path.read_text(encoding="utf-8")
    assert logged.count("unexpected error") == 3 and "KeyError: 'left ventricle'" in logged
    qtbot.keyClick(box, Qt.Key.Key_Escape)  # Esc closes it (as does OK)
    assert not box.isVisible()
    # once it is closed, the next error opens a dialog again
    with qtbot.waitSignal(reporter.error_shown, timeout=5000) as shown:
        QTimer.singleShot(0, _fail_to_parse_a_rate)
    assert shown.args[0] is not box and shown.args[0].isVisible()


def test_keyboard_interrupt_is_left_to_python(qtbot, reporter, capsys):
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
    assert reporter.count == 0 and reporter.dialog is None
    assert "KeyboardInterrupt" in capsys.readouterr().err


def test_a_new_window_has_the_layout_and_the_recent_files_of_the_last(
        qtbot, settings, untrained_model_path, normal_wav, abnormal_wav):
    first = MainWindow(settings, model_path=untrained_model_path)
    qtbot.addWidget(first)
    first.show()
    first.resize(760, 560)  # within the offscreen screen (800 x 600): Qt keeps windows on it
    size = (first.width(), first.height())
    assert size == (760, 560)
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.result_dock)
    for path in (normal_wav, abnormal_wav):  # shown, not classified: no model needed here
        with qtbot.waitSignal(first.recording_shown, timeout=RESULT_TIMEOUT_MS):
            first.open_paths([path])
    first.close()

    second = MainWindow(Settings(), model_path=untrained_model_path)  # read from the file
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == size
    assert second.dockWidgetArea(second.result_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert not second.batch_dock.isVisible()  # an empty table is not brought back
    second.recent_menu.aboutToShow.emit()
    recent = [a.data() for a in second.recent_menu.actions() if a.data()]
    assert recent == [str(abnormal_wav.resolve()), str(normal_wav.resolve())]
    assert second.settings.last_folder == abnormal_wav.parent.absolute()
    second.close()


@pytest.mark.slow
def test_the_program_opens_the_files_named_on_its_command_line(tmp_path):
    """The desktop entry point (``audiofuse-gui FILE...``, which ``audiofuse gui`` calls), as a
    process of its own: the window, the bundled model, both files classified, a log, no
    traceback.
    """
    from audiofuse_core.resources import example_recordings

    examples = {path.name.split("-")[0]: path for path in example_recordings()}
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "3",
           "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "AUDIOFUSE_LOG_DIR": str(tmp_path / "logs"),
           "AUDIOFUSE_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "app.main", "--exit-when-ready",
                           str(examples["normal"]), str(examples["abnormal"])],
                          cwd=Path(__file__).resolve().parents[2], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    ready = [line for line in done.stdout.splitlines() if line.startswith("AUDIOFUSE_READY ")]
    report = json.loads(ready[-1].split(" ", 1)[1])
    assert report["model"] == "audiofuse-default" and report["model_error"] is None
    assert report["visible_at"] <= report["model_ready_at"]
    assert {Path(p).name: label for p, label in report["results"].items()} == {
        examples["normal"].name: "normal", examples["abnormal"].name: "abnormal"}
    log = (tmp_path / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "AudioFuse ready: model audiofuse-default" in log
    assert (tmp_path / "config").is_dir()  # its settings went there, not to the user's
