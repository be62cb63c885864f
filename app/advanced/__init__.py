"""The Advanced panel: in-app training, evaluation and model management (issue 6).

Entry point for the main window::

    from app.advanced import open_advanced_panel
    panel = open_advanced_panel(main_window)   # a non-modal window, shown

Wiring the main window does (both optional; the panel works without them):

- ``open_recording(path: str)``: the panel asks for a recording to be shown in the viewer
  (double-click on a row of an evaluation). Passed as the ``main_window.open_recording`` method
  when it has one; also available as the ``AdvancedPanel.recording_requested`` signal.
- ``model_activated(path: str)``: the active model changed (activation or rollback in the Models
  tab); the main window should load it (``main_window.use_model(Path(path))`` when it has that
  method). Also the ``AdvancedPanel.model_activated`` signal.
- On quitting, the main window's ``closeEvent`` should call ``panel.confirm_close()``: it asks what
  to do with a running training (stop and keep the best model, discard it, or keep the app open)
  and returns False for the last.
- At start-up the main window can read the user's active model with :func:`active_model_path`
  (the bundled model when none was chosen).

On Python 3.11 opening the panel also works around a PySide6 6.12.0 reference-count bug that
would otherwise abort the process after a long training (:mod:`app.advanced.singletons`); the
app's start-up should do the same for every window.

The model library lives in the user's data folder (``AUDIOFUSE_DATA_DIR``, else Qt's
``AppDataLocation``); see :mod:`app.advanced.library`. Training runs in a child process
(:mod:`app.advanced.train_worker`, :mod:`app.advanced.training_process`). Everything imports
lazily: importing this package costs nothing until the panel is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget


def open_advanced_panel(main_window: Any = None, **options: Any) -> QWidget:
    """Create and show the Advanced panel for ``main_window`` (may be None).

    ``options`` go to :class:`~app.advanced.panel.AdvancedPanel` (``data_dir``, ``library``,
    ``open_recording``, ``model_activated``); by default the callbacks are the main window's
    ``open_recording`` and ``use_model`` methods when it has them.
    """
    from .panel import AdvancedPanel
    from .singletons import make_singletons_immortal

    make_singletons_immortal()  # PySide6 6.12.0 on Python 3.11: see app/advanced/singletons.py
    if main_window is not None:
        if "open_recording" not in options and hasattr(main_window, "open_recording"):
            options["open_recording"] = main_window.open_recording
        if "model_activated" not in options and hasattr(main_window, "use_model"):
            options["model_activated"] = lambda path: main_window.use_model(Path(path))
    panel = AdvancedPanel(main_window, **options)
    panel.show()
    panel.raise_()
    return panel


def active_model_path(data_dir: str | Path | None = None) -> Path:
    """The model the user made active in the Advanced panel (the bundled one by default)."""
    from .library import ModelLibrary

    return ModelLibrary(data_dir).active_path()
