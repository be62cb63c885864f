"""The main window: opens recordings, shows them, plays them, classifies them.

The window is where the pieces meet, all on the GUI thread:

- :class:`~app.display_loader.DisplayLoader` reads the recording on screen for the views;
- :class:`~app.model_runner.ModelRunner` loads the model after the window has appeared and
  classifies the recording on screen (ahead of the queue) and every recording of a batch;
- :class:`~app.player.Player` plays the recording with a playhead;
- :class:`~app.recording_view.RecordingView`, :class:`~app.result_panel.ResultPanel` and
  :class:`~app.batch_table.BatchPanel` show what comes back; the view marks the heart cycles of
  the result and, on request (Analysis > Show what drove the result), draws the occlusion map
  that the runner computes on the model thread. Opening another recording, or another model,
  stops that map and forgets it: a map is only ever drawn over the recording it was made for.

A file that cannot be read never raises here: its one-line reason appears in a banner above the
views (and in the table's row for a batch). Results are kept per file for the session, so
selecting a classified row shows its answer without running the model again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from audiofuse_core import __version__

from . import shortcuts
from .batch_results import CANCELLED, CLASSIFYING, FAILED, WAITING, BatchRow, write_csv
from .batch_table import BatchPanel
from .colours import ERROR
from .display_data import DisplayData
from .display_loader import DisplayLoader
from .files import FILE_FILTER, expand_paths
from .help_dialog import ShortcutsDialog
from .model_runner import ModelInfo, ModelRunner, Request
from .player import PLAYING, STOPPED, Player
from .record_panel import RecordPanel, scrollable
from .recording_view import RecordingView
from .recovery_dialog import RecoveryDialog
from .report_dialog import ReportDialog
from .report_pdf import ReportFields, write_report
from .result_cache import ResultCache
from .result_panel import ResultPanel
from .settings import Settings

log = logging.getLogger(__name__)

ABOUT_TEXT = f"""<p><b>AudioFuse {__version__}</b>: heart-sound classification for clinicians.</p>
<p>Decision support only: not a diagnosis.</p>
<p>The model is a re-implementation of AudioFuse (Siddiqui &amp; Saha, arXiv 2509.23454),
trained on the PhysioNet/CinC Challenge 2016 recordings (ODC-By; Liu C. et al., Physiol. Meas.
37(12):2181-2213, 2016). Built with Qt for Python (PySide6, LGPL), pyqtgraph (MIT), Keras and
TensorFlow (Apache 2.0), librosa (ISC), soundfile and sounddevice (MIT).</p>"""


class MainWindow(QMainWindow):
    """AudioFuse's window. Call :meth:`start` once it is shown."""

    recording_shown = Signal(object)  # DisplayData
    recording_failed = Signal(str)  # one-line reason, as shown in the banner
    result_shown = Signal(object)  # the Prediction shown for the recording on screen
    explanation_shown = Signal(object)  # the OcclusionMap drawn over the spectrogram
    batch_finished = Signal()
    model_ready = Signal(object)  # ModelInfo
    file_dialog_opened = Signal(object)  # QFileDialog (open/save dialogs are not modal)
    recovery_offered = Signal(object)  # RecoveryDialog: interrupted recordings found at start

    def __init__(self, settings: Settings | None = None, *, model_path: str | Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or Settings()
        self.model_path = Path(model_path) if model_path else self.settings.model_path
        # a model remembered from an earlier session (not one given now, which must be used or
        # fail loudly): start() falls back to the active model when its file is gone
        self._remembered_model = None if model_path else self.settings.model_path
        self.current_path: Path | None = None
        self.current_data: DisplayData | None = None
        self.results = ResultCache()  # Prediction per file, this session, while unchanged
        self._screen_request: Request | None = None
        self._explain_request: Request | None = None  # the occlusion map being computed
        self._explanation = None  # the OcclusionMap of the recording on screen, once computed
        self._batch_ids: set[int] = set()
        self.file_dialog: QFileDialog | None = None
        self.report_dialog: ReportDialog | None = None
        self.setWindowTitle("AudioFuse")
        self.setObjectName("main_window")
        self.setAcceptDrops(True)

        self.runner = ModelRunner(self)
        self.loader = DisplayLoader(self)
        self.player = Player(self.settings.output_device, self)

        self.view = RecordingView()
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(f"background: #fef2f2; color: {ERROR}; padding: 6px; "
                                  "border: 1px solid #fecaca; font-weight: bold;")
        self.banner.hide()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        self.record_panel = RecordPanel(self.settings)
        layout.addWidget(self.record_panel.live_view, 1)  # in place of the views while recording
        self.setCentralWidget(central)

        self.result_panel = ResultPanel()
        self.result_dock = QDockWidget("Result", self)
        self.result_dock.setObjectName("result_dock")
        self.result_dock.setWidget(self.result_panel)
        self.result_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.result_dock)
        self.batch_panel = BatchPanel()
        self.batch_dock = QDockWidget("Recordings", self)
        self.batch_dock.setObjectName("batch_dock")
        self.batch_dock.setWidget(self.batch_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.batch_dock)
        self.record_dock = QDockWidget("Record", self)
        self.record_dock.setObjectName("record_dock")
        self.record_dock.setWidget(scrollable(self.record_panel))
        self.record_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.record_dock)
        self.batch_dock.hide()

        self.model_status = QLabel("Model: not loaded yet")
        self.model_status.setObjectName("model_status")
        self.statusBar().addPermanentWidget(self.model_status)

        self.actions = shortcuts.create_actions(self, self.view, self._handlers())
        self.actions["show_cycles"].setChecked(self.settings.show_cycle_markers)
        self.view.set_markers_visible(self.settings.show_cycle_markers)
        self._build_menus()
        self._build_toolbar()
        self._connect()
        self._update_actions()
        geometry = self.settings.window_geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        self.batch_dock.setVisible(False)

    # -- construction --------------------------------------------------------------------------
    def _handlers(self) -> dict[str, object]:
        view = self.view
        return {
            "open": self.ask_open_files, "open_folder": self.ask_open_folder,
            "export_report": self.ask_export_report, "export_csv": self.ask_export_csv,
            "quit": self.close, "zoom_in": view.zoom_in, "zoom_out": view.zoom_out,
            "fit": view.fit, "step_back": view.step_back, "step_forward": view.step_forward,
            "page_back": view.page_back, "page_forward": view.page_forward,
            "to_start": view.to_start, "to_end": view.to_end, "play_pause": self.play_pause,
            "clear_selection": view.clear_selection, "cancel": self.cancel_batch,
            "show_cycles": self.toggle_cycle_markers, "explain": self.toggle_explanation,
            "choose_model": self.ask_model_file, "model_card": self.show_model_card,
            "shortcuts": self.show_shortcuts, "about": self.show_about,
            "record": self.toggle_recording,
            "advanced": self.open_advanced,
            "example_normal": lambda: self.open_example("normal"),
            "example_abnormal": lambda: self.open_example("abnormal"),
        }

    def _build_menus(self) -> None:
        menus = {}
        for name in ("File", "View", "Playback", "Analysis", "Tools", "Help"):
            menus[name] = self.menuBar().addMenu("&" + name)
        self.recent_menu = None
        for command in shortcuts.COMMANDS:
            menu = menus[command.group]
            if command.id == "export_report":
                self.recent_menu = menu.addMenu("Open &recent")
                self.recent_menu.setObjectName("recent_menu")
                self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
                menu.addSeparator()
            if command.id in ("quit", "shortcuts", "show_cycles"):
                menu.addSeparator()
            menu.addAction(self.actions[command.id])
        self.device_menu = menus["Playback"].addMenu("Output &device")
        self.device_menu.setObjectName("device_menu")
        self.device_menu.aboutToShow.connect(self._fill_device_menu)
        self._fill_recent_menu()

    def _build_toolbar(self) -> None:
        bar = QToolBar("Tools", self)
        bar.setObjectName("main_toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for command_id in ("open", "open_folder", "record", None, "play_pause", None, "zoom_in",
                           "zoom_out", "fit", None, "export_report", None, "shortcuts"):
            if command_id is None:
                bar.addSeparator()
            else:
                bar.addAction(self.actions[command_id])
        self.addToolBar(bar)
        self.toolbar = bar

    def _connect(self) -> None:
        runner = self.runner
        runner.model_loading.connect(self._on_model_loading)
        runner.model_ready.connect(self._on_model_ready)
        runner.model_failed.connect(self._on_model_failed)
        runner.prediction_started.connect(self._on_prediction_started)
        runner.prediction_ready.connect(self._on_prediction_ready)
        runner.prediction_failed.connect(self._on_prediction_failed)
        runner.request_cancelled.connect(self._on_request_cancelled)
        runner.explanation_progress.connect(self._on_explanation_progress)
        runner.explanation_ready.connect(self._on_explanation_ready)
        runner.explanation_failed.connect(self._on_explanation_failed)
        self.view.explanation_stop_requested.connect(self.stop_explanation)
        runner.idle.connect(self._on_runner_idle)
        self.loader.loaded.connect(self._on_recording_loaded)
        self.loader.failed.connect(self._on_recording_failed)
        self.player.state_changed.connect(self._on_player_state_changed)
        self.record_panel.output_busy = lambda: (
            "Stop playback to look for newly connected devices."
            if self.player.state != STOPPED else None)
        self.player.position_changed.connect(self._on_player_position)
        self.player.availability_changed.connect(lambda _reason: self._update_actions())
        self.player.message.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.batch_panel.recording_selected.connect(self._on_batch_row_selected)
        self.batch_panel.cancel_requested.connect(self.cancel_batch)
        self.batch_panel.export_requested.connect(self.ask_export_csv)
        self.record_panel.recording_started.connect(self._on_recording_started)
        self.record_panel.recording_finished.connect(self._on_recording_finished)
        self.record_panel.availability_changed.connect(lambda _reason: self._update_actions())

    def start(self, paths: list[str | Path] | None = None) -> None:
        """After the window is shown: load the model, look for an output device, open files.

        The model is the one given (command line or "Use another model file"), else the active
        model of the Advanced panel's library (the bundled model until the user activates
        another): one place decides, so the panel and the window never disagree.
        """
        remembered = self._remembered_model
        if remembered is not None and not remembered.is_file():
            # chosen earlier with "Use another model file", deleted or moved since: forget it
            # and say so, rather than fail to classify at every start
            self.settings.model_path = None
            self.model_path = None
            log.warning("the model chosen earlier, %s, is gone; using the library's active model",
                        remembered)
            QTimer.singleShot(0, lambda: self.statusBar().showMessage(
                f"The model chosen earlier ({remembered.name}) is no longer there: using the "
                f"active model instead (Analysis > About the model says which).", 30_000))
        if self.model_path is None:
            self.model_path = self._library_model()
        self.runner.load_model(self.model_path)
        self.player.check_device()
        QTimer.singleShot(0, self._start_recording_panel)
        if paths:
            self.open_paths(paths)

    # -- opening -------------------------------------------------------------------------------
    def open_paths(self, paths: list[str | Path]) -> None:
        """Open what the user gave: one recording is shown and classified; several (or a
        folder) are classified in the table, the first shown.
        """
        if self._refuse_while_recording():
            return
        given = [Path(p) for p in paths]
        files = expand_paths(given)
        if not files:
            folders = ", ".join(p.name or str(p) for p in given)
            self._show_banner(f"{folders}: no recordings found (WAV, FLAC, OGG or MP3 expected)")
            return
        if len(files) == 1 and not any(p.is_dir() for p in given):
            self.open_recording(files[0])
            return
        # a recording already in the table (waiting, being classified or done) is not added
        # twice; a failed or cancelled one is tried again
        listed = {Path(r.path).absolute() for r in self.batch_panel.rows
                  if r.status not in (CANCELLED, FAILED)}
        new = [f for f in files if Path(f).absolute() not in listed]
        if new:
            self.start_batch(new)
        if len(new) < len(files):
            self.statusBar().showMessage(
                f"{len(files) - len(new)} of {len(files)} recordings are already in the table: "
                f"not added again.", 10_000)
        self.open_recording(files[0], classify=not self._queued_in_table(files[0]))

    def _queued_in_table(self, path: str | Path) -> bool:
        """Whether the table's queue will classify ``path`` (waiting or being classified)."""
        path = Path(path).absolute()
        return any(Path(r.path).absolute() == path for r in self.batch_panel.rows
                   if r.status in (WAITING, CLASSIFYING))

    def open_recording(self, path: str | Path, *, classify: bool = True) -> None:
        """Show ``path`` and classify it (unless it is already classified or in a batch)."""
        if self._refuse_while_recording():
            return
        path = Path(path).absolute()
        self.player.stop()
        self._forget_explanation()
        self.current_path = path
        self.current_data = None
        self._hide_banner()
        self.setWindowTitle(f"AudioFuse: {path.name}")
        if path.is_file():
            self.settings.add_recent(path)
            self.settings.last_folder = path.parent
        self.loader.load(path)
        self.result_panel.show_recording(path, None, None)
        cached = self.results.get(path)
        if cached is not None:
            self.result_panel.show_prediction(cached)
            self._screen_request = None
        elif classify:
            self._screen_request = self.runner.classify(path, front=True)
            self.result_panel.show_message(self._waiting_text())
        else:
            self._screen_request = None
            self.result_panel.show_message("Waiting its turn in the table…")
        self._update_actions()

    def _refuse_while_recording(self) -> bool:
        """While recording, the screen belongs to the recording: opening another one would put
        its result beside the live view. Say so instead; returns whether it was refused.
        """
        if not self.record_panel.session.active:
            return False
        self.statusBar().showMessage("Recording in progress: stop it (Ctrl+R) before opening "
                                     "another recording.", 10_000)
        return True

    def start_batch(self, files: list[Path]) -> int:
        batch = self.runner.new_batch()
        self._batch_ids.add(batch)
        for path in files:
            request = self.runner.classify(path, batch=batch)
            self.batch_panel.add(path, request.id)
        self.batch_dock.show()
        self.batch_dock.raise_()
        self.statusBar().showMessage(f"Classifying {len(files)} recordings…", 5000)
        self._update_actions()
        return batch

    def cancel_batch(self) -> None:
        cancelled = self.runner.cancel()
        if cancelled:
            self.statusBar().showMessage(f"Cancelled: {cancelled} recording(s) not classified.",
                                         8000)

    def _waiting_text(self) -> str:
        if self.runner.model_error:
            return f"Cannot classify: the model could not be loaded ({self.runner.model_error})"
        if self.runner.model_info is None:
            return "Classifying as soon as the model is loaded (a few seconds at start)…"
        return "Classifying…"

    # -- dialogs --------------------------------------------------------------------------------
    def _file_dialog(self, title: str, mode: QFileDialog.FileMode, name_filter: str | None,
                     accept_mode: QFileDialog.AcceptMode, on_done) -> QFileDialog:
        dialog = QFileDialog(self, title, str(self.settings.last_folder or Path.home()))
        dialog.setObjectName("file_dialog")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setFileMode(mode)
        dialog.setAcceptMode(accept_mode)
        if name_filter:
            dialog.setNameFilter(name_filter)
        dialog.filesSelected.connect(lambda files: on_done([Path(f) for f in files]))
        dialog.finished.connect(dialog.deleteLater)
        self.file_dialog = dialog
        dialog.open()
        self.file_dialog_opened.emit(dialog)
        return dialog

    def ask_open_files(self) -> None:
        self._file_dialog("Open recordings", QFileDialog.FileMode.ExistingFiles, FILE_FILTER,
                          QFileDialog.AcceptMode.AcceptOpen, self.open_paths)

    def ask_open_folder(self) -> None:
        self._file_dialog("Classify every recording in a folder", QFileDialog.FileMode.Directory,
                          None, QFileDialog.AcceptMode.AcceptOpen, self.open_paths)

    def ask_export_csv(self) -> None:
        if not self.batch_panel.rows:
            self.statusBar().showMessage("The results table is empty: open several recordings "
                                         "or a folder first.", 8000)
            return
        dialog = self._file_dialog("Export the results table", QFileDialog.FileMode.AnyFile,
                                   "CSV files (*.csv)", QFileDialog.AcceptMode.AcceptSave,
                                   lambda files: self.export_csv(files[0]))
        dialog.setDefaultSuffix("csv")
        dialog.selectFile("audiofuse-results.csv")

    def export_csv(self, path: Path) -> Path | None:
        try:
            written = write_csv(self.batch_panel.visible_rows(), path)
        except OSError as exc:
            reason = exc.strerror or exc
            self._show_banner(f"{Path(path).name}: the table could not be saved ({reason})")
            return None
        self.statusBar().showMessage(f"Saved {written}", 8000)
        return written

    def ask_model_file(self) -> None:
        self._file_dialog("Use another model file", QFileDialog.FileMode.ExistingFile,
                          "AudioFuse models (*.keras)", QFileDialog.AcceptMode.AcceptOpen,
                          lambda files: self.use_model(files[0]))

    @staticmethod
    def _library_model() -> Path | None:
        """The library's active model (None: the bundled model, as the runner defaults)."""
        from .advanced import active_model_path

        try:
            return active_model_path()
        except (OSError, ValueError) as exc:  # an unreadable library.json: say so, go on
            log.warning("the model library could not be read (%s); using the bundled model",
                        exc)
            return None

    def use_model(self, path: Path | None, *, remember: bool = True) -> None:
        """Classify with ``path`` from now on (None: the bundled model); reclassify the
        recording on screen. ``remember=False`` (the Advanced panel activated a model): the
        library's active model rules from now on, and a file chosen earlier is forgotten.
        """
        self.model_path = path
        self.settings.model_path = path if remember else None
        self.results.clear()
        self._forget_explanation()
        self.runner.load_model(path)
        if self.current_path is not None:
            self.view.set_prediction(None)
            self._screen_request = self.runner.classify(self.current_path, front=True)
            self.result_panel.show_message(self._waiting_text())

    def ask_export_report(self) -> None:
        if self.current_data is None or self.current_path is None:
            self.statusBar().showMessage("Open a recording first: the report is about the "
                                         "recording on screen.", 8000)
            return
        folder = self.settings.last_folder or Path.home()
        if not folder.is_dir():
            folder = Path.home()
        default = folder / f"{self.current_path.stem}-report.pdf"
        dialog = ReportDialog(default, self.write_report, self,
                              also_printed={"Recording file": self.current_path.name})
        dialog.saved.connect(lambda path: self.statusBar().showMessage(f"Saved {path}", 10_000))
        dialog.finished.connect(dialog.deleteLater)
        self.report_dialog = dialog
        dialog.open()

    def write_report(self, path: Path, fields: ReportFields) -> Path:
        """Write the PDF report of the recording on screen."""
        prediction = self.results.get(self.current_path) if self.current_path else None
        info = self.runner.model_info
        metadata = dict(info.metadata) if info is not None else {}
        if info is not None:
            metadata.setdefault("kind", info.kind)
            metadata.setdefault("preset", {"sample_rate": info.sample_rate,
                                           "window_seconds": info.window_seconds})
        image = self.view.render_image()
        return write_report(path, fields, prediction, metadata, image,
                            recording_path=self.current_path)

    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self)
        dialog.finished.connect(dialog.deleteLater)
        self.shortcuts_dialog = dialog
        dialog.open()

    def show_model_card(self) -> None:
        info = self.runner.model_info
        dialog = QDialog(self)
        dialog.setWindowTitle("About the model")
        dialog.setObjectName("model_card_dialog")
        browser = QTextBrowser()
        if info is not None:
            from audiofuse_core.model_card import render_model_card

            metadata = dict(info.metadata)
            metadata.setdefault("kind", info.kind)
            browser.setMarkdown(render_model_card(metadata))
        else:
            browser.setPlainText(self.runner.model_error or "The model is still loading.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(browser)
        layout.addWidget(buttons)
        dialog.resize(760, 640)
        dialog.finished.connect(dialog.deleteLater)
        self.model_card_dialog = dialog
        dialog.open()

    def open_advanced(self) -> None:
        """Open (or bring forward) the Advanced panel: training, evaluation, model library."""
        panel = getattr(self, "advanced_panel", None)
        if panel is not None and panel.isVisible():
            panel.raise_()
            panel.activateWindow()
            return
        from .advanced import open_advanced_panel

        self.advanced_panel = open_advanced_panel(
            self, model_activated=lambda path: self.use_model(Path(path), remember=False))

    def open_example(self, label: str) -> None:
        """Open the bundled example recording whose reference label is ``label``."""
        from audiofuse_core.resources import example_recordings

        for path in example_recordings():
            if path.name.startswith(label + "-"):
                self.open_paths([path])
                return
        self._show_banner(f"The example recording of a {label} heart is missing from this "
                          "installation (resources/examples).")

    def show_about(self) -> None:
        QMessageBox.about(self, "About AudioFuse", ABOUT_TEXT)

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = self.settings.recent_files()
        for path in files:
            action = menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.setData(str(path))
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if not files:
            menu.addAction("No recent recordings").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear the list", self.settings.clear_recent)

    def _fill_device_menu(self) -> None:
        from .player import PlaybackUnavailable, list_output_devices

        menu = self.device_menu
        menu.clear()
        if self.player.state != STOPPED:
            menu.addAction("Stop playback to change the device").setEnabled(False)
            return
        busy = self.record_panel.input_busy()  # a rescan would cut the stethoscope's stream
        if busy:
            menu.addAction(busy).setEnabled(False)
        try:
            devices = list_output_devices(rescan=not busy)
        except PlaybackUnavailable as exc:
            devices = []
            menu.addAction(str(exc)).setEnabled(False)
        group = QActionGroup(menu)
        current = self.player.device.name if self.player.device else None
        for device in devices:
            action = QAction(device.label + ("  (system default)" if device.is_default else ""),
                             menu, checkable=True)
            action.setChecked(device.name == current)
            action.triggered.connect(lambda _=False, name=device.name: self.choose_device(name))
            group.addAction(action)
            menu.addAction(action)
        if not devices and not menu.actions():
            menu.addAction("No output device found").setEnabled(False)
        self.player.check_device()
        self._update_actions()

    def choose_device(self, name: str) -> None:
        self.player.set_device(name)
        if self.player.available and self.player.device_name == name:
            self.settings.output_device = name
        self._update_actions()

    # -- recording ------------------------------------------------------------------------------
    def _start_recording_panel(self) -> None:
        """After start-up: look for input devices, then offer interrupted recordings."""
        self.record_panel.refresh()
        self.offer_recovery()

    def toggle_recording(self) -> None:
        """Record from the stethoscope, or stop, save and classify (Ctrl+R)."""
        panel = self.record_panel
        if not panel.session.active and not panel.available:
            self.statusBar().showMessage(panel.unavailable_reason or "", 10_000)
            return
        self.record_dock.show()
        panel.toggle()

    def _on_recording_started(self, info) -> None:
        self.player.stop()
        self._hide_banner()
        self.view.hide()
        self.record_panel.live_view.show()
        self.result_panel.show_recording(None, None, None)
        self.result_panel.show_message("Recording… The result appears here once the recording "
                                       "is saved.")
        self.statusBar().showMessage(f"Recording from {info.device}; Ctrl+R stops and saves.",
                                     10_000)
        self._update_actions()

    def _on_recording_finished(self, result) -> None:
        """Open and classify the saved recording as an opened file; say what went wrong."""
        self.record_panel.live_view.hide()
        self.view.show()
        if result.path is not None:
            self.open_recording(result.path)
        elif self.current_path is not None:  # nothing saved: back to the recording shown before
            self.open_recording(self.current_path)
        else:
            self.result_panel.show_message(result.message, error=True)
        problems = " ".join(text for text in (result.message, *result.warnings) if text)
        if problems:
            self._show_banner(problems)
        elif result.path is not None:
            self.statusBar().showMessage(f"Saved {result.path}", 10_000)
        self._update_actions()

    def offer_recovery(self) -> RecoveryDialog | None:
        """Offer the recordings an AudioFuse killed mid-recording left in the recordings folder;
        the recovered ones are opened and classified.
        """
        from .recording import find_partial_recordings

        folder = self.settings.recordings_folder
        partials = find_partial_recordings(folder) if folder.is_dir() else []
        if not partials:
            return None
        dialog = RecoveryDialog(partials, self)
        dialog.recovered.connect(self.open_paths)
        dialog.finished.connect(dialog.deleteLater)
        self.recovery_dialog = dialog
        dialog.open()
        self.recovery_offered.emit(dialog)
        return dialog

    # -- playback ---------------------------------------------------------------------------
    def play_pause(self) -> None:
        if self.current_data is None:
            self.statusBar().showMessage("Open a recording to play it.", 5000)
            return
        if not self.player.available:
            self.statusBar().showMessage(self.player.unavailable_reason or "", 10_000)
            return
        start, end = self.view.playback_span()
        self.player.toggle(start, end)

    def _on_player_state_changed(self, state: str) -> None:
        if state == STOPPED:
            self.view.set_playhead(None)
        action = self.actions["play_pause"]
        action.setText("&Pause" if state == PLAYING else "&Play")
        self._update_actions()

    def _on_player_position(self, time_s: float) -> None:
        self.view.set_playhead(time_s)

    # -- loader and runner ----------------------------------------------------------------------
    def _on_recording_loaded(self, data: DisplayData) -> None:
        if data.path is None or Path(data.path).absolute() != self.current_path:
            return
        self.current_data = data
        self.view.set_data(data)
        self.player.set_audio(data.audio.samples, data.audio.sample_rate)
        self.result_panel.show_recording(self.current_path, data.duration,
                                         data.audio.original_rate)
        prediction = self.results.get(self.current_path)
        if prediction is not None:
            self._show_prediction(prediction)
        self.view.graphics.setFocus(Qt.FocusReason.OtherFocusReason)
        self._update_actions()
        self.recording_shown.emit(data)

    def _on_recording_failed(self, path: str, reason: str) -> None:
        if Path(path).absolute() != self.current_path:
            return
        self.current_data = None
        self.player.clear()
        self.view.clear()
        self._show_banner(reason)
        self.result_panel.show_message(reason, error=True)
        self._update_actions()
        self.recording_failed.emit(reason)

    def _on_model_loading(self, path: str) -> None:
        self.model_status.setText(f"Model: loading {Path(path).name}…")
        self.model_status.setStyleSheet("")
        self.statusBar().showMessage("Loading the model in the background…", 5000)

    def _on_model_ready(self, info: ModelInfo) -> None:
        self.model_status.setText(f"Model: {info.name} ({info.version}), threshold "
                                  f"{info.threshold:.2f}")
        self.model_status.setToolTip(str(info.path))
        self.model_status.setStyleSheet("")
        self.result_panel.show_model(info.name, info.version)
        if self._screen_request is not None and self.result_panel.prediction is None:
            self.result_panel.show_message(self._waiting_text())
        self.model_ready.emit(info)

    def _on_model_failed(self, reason: str) -> None:
        self.model_status.setText("Model: not available")
        self.model_status.setToolTip(reason)
        self.model_status.setStyleSheet(f"color: {ERROR};")
        self.statusBar().showMessage(f"The model could not be loaded: {reason}", 15_000)

    def _row_of(self, request: Request) -> BatchRow | None:
        return self.batch_panel.model.row_of(request.id) if request.batch is not None else None

    def _on_prediction_started(self, request: Request) -> None:
        row = self._row_of(request)
        if row is not None:
            row.status = CLASSIFYING
            self.batch_panel.update_row(row)
        if request.path == self.current_path and self.result_panel.prediction is None \
                and self.current_data is not None:
            self.result_panel.show_message("Classifying…")

    def _on_prediction_ready(self, request: Request, prediction) -> None:
        self.results[request.path] = prediction
        row = self._row_of(request)
        if row is not None:
            row.set_prediction(prediction)
            self.batch_panel.update_row(row)
        if request.path == self.current_path:
            if request is self._screen_request:
                self._screen_request = None
            self._show_prediction(prediction)

    def _show_prediction(self, prediction) -> None:
        self.result_panel.show_prediction(prediction)
        if self.current_data is not None:
            self.view.set_prediction(prediction)
        self._update_actions()
        self.result_shown.emit(prediction)

    def _on_prediction_failed(self, request: Request, reason: str) -> None:
        row = self._row_of(request)
        if row is not None:
            row.set_failed(reason)
            self.batch_panel.update_row(row)
        if request.path == self.current_path and self.results.get(request.path) is None:
            self.result_panel.show_message(reason, error=True)
            self._show_banner(reason)  # e.g. readable but too short: said where one looks

    def _on_request_cancelled(self, request: Request) -> None:
        if request is self._explain_request:  # stopped by the runner (another model)
            self._forget_explanation()
        row = self._row_of(request)
        if row is not None:
            row.status = CANCELLED
            self.batch_panel.update_row(row)

    def _on_runner_idle(self) -> None:
        self._update_actions()
        if self._batch_ids and not any(r.status in (WAITING, CLASSIFYING)
                                       for r in self.batch_panel.rows):
            self._batch_ids.clear()
            self.statusBar().showMessage(f"Table: {self.batch_panel.progress_label.text()}.",
                                         10_000)
            self.batch_finished.emit()

    def _on_batch_row_selected(self, row: BatchRow) -> None:
        if row.path == self.current_path:
            return
        # open_recording shows a standing answer; a row without one for the current model
        # (failed, cancelled, or done with a model since replaced) is classified now, the row
        # keeping the answer it got with that model's name in its columns
        self.open_recording(row.path, classify=row.status not in (WAITING, CLASSIFYING))

    # -- heart cycles and what drove the result --------------------------------------------------
    def toggle_cycle_markers(self) -> None:
        """View > Heart-cycle markers: show or hide them, and remember the choice."""
        shown = self.actions["show_cycles"].isChecked()
        self.settings.show_cycle_markers = shown
        self.view.set_markers_visible(shown)

    def toggle_explanation(self) -> None:
        """Analysis > Show what drove the result: draw the occlusion map of the recording on
        screen (computed once, on the model thread), or hide it; unchecked while it is being
        computed, it stops.
        """
        action = self.actions["explain"]
        if not action.isChecked():
            if self._explain_request is not None:
                self.stop_explanation()
            else:
                self.view.set_explanation_visible(False)
            return
        if self._explanation is not None:
            self.view.set_explanation_visible(True)
            return
        if self.current_path is None or self.current_data is None:
            action.setChecked(False)
            return
        self._explain_request = self.runner.explain(self.current_path)
        self.view.show_explanation_progress(0.0)
        self.statusBar().showMessage("Working out what drove the result (some seconds)…", 5000)

    def stop_explanation(self) -> None:
        """Stop computing the map (the Stop button, or unchecking the command)."""
        self._forget_explanation()
        self.statusBar().showMessage("Stopped: what drove the result was not worked out.", 5000)

    def _forget_explanation(self) -> None:
        if self._explain_request is not None:
            self._explain_request = None
            self.runner.cancel_explanation()
        self._explanation = None
        self.actions["explain"].setChecked(False)
        self.view.clear_explanation()

    def _on_explanation_progress(self, request: Request, fraction: float) -> None:
        if request is self._explain_request:
            self.view.show_explanation_progress(fraction)

    def _on_explanation_ready(self, request: Request, occlusion) -> None:
        if request is not self._explain_request:
            return  # made for a recording no longer on screen
        self._explain_request = None
        self._explanation = occlusion
        prediction = self.results.get(self.current_path)
        refused = prediction is not None and prediction.label not in ("normal", "abnormal")
        windows_only = prediction is not None and "feature_expert_probability" in (
            getattr(prediction, "extra", None) or {})
        self.view.set_explanation(occlusion, refused=refused, windows_only=windows_only)
        self.view.set_explanation_visible(self.actions["explain"].isChecked())
        self.statusBar().showMessage("What drove the result is drawn over the spectrogram.",
                                     5000)
        self.explanation_shown.emit(occlusion)

    def _on_explanation_failed(self, request: Request, reason: str) -> None:
        if request is not self._explain_request:
            return
        self._forget_explanation()
        self.statusBar().showMessage(f"What drove the result could not be worked out: {reason}",
                                     15_000)

    # -- banner and actions ---------------------------------------------------------------------
    def _show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.show()
        self.statusBar().showMessage(text, 10_000)

    def _hide_banner(self) -> None:
        self.banner.hide()
        self.banner.clear()

    def _update_actions(self) -> None:
        # While recording, the views of the recording opened before are hidden: playing,
        # navigating or exporting them then would act on something the screen does not show.
        has_recording = self.current_data is not None and not self.record_panel.session.active
        play = self.actions["play_pause"]
        play.setEnabled(has_recording and self.player.available)
        if not self.player.available:
            play.setToolTip(self.player.unavailable_reason or "")
        elif not has_recording:
            play.setToolTip("Open a recording to play it")
        else:
            play.setToolTip(f"{shortcuts.command('play_pause').description} "
                            f"({shortcuts.command('play_pause').keys_text})")
        for command_id in ("zoom_in", "zoom_out", "fit", "step_back", "step_forward",
                           "page_back", "page_forward", "to_start", "to_end", "clear_selection"):
            self.actions[command_id].setEnabled(has_recording)
        self.actions["export_report"].setEnabled(has_recording)
        self.actions["explain"].setEnabled(
            has_recording and self.results.get(self.current_path) is not None
            and self.runner.model_info is not None)
        record, panel = self.actions["record"], self.record_panel
        recording = panel.session.active
        record.setEnabled(recording or panel.available)
        record.setText("&Stop recording" if recording else shortcuts.command("record").text)
        record.setToolTip(panel.unavailable_reason if not (recording or panel.available)
                          else f"{record.text().replace('&', '')} (Ctrl+R)")
        self.actions["export_csv"].setEnabled(bool(self.batch_panel.rows))
        self.actions["cancel"].setEnabled(any(r.status in (WAITING, CLASSIFYING)
                                              for r in self.batch_panel.rows))

    # -- drag and drop, closing ------------------------------------------------------------------
    @staticmethod
    def _dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = self._dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        # Open after the drop returns, so the drag source is not kept waiting.
        QTimer.singleShot(0, lambda: self.open_paths(paths))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        panel = getattr(self, "advanced_panel", None)
        if panel is not None and not panel.confirm_close():
            event.ignore()  # the user keeps the training running, and the program open
            return
        if panel is not None:
            panel.close()
        self.record_panel.shutdown()  # a recording in progress is stopped and saved
        self.player.stop()
        self.runner.cancel()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.loader.shutdown()
        self.runner.shutdown()
        event.accept()
