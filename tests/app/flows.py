"""What a user does to the window, as real Qt events: drops, wheel turns, mouse moves,
double-clicks, choices in the program's own file dialogs; and a window shared by the tests of
one module (loading a model once per module instead of once per test).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from app.settings import Settings

from .conftest import MODEL_TIMEOUT_MS

NO_BUTTON = Qt.MouseButton.NoButton
LEFT = Qt.MouseButton.LeftButton
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def wait_for(predicate: Callable[[], object], timeout_s: float) -> None:
    """Turn the event loop until ``predicate()`` is true (for module fixtures without qtbot)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting after {timeout_s:g} s")
        QApplication.processEvents()
        time.sleep(0.005)


def shared_window(folder: Path, model_path: Path | None) -> Iterator:
    """A shown main window with its own settings file in ``folder``, its model loaded (when
    ``model_path`` is given), for the tests of one module; closed at the end.
    """
    from app.main_window import MainWindow

    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(QSettings(str(folder / "audiofuse.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, model_path=model_path)
    window.show()
    if model_path is not None:
        window.start([])
        wait_for(lambda: window.runner.model_info is not None or window.runner.model_error,
                 MODEL_TIMEOUT_MS / 1000)
        assert window.runner.model_error is None, window.runner.model_error
    try:
        yield window
    finally:
        window.close()
        window.deleteLater()
        QApplication.processEvents()


def settle(window, qtbot) -> None:
    """Bring a shared window back to rest between tests: nothing classifying or loading, an
    empty table, no results kept, no recent files.
    """
    window.cancel_batch()
    qtbot.waitUntil(lambda: not window.runner.busy and not window.loader.busy,
                    timeout=MODEL_TIMEOUT_MS)
    window.player.stop()
    window.batch_panel.clear()
    window.batch_dock.hide()
    window.results.clear()
    window.settings.clear_recent()


# -- drag and drop --------------------------------------------------------------------------
def _mime(paths: Sequence[Path] = (), text: str | None = None) -> QMimeData:
    mime = QMimeData()
    if paths:
        mime.setUrls([QUrl.fromLocalFile(str(Path(p).absolute())) for p in paths])
    if text is not None:
        mime.setText(text)
    return mime


def drop(target: QWidget, paths: Sequence[Path] = (), *, text: str | None = None) -> bool:
    """Drag ``paths`` (or ``text``) over ``target`` and drop them at its centre, as the window
    system does: DragEnter, DragMove, Drop. Returns whether the drop was accepted (the events
    that no widget takes go up to the parent, as in a real drag).
    """
    mime = _mime(paths, text)
    point = target.rect().center()
    action = Qt.DropAction.CopyAction
    with warnings.catch_warnings():  # PySide6 marks the QPoint constructors deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(point, action, mime, LEFT, NO_MODIFIER)
        move = QDragMoveEvent(point, action, mime, LEFT, NO_MODIFIER)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(target, move)
    dropped = QDropEvent(QPointF(point), action, mime, LEFT, NO_MODIFIER)
    QApplication.sendEvent(target, dropped)
    return dropped.isAccepted()


# -- the mouse on the plots ---------------------------------------------------------------
def wheel(view, position: QPoint, notches: float,
          modifiers: Qt.KeyboardModifier = NO_MODIFIER) -> None:
    """Turn the mouse wheel ``notches`` (positive: away from the user) over ``position`` of the
    plots' viewport.
    """
    viewport = view.graphics.viewport()
    event = QWheelEvent(QPointF(position), QPointF(viewport.mapToGlobal(position)), QPoint(0, 0),
                        QPoint(0, int(120 * notches)), NO_BUTTON, modifiers,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def _mouse(view, kind: QEvent.Type, position: QPoint, button: Qt.MouseButton,
           buttons: Qt.MouseButton) -> None:
    viewport = view.graphics.viewport()
    event = QMouseEvent(kind, QPointF(position), QPointF(viewport.mapToGlobal(position)),
                        button, buttons, NO_MODIFIER)
    QApplication.sendEvent(viewport, event)


def move_mouse(view, position: QPoint) -> None:
    """Move the mouse (no button) to ``position`` of the plots' viewport."""
    _mouse(view, QEvent.Type.MouseMove, position, NO_BUTTON, NO_BUTTON)


def double_click(view, position: QPoint) -> None:
    """A double-click as the window system delivers it: press, release, double-click,
    release (QTest.mouseDClick sends no releases, and pyqtgraph acts on the release).
    """
    _mouse(view, QEvent.Type.MouseButtonPress, position, LEFT, LEFT)
    _mouse(view, QEvent.Type.MouseButtonRelease, position, LEFT, NO_BUTTON)
    _mouse(view, QEvent.Type.MouseButtonDblClick, position, LEFT, LEFT)
    _mouse(view, QEvent.Type.MouseButtonRelease, position, LEFT, NO_BUTTON)


# -- the program's own file dialogs ----------------------------------------------------------
def choose_in_file_dialog(qtbot, window, command_id: str, folder: Path,
                          names: Sequence[str] = ()) -> QFileDialog:
    """Trigger the menu command ``command_id`` and, in the file dialog it opens, go to
    ``folder``, type ``names`` (none: choose the folder itself) and press the accept button.
    """
    with qtbot.waitSignal(window.file_dialog_opened, timeout=10_000) as opened:
        window.actions[command_id].trigger()
    dialog: QFileDialog = opened.args[0]
    qtbot.waitExposed(dialog)
    dialog.setDirectory(str(folder))
    if len(names) == 1:
        dialog.selectFile(names[0])
    elif names:
        dialog.selectFile(" ".join(f'"{name}"' for name in names))
    dialog.accept()
    return dialog
