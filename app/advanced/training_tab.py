"""The Training tab: settings, Train / Stop early / Cancel / Resume, live curves, time left.

The training itself runs in a child process (:class:`~app.advanced.training_process.
TrainingProcess`); this tab only builds the job, reacts to the child's events (all delivered on
the GUI thread) and redraws the curves when an epoch ends.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .dataset_summary import DatasetSummary
from .library import ModelLibrary
from .training_curves import TrainingCurves
from .training_process import InterruptedRun, TrainingProcess, interrupted_runs

MODES = (("scratch", "From scratch"),
         ("fine_tune", "Fine-tune the active model"),
         ("transfer", "Fine-tune the active model, head only (branches frozen)"))


def format_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class TrainingTab(QWidget):
    model_trained = Signal(str)  # path of the new model in the library

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.summary: DatasetSummary | None = None
        self.process = TrainingProcess(self)
        self.process.started.connect(self._on_process_started)
        self.process.progress.connect(self._on_process_progress)
        self.process.stopping.connect(self._on_process_stopping)
        self.process.finished.connect(self._on_process_finished)
        self.process.cancelled.connect(self._on_process_cancelled)
        self.process.failed.connect(self._on_process_failed)
        self.process.state_changed.connect(lambda _state: self._update_buttons())
        self.last_progress: dict[str, Any] = {}
        self.last_result: dict[str, Any] | None = None
        self.started_at = 0.0
        self.best_epoch: int | None = None
        self.eta: float | None = None

        # settings
        self.kind = QComboBox()
        for kind, text in (("fusion", "Fusion (spectrogram + waveform)"),
                           ("spectrogram", "Spectrogram transformer only"),
                           ("waveform", "Waveform CNN only")):
            self.kind.addItem(text, kind)
        self.kind.currentIndexChanged.connect(lambda _i: self._update_buttons())
        self.preset = QComboBox()
        self.preset.addItem("default (2 kHz, whole recording)", "default")
        self.preset.addItem("paper (22 kHz, first 5 s)", "paper")
        self.preset.addItem("From file...", "file")
        self.preset.activated.connect(self._on_preset_activated)
        self.mode = QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.mode.currentIndexChanged.connect(lambda _i: self._update_buttons())
        self.epochs = QSpinBox(minimum=1, maximum=500, value=30)
        self.batch_size = QSpinBox(minimum=1, maximum=512, value=32)
        self.learning_rate = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0,
                                            singleStep=1e-4, value=5e-4)
        self.val_fraction = QDoubleSpinBox(decimals=2, minimum=0.05, maximum=0.5,
                                           singleStep=0.05, value=0.2)
        self.weighting = QComboBox()
        for key, text in (("subset", "balance classes within each subset"),
                          ("global", "balance classes overall"), ("none", "none")):
            self.weighting.addItem(text, key)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=42)
        self.patience = QSpinBox(minimum=1, maximum=100, value=8)
        self.steps = QSpinBox(minimum=0, maximum=100000, value=0)
        self.steps.setSpecialValueText("all")
        self.steps.setToolTip("Cap the batches per epoch (for a quick trial run); 'all' trains "
                              "on every drawn window.")
        self.augment = QCheckBox("augment (noise, gain, time shift)")
        self.augment.setChecked(True)
        form = QFormLayout()
        form.addRow("Model", self.kind)
        form.addRow("Preset", self.preset)
        form.addRow("Start", self.mode)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Validation fraction", self.val_fraction)
        form.addRow("Class weighting", self.weighting)
        form.addRow("Early stop after (epochs)", self.patience)
        form.addRow("Batches per epoch", self.steps)
        form.addRow("Seed", self.seed)
        form.addRow("", self.augment)
        settings = QGroupBox("Settings")
        settings.setLayout(form)
        self.custom_preset: dict | None = None

        # controls
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop early")
        self.stop_button.setToolTip("Stop after the current batch and keep the best model so far")
        self.stop_button.clicked.connect(self.process.stop_early)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current batch and discard the run")
        self.cancel_button.clicked.connect(self.process.cancel)
        self.resume_choice = QComboBox()
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Go on with a run that was interrupted (crash, power cut)")
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #9f1239;")
        buttons = QHBoxLayout()
        for button in (self.train_button, self.stop_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Interrupted run:"))
        buttons.addWidget(self.resume_choice, 1)
        buttons.addWidget(self.resume_button)

        # status
        self.status = QLabel("Idle.")
        self.status.setWordWrap(True)
        self.epoch_bar = QProgressBar()
        self.epoch_bar.setFormat("epoch %v / %m")
        self.batch_bar = QProgressBar()
        self.batch_bar.setFormat("batch %v / %m")
        self.times = QLabel("Elapsed -, left -")
        bars = QHBoxLayout()
        bars.addWidget(self.epoch_bar)
        bars.addWidget(self.batch_bar)
        bars.addWidget(self.times)
        self.curves = TrainingCurves()
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._on_clock_timeout)

        right = QVBoxLayout()
        right.addLayout(buttons)
        right.addWidget(self.reason)
        right.addWidget(self.status)
        right.addLayout(bars)
        right.addWidget(self.curves, 1)
        left = QVBoxLayout()
        left.addWidget(settings)
        left.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(right, 1)
        self.refresh_runs()
        self._update_buttons()

    # -- settings -------------------------------------------------------------------------------
    def set_summary(self, summary: DatasetSummary | None) -> None:
        self.summary = summary
        self._update_buttons()

    def set_preset_file(self, path: str | Path) -> None:
        """Use a full preset from a JSON file (research use, as ``audiofuse train --preset``)."""
        self.custom_preset = json.loads(Path(path).read_text())
        name = self.custom_preset.get("name", Path(path).stem)
        index = self.preset.findData("custom")
        if index < 0:
            self.preset.insertItem(self.preset.count() - 1, "", "custom")
            index = self.preset.findData("custom")
        self.preset.setItemText(index, f"{name} (from {Path(path).name})")
        self.preset.setCurrentIndex(index)

    def _on_preset_activated(self, index: int) -> None:
        if self.preset.itemData(index) == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Preset file", "", "Preset (*.json)")
            if path:
                self.set_preset_file(path)
            else:
                self.preset.setCurrentIndex(0)

    def build_job(self) -> tuple[dict[str, Any], Path]:
        """The job the child runs, and its run folder."""
        if self.summary is None:
            raise RuntimeError("no data set scanned")
        kind = self.kind.currentData()
        mode = self.mode.currentData()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = self.library.new_model_path(f"{kind}-{stamp}")
        run_dir = self.library.runs_dir / out.stem
        preset_key = self.preset.currentData()
        preset = self.custom_preset if preset_key == "custom" else preset_key
        config: dict[str, Any] = {
            "out": str(out), "run_dir": str(run_dir), "preset": preset, "kind": kind,
            "epochs": self.epochs.value(), "batch_size": self.batch_size.value(),
            "learning_rate": self.learning_rate.value(),
            "val_fraction": self.val_fraction.value(),
            "class_weighting": self.weighting.currentData(), "seed": self.seed.value(),
            "patience": self.patience.value(), "augment": self.augment.isChecked(),
            "steps_per_epoch": self.steps.value() or None,
            "cache_dir": str(self.library.root / "cache"),
        }
        if mode in ("fine_tune", "transfer"):
            config["init_model"] = str(self.library.active_path())
            config["freeze_branches"] = mode == "transfer"
        job = {"folders": [str(p) for p in self.summary.folders],
               "artifact_as_abnormal": False, "config": config,
               "created": stamp}
        return job, run_dir

    def problem(self) -> str | None:
        """Why Train is disabled, or None."""
        if self.process.running:
            return None
        if self.summary is None:
            return "Choose and scan a data-set folder on the Data tab first."
        if self.summary.problem:
            return self.summary.problem
        if self.mode.currentData() == "transfer" and self.kind.currentData() != "fusion":
            return "Head-only fine-tuning needs a fusion model (it freezes both branches)."
        return None

    # -- actions --------------------------------------------------------------------------------
    def start_training(self) -> None:
        problem = self.problem()
        if problem or self.process.running:
            return
        job, run_dir = self.build_job()
        self._begin(f"Starting a training on {self.summary.n_records} recordings...")
        self.process.start(job, run_dir)

    def resume(self, run: InterruptedRun) -> None:
        if self.process.running:
            return
        self._begin(f"Resuming {run.name} after epoch {run.epochs_done}...")
        self.process.start(run.job, run.run_dir, resume=True)

    def _on_resume_clicked(self) -> None:
        run = self.resume_choice.currentData()
        if run is not None:
            self.resume(run)

    def refresh_runs(self) -> None:
        self.resume_choice.clear()
        for run in interrupted_runs(self.library.runs_dir):
            self.resume_choice.addItem(run.describe(), run)
        self._update_buttons()

    def _begin(self, text: str) -> None:
        self.last_progress, self.last_result, self.best_epoch = {}, None, None
        self.eta: float | None = None
        self.curves.clear()
        self.status.setText(text)
        self.epoch_bar.setValue(0)
        self.batch_bar.setValue(0)
        self.started_at = time.monotonic()
        self.clock.start()

    def _update_buttons(self) -> None:
        running = self.process.running
        stopping = self.process.state == "stopping"
        problem = self.problem()
        self.train_button.setEnabled(not running and problem is None)
        self.train_button.setToolTip(problem or "Train a new model on the scanned data")
        self.reason.setText(problem or "")
        self.reason.setVisible(bool(problem))
        self.stop_button.setEnabled(running and not stopping)
        self.cancel_button.setEnabled(running and self.process._request != "cancel")
        self.resume_button.setEnabled(not running and self.resume_choice.count() > 0)
        self.resume_choice.setEnabled(not running)

    # -- child events ---------------------------------------------------------------------------
    def _on_process_started(self, message: dict) -> None:
        self.status.setText("Loading TensorFlow and the recordings...")

    def _on_process_progress(self, p: dict) -> None:
        self.last_progress = p
        if p.get("eta") is not None:
            self.eta = float(p["eta"])
        if self.process.state == "stopping":
            pass
        elif p.get("phase") == "loading":
            self.status.setText(f"Loading recordings {p.get('loaded')}/{p.get('to_load')}...")
        elif p.get("phase") == "validating":
            self.status.setText(p.get("message") and f"Finishing: {p['message']}..."
                                or f"Validating epoch {p.get('epoch')}...")
        elif p.get("phase") == "training":
            loss = p.get("loss")
            self.status.setText(f"Training epoch {p.get('epoch')} of {p.get('epochs')}"
                                + (f", loss {loss:.4f}" if loss is not None else ""))
        if p.get("epochs"):
            self.epoch_bar.setMaximum(int(p["epochs"]))
            self.epoch_bar.setValue(len(p.get("history") or []))
        if p.get("batches"):
            self.batch_bar.setMaximum(int(p["batches"]))
            self.batch_bar.setValue(int(p.get("batch") or 0))
        self.best_epoch = p.get("best_epoch") or self.best_epoch
        self.curves.set_history(p.get("history") or [], self.best_epoch)
        self._on_clock_timeout()

    def _on_clock_timeout(self) -> None:
        elapsed = time.monotonic() - self.started_at
        eta = self.eta
        best = f", best epoch {self.best_epoch}" if self.best_epoch else ""
        self.times.setText(f"Elapsed {format_seconds(elapsed)}, left "
                           f"{format_seconds(eta) if eta is not None else 'estimating'}{best}")

    def _on_process_stopping(self, command: str) -> None:
        self.status.setText("Stopping... (after the current batch"
                            + (", keeping the best model so far)" if command == "stop"
                               else ", discarding the run)"))
        self._update_buttons()

    def _on_process_finished(self, result: dict) -> None:
        self.clock.stop()
        self.last_result = result
        self.best_epoch = result.get("best_epoch")
        self.curves.set_history(result.get("history") or [], self.best_epoch)
        auc = (result.get("validation") or {}).get("roc_auc")
        how = "stopped early" if result.get("stopped_early") else "finished"
        self.status.setText(
            f"Training {how}: saved {Path(result['model_path']).name} (best epoch "
            f"{result.get('best_epoch')}, validation ROC-AUC "
            f"{'n/a' if auc is None else f'{auc:.3f}'}). Compare it with the active model on "
            "the Models tab before making it active.")
        self.refresh_runs()
        self.model_trained.emit(result["model_path"])

    def _on_process_cancelled(self) -> None:
        self.clock.stop()
        self.status.setText("Training cancelled; nothing was kept.")
        self.curves.clear()
        self.refresh_runs()

    def _on_process_failed(self, reason: str) -> None:
        self.clock.stop()
        self.status.setText(f"Training failed: {reason}")
        self.refresh_runs()
