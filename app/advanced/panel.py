"""The Advanced panel window: Data, Training, Evaluation and Models tabs over one model library.

A non-modal top-level window. It talks to the main window only through its constructor's
callbacks (``open_recording(path)``, ``model_activated(path)``) and the matching signals, so it
can also run on its own (tests, ``python -m app.advanced``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMessageBox, QTabWidget, QVBoxLayout, QWidget

from .data_tab import DataTab
from .evaluation_tab import EvaluationTab
from .library import ModelLibrary
from .models_tab import ModelsTab
from .training_tab import TrainingTab


class AdvancedPanel(QWidget):
    """See the module docstring."""

    recording_requested = Signal(str)  # a recording to open in the viewer
    model_activated = Signal(str)  # the active model's path changed (activation or rollback)

    def __init__(self, parent: QWidget | None = None, *, library: ModelLibrary | None = None,
                 data_dir: str | Path | None = None,
                 open_recording: Callable[[str], None] | None = None,
                 model_activated: Callable[[str], None] | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("AudioFuse - Advanced: training, evaluation and models")
        self.library = library or ModelLibrary(data_dir)
        self.data_tab = DataTab()
        self.training_tab = TrainingTab(self.library)
        self.evaluation_tab = EvaluationTab(self.library)
        self.models_tab = ModelsTab(self.library)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.data_tab, "Data")
        self.tabs.addTab(self.training_tab, "Training")
        self.tabs.addTab(self.evaluation_tab, "Evaluation")
        self.tabs.addTab(self.models_tab, "Models")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)

        self.data_tab.summary_changed.connect(self.training_tab.set_summary)
        self.training_tab.model_trained.connect(self._on_training_model_trained)
        self.models_tab.model_activated.connect(self._on_models_model_activated)
        # imported, deleted or renamed in the Models tab: the Evaluation tab offers the same list
        self.models_tab.listed.connect(self.evaluation_tab.refresh_models)
        self.evaluation_tab.recording_activated.connect(self.recording_requested)
        self.evaluation_tab.model_added.connect(lambda path: self.models_tab.refresh(
            Path(path).stem))
        if open_recording is not None:
            self.recording_requested.connect(open_recording)
        if model_activated is not None:
            self.model_activated.connect(model_activated)
        self.resize(1200, 780)

    def _on_training_model_trained(self, path: str) -> None:
        self.models_tab.refresh(Path(path).stem)
        self.evaluation_tab.refresh_models()
        self.evaluation_tab.set_model(path)

    def _on_models_model_activated(self, path: str) -> None:
        self.evaluation_tab.refresh_models()
        self.model_activated.emit(path)

    # -- closing --------------------------------------------------------------------------------
    @property
    def training_running(self) -> bool:
        return self.training_tab.process.training

    def ask_running_training(self) -> str:
        """``stop`` (keep the best model), ``cancel`` (discard), or ``keep`` (don't close)."""
        box = QMessageBox(QMessageBox.Icon.Question, "A training is running",
                          "A model is being trained. What should happen to it?", parent=self)
        stop = box.addButton("Stop and keep the best model", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton("Discard the training", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep training", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        clicked = box.clickedButton()
        return "stop" if clicked is stop else "cancel" if clicked is cancel else "keep"

    def confirm_close(self) -> bool:
        """Ask about a running training and end it; False when the user wants to keep it.

        The main window calls this from its own ``closeEvent`` before quitting.
        """
        process = self.training_tab.process
        if not self.training_running:
            process.wait(30_000)  # it has reported its end and is exiting
            return True
        choice = self.ask_running_training()
        if choice == "keep":
            return False
        process.stop_early() if choice == "stop" else process.cancel()
        if not process.wait(120_000):
            process.kill()
            process.wait(10_000)
        return True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self.confirm_close():
            event.ignore()
            return
        runners = (self.data_tab.runner, self.evaluation_tab.runner, self.models_tab.runner)
        for runner in runners:
            runner.cancel()
        for runner in runners:  # each stops within a recording (a child within 30 s)
            runner.join(35.0)
        event.accept()
