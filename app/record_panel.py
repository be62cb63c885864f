"""The recording panel: choose the stethoscope, say who and where, record, watch it live.

:class:`RecordPanel` holds the controls (input device, sample rate, identifier, auscultation
site, note, automatic stop, recordings folder, Record/Stop, elapsed time, level meter, input
overflows) and drives a :class:`~app.recording_session.RecordingSession` and the
:class:`~app.live_view.LiveView` the main window shows in place of the recording's views while
recording. It emits :attr:`~RecordPanel.recording_started` and
:attr:`~RecordPanel.recording_finished`; the window opens and classifies the saved file exactly
as an opened one.

Devices are remembered by name (:class:`~app.settings.Settings`), never by index. Without
PortAudio or an input device the panel stays, disabled, and says why; nothing else depends on it.
Everything here runs on the GUI thread. The device list and the sources are injectable
(:attr:`RecordPanel.list_devices`, :attr:`RecordPanel.rates_of`, :attr:`RecordPanel.source_for`):
the tests record from a :class:`~app.recording.fake_source.FakeSource` that replays real
recordings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .advanced.singletons import make_singletons_immortal
from .colours import ERROR
from .gc_guard import collect_garbage_on_gui_thread
from .level_meter import LevelMeter
from .live_view import LiveView
from .recording import (
    SITES,
    InputDevice,
    PortAudioSource,
    RecordingError,
    RecordingInfo,
    RecordingResult,
    RecordingUnavailableError,
    list_input_devices,
    new_recording_path,
    recording_unavailable_reason,
)
from .recording.sidecar import write_sidecar
from .recording_session import RecordingSession
from .settings import Settings

#: The rates offered beside the device's own: what stethoscopes use.
OFFERED_RATES = (4000, 8000, 44100, 48000)
RECORD_TEXT = "● Record"
STOP_TEXT = "■ Stop"
NOTE_MAX_HEIGHT = 64
LISTENING = "Listening to"


def default_rates_of(device: InputDevice) -> list[int]:
    """The offered rates ``device`` accepts (asks PortAudio)."""
    from .recording.devices import supported_samplerates

    return supported_samplerates(device, candidates=OFFERED_RATES)


def format_elapsed(seconds: float) -> str:
    """``"01:07.3"``: minutes and seconds to a tenth."""
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:04.1f}"


def scrollable(panel: QWidget) -> QScrollArea:
    """``panel`` in a scroll area, so that a dock holding it can be as short as the screen
    needs (a 768-pixel laptop screen, with the result panel in the same column).
    """
    area = QScrollArea()
    area.setObjectName("record_scroll")
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(panel.minimumSizeHint().width() + 16)
    return area


class RecordPanel(QWidget):
    """Recording controls and state; see the module's documentation."""

    recording_started = Signal(object)  # RecordingInfo
    recording_finished = Signal(object)  # RecordingResult
    availability_changed = Signal(object)  # None, or why recording is unavailable
    folder_dialog_opened = Signal(object)  # QFileDialog

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The live views repaint 30 times a second: PySide6 6.12.0 on Python 3.11 would
        # otherwise drain None's reference count (see app/advanced/singletons.py).
        make_singletons_immortal()
        # The recorder's threads and PortAudio's callback must never collect the GUI's garbage.
        collect_garbage_on_gui_thread()
        self.setObjectName("record_panel")
        self.settings = settings
        #: Injectable: the input devices now (raises RecordingUnavailableError).
        self.list_devices: Callable[[], list[InputDevice]] = list_input_devices
        #: Injectable: the offered rates a device accepts.
        self.rates_of: Callable[[InputDevice], list[int]] = default_rates_of
        #: Injectable: the source to record ``device`` from (default: PortAudio).
        self.source_for: Callable[[InputDevice], Any] = (
            lambda device: PortAudioSource(device.name, hostapi=device.hostapi))
        self.devices: list[InputDevice] = []
        self.unavailable_reason: str | None = "Looking for input devices…"
        self.session = RecordingSession(self)
        self.live_view = LiveView()
        self.live_view.hide()
        self.last_result: RecordingResult | None = None
        self._starting = False  # Record pressed while listening: waiting for the device
        # Looking for new devices restarts PortAudio and cuts every open stream: the window says
        # here why it cannot now (a recording playing back), else None.
        self.output_busy: Callable[[], str | None] = lambda: None
        self._monitor_key: tuple[str, int | None] | None = None  # what the monitor listens to
        self.folder_dialog: QFileDialog | None = None
        self._build()
        self._connect()
        self._load_settings()
        self._update_state()

    # -- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("input_device")
        self.device_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device_combo.setMinimumContentsLength(14)
        self.rescan_button = QToolButton()
        self.rescan_button.setText("↻")
        self.rescan_button.setObjectName("rescan_devices")
        self.rescan_button.setToolTip("Look for input devices again (after plugging in the "
                                      "stethoscope or its adapter)")
        device_row = QHBoxLayout()
        device_row.setContentsMargins(0, 0, 0, 0)
        device_row.addWidget(self.device_combo, 1)
        device_row.addWidget(self.rescan_button)
        self.rate_combo = QComboBox()
        self.rate_combo.setObjectName("sample_rate")
        self.rate_combo.setToolTip("Recordings are saved losslessly at this rate; the device's "
                                   "own rate is best")
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("file_format")
        self.format_combo.addItem("FLAC (lossless, smaller)", ".flac")
        self.format_combo.addItem("WAV (lossless)", ".wav")
        self.format_combo.setToolTip("Both keep every sample; FLAC files are smaller")
        self.device_note = QLabel()
        self.device_note.setObjectName("device_note")
        self.device_note.setWordWrap(True)
        self.device_note.setStyleSheet("color: #92400e;")
        self.device_note.hide()

        self.id_edit = QLineEdit()
        self.id_edit.setObjectName("recording_id")
        self.id_edit.setPlaceholderText("Patient or recording ID")
        self.id_edit.setToolTip("Saved with the recording and in its file name")
        self.site_combo = QComboBox()
        self.site_combo.setObjectName("site")
        for site in SITES:
            self.site_combo.addItem(site.capitalize(), site)
        self.site_combo.setToolTip("Where the chest piece is placed")
        self.note_edit = QPlainTextEdit()
        self.note_edit.setObjectName("note")
        self.note_edit.setPlaceholderText("Note (position, findings…)")
        self.note_edit.setMaximumHeight(NOTE_MAX_HEIGHT)
        self.note_edit.setTabChangesFocus(True)

        self.auto_stop_check = QCheckBox("Stop after")
        self.auto_stop_check.setObjectName("auto_stop")
        self.auto_stop_spin = QDoubleSpinBox()
        self.auto_stop_spin.setObjectName("auto_stop_seconds")
        self.auto_stop_spin.setRange(1.0, 3600.0)
        self.auto_stop_spin.setDecimals(0)
        self.auto_stop_spin.setSuffix(" s")
        auto_row = QHBoxLayout()
        auto_row.setContentsMargins(0, 0, 0, 0)
        auto_row.addWidget(self.auto_stop_check)
        auto_row.addWidget(self.auto_stop_spin)
        auto_row.addStretch(1)

        self.folder_label = QLabel()
        self.folder_label.setObjectName("recordings_folder")
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_button = QPushButton("Change…")
        self.folder_button.setObjectName("choose_folder")
        self.folder_button.setToolTip("Choose the folder recordings are saved in")
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(self.folder_button, 0, Qt.AlignmentFlag.AlignTop)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Device", device_row)
        form.addRow("", self.device_note)
        form.addRow("Rate", self.rate_combo)
        form.addRow("Format", self.format_combo)
        form.addRow("ID", self.id_edit)
        form.addRow("Site", self.site_combo)
        form.addRow("Note", self.note_edit)
        form.addRow("", auto_row)
        form.addRow("Save in", folder_row)

        self.record_button = QPushButton(RECORD_TEXT)
        self.record_button.setObjectName("record_button")
        self.record_button.setMinimumHeight(40)
        self.record_button.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.elapsed_label = QLabel(format_elapsed(0.0))
        self.elapsed_label.setObjectName("elapsed")
        self.elapsed_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.elapsed_label.setStyleSheet("font-size: 22px; font-family: monospace;")
        self.meter = LevelMeter()
        self.level_label = QLabel("Level: –")
        self.level_label.setObjectName("level_text")
        self.overflow_label = QLabel("Input overflows: 0")
        self.overflow_label.setObjectName("overflows")
        self.overflow_label.setToolTip(
            "Moments when the computer did not keep up and a few milliseconds of sound were "
            "lost before reaching AudioFuse. The target is 0; the count is saved with the "
            "recording.")
        self.status_label = QLabel()
        self.status_label.setObjectName("record_status")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Preferred,
                                        QSizePolicy.Policy.Minimum)

        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 6)
        box.addLayout(form)
        box.addWidget(self.record_button)
        box.addWidget(self.elapsed_label)
        box.addWidget(self.meter)
        level_row = QHBoxLayout()
        level_row.addWidget(self.level_label)
        level_row.addStretch(1)
        level_row.addWidget(self.overflow_label)
        box.addLayout(level_row)
        self.monitor_check = QCheckBox("Show the level before recording")
        self.monitor_check.setObjectName("monitor")
        self.monitor_check.setToolTip("Listen to the device now, so that the level meter moves "
                                      "while the chest piece is placed. Nothing is saved until "
                                      "Record.")
        box.addWidget(self.monitor_check)
        box.addWidget(self.status_label)
        box.addStretch(1)
        # Locked while recording (the note stays editable: it is saved when the recording ends).
        self.inputs = (self.device_combo, self.rescan_button, self.rate_combo, self.format_combo,
                       self.id_edit, self.site_combo, self.auto_stop_check, self.auto_stop_spin,
                       self.folder_button, self.monitor_check)

    def _connect(self) -> None:
        self.device_combo.activated.connect(self._on_device_chosen)
        self.rate_combo.activated.connect(self._on_rate_chosen)
        self.format_combo.activated.connect(self._on_format_chosen)
        self.rescan_button.clicked.connect(lambda: self.refresh(rescan=True))
        self.auto_stop_check.toggled.connect(self._on_auto_stop_changed)
        self.auto_stop_spin.valueChanged.connect(self._on_auto_stop_changed)
        self.folder_button.clicked.connect(self.ask_folder)
        self.record_button.clicked.connect(self.toggle)
        self.session.started.connect(self._on_session_started)
        self.session.frame.connect(self._on_session_frame)
        self.session.finished.connect(self._on_session_finished)
        self.session.monitor_failed.connect(lambda text: self.show_status(text, error=True))
        self.monitor_check.toggled.connect(self._on_monitor_toggled)

    def _load_settings(self) -> None:
        on, seconds = self.settings.auto_stop
        self.auto_stop_check.setChecked(on)
        self.auto_stop_spin.setValue(seconds)
        self.auto_stop_spin.setEnabled(on)
        self.monitor_check.setChecked(self.settings.monitor_input)
        self.format_combo.setCurrentIndex(
            max(0, self.format_combo.findData(self.settings.recording_format)))
        self._show_folder()

    # -- devices ----------------------------------------------------------------------------
    def refresh(self, *, rescan: bool = False) -> str | None:
        """List the input devices again (``rescan``: make PortAudio look for new ones);
        returns None, or why recording is unavailable.
        """
        if self.session.active or self._starting:
            return self.unavailable_reason
        busy = self.output_busy() if rescan else None
        if busy:
            rescan = False  # list what PortAudio already knows, and leave the playback playing
        if rescan and self.session.monitor is not None:
            # Rescanning restarts PortAudio, which would cut the monitor's stream: stop it first.
            self.session.stop_monitor(then=lambda: self.refresh(rescan=True))
            return self.unavailable_reason
        try:
            if rescan:
                from .recording.devices import refresh_devices

                refresh_devices()
            devices = self.list_devices()
            reason = None if devices else (recording_unavailable_reason()
                                           or "Recording is not available: no audio input "
                                              "device was found.")
        except RecordingUnavailableError as exc:
            devices, reason = [], str(exc)
        self.devices = devices
        self._fill_devices()
        self._set_unavailable(reason)
        if busy and not reason:
            self.show_status(busy)
        self._update_monitor()
        return reason

    def input_busy(self) -> str | None:
        """Why PortAudio must not be restarted now (it would cut this panel's stream), or None."""
        session = self.session
        if session.active or self._starting:
            return "Stop recording to look for newly connected devices."
        if session.monitor is not None or session.monitor_stopping:
            return "Turn off “Show the level before recording” to look for newly connected devices."
        return None

    def _fill_devices(self) -> None:
        combo = self.device_combo
        combo.clear()
        for device in self.devices:
            text = device.label + ("  (system default)" if device.is_default else "")
            combo.addItem(text, device.name)
        wanted = self.settings.input_device
        index = next((i for i, d in enumerate(self.devices) if d.name == wanted), -1)
        if index < 0:
            index = next((i for i, d in enumerate(self.devices) if d.is_default),
                         0 if self.devices else -1)
            if wanted and self.devices:
                self.device_note.setText(f'"{wanted}", used last time, is not connected: '
                                         f"recording from {self.devices[index].name}.")
                self.device_note.show()
            else:
                self.device_note.hide()
        else:
            self.device_note.hide()
        combo.setCurrentIndex(index)
        self._fill_rates()

    @property
    def device(self) -> InputDevice | None:
        index = self.device_combo.currentIndex()
        return self.devices[index] if 0 <= index < len(self.devices) else None

    def _fill_rates(self) -> None:
        combo = self.rate_combo
        combo.clear()
        device = self.device
        if device is None:
            return
        own = int(round(device.default_samplerate))
        combo.addItem(f"Device's own ({own} Hz)", 0)
        try:
            rates = self.rates_of(device)
        except (RecordingUnavailableError, RecordingError):
            rates = []
        for rate in OFFERED_RATES:
            if rate in rates and rate != own:
                combo.addItem(f"{rate} Hz", rate)
        index = combo.findData(self.settings.input_samplerate)
        combo.setCurrentIndex(max(0, index))

    @property
    def samplerate(self) -> int | None:
        """The chosen rate; None for the device's own."""
        return int(self.rate_combo.currentData() or 0) or None

    def _on_device_chosen(self, _index: int) -> None:
        device = self.device
        if device is not None:
            self.settings.input_device = device.name
            self.device_note.hide()
        self._fill_rates()
        self._update_monitor()

    def _on_format_chosen(self, _index: int) -> None:
        self.settings.recording_format = str(self.format_combo.currentData())

    def _on_rate_chosen(self, _index: int) -> None:
        self.settings.input_samplerate = self.samplerate or 0
        self._update_monitor()

    # -- listening before recording -----------------------------------------------------------
    def _on_monitor_toggled(self, on: bool) -> None:
        self.settings.monitor_input = on
        self._update_monitor()

    def _update_monitor(self) -> None:
        """Listen, or stop listening, as the box, the device and the rate now say."""
        session = self.session
        if session.active or self._starting or session.monitor_stopping:
            return
        device = self.device
        wanted = (self.monitor_check.isChecked() and self.available and device is not None
                  and self.isEnabled())
        key = (device.name, self.samplerate) if wanted and device is not None else None
        if session.monitor is not None:
            if key != self._monitor_key:  # another device or rate, or not wanted any more
                session.stop_monitor(then=self._update_monitor)
            return
        self._monitor_key = None
        self.meter.reset()
        self.level_label.setText("Level: –")
        if self.status_label.text().startswith(LISTENING):
            self.show_status("")
        if key is None or device is None:
            return
        try:
            session.start_monitor(source=self.source_for(device), samplerate=self.samplerate)
        except RecordingError as exc:
            self.show_status(str(exc), error=True)
            return
        self._monitor_key = key
        if not self.status_label.text():  # a message about the last recording stays
            self.show_status(f"{LISTENING} {device.name}: nothing is saved until Record.")

    def _on_auto_stop_changed(self, *_args) -> None:
        on = self.auto_stop_check.isChecked()
        self.auto_stop_spin.setEnabled(on and not self.session.active)
        self.settings.auto_stop = (on, self.auto_stop_spin.value())

    @property
    def max_seconds(self) -> float | None:
        return self.auto_stop_spin.value() if self.auto_stop_check.isChecked() else None

    # -- folder -----------------------------------------------------------------------------
    def _show_folder(self) -> None:
        folder = self.settings.recordings_folder
        self.folder_label.setText(str(folder))
        self.folder_label.setToolTip(str(folder))

    def ask_folder(self) -> None:
        folder = self.settings.recordings_folder
        start = folder if folder.is_dir() else Path.home()
        dialog = QFileDialog(self, "Save recordings in", str(start))
        dialog.setObjectName("folder_dialog")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(lambda chosen: self.set_folder(Path(chosen)))
        dialog.finished.connect(dialog.deleteLater)
        self.folder_dialog = dialog
        dialog.open()
        self.folder_dialog_opened.emit(dialog)

    def set_folder(self, folder: Path) -> None:
        self.settings.recordings_folder = folder
        self._show_folder()

    # -- recording --------------------------------------------------------------------------
    def toggle(self) -> None:
        """Record, or stop the recording in progress (Ctrl+R); pressed again while the monitor
        is letting the device go, the recording does not start.
        """
        if self.session.active:
            self.stop()
        elif self._starting:
            self._starting = False  # _start_after_monitor will not start it
            self._update_state()
        else:
            self.start()

    def info(self) -> RecordingInfo:
        """What the clinician typed, for the sidecar."""
        return RecordingInfo(recording_id=self.id_edit.text().strip(),
                             site=str(self.site_combo.currentData()),
                             note=self.note_edit.toPlainText().strip())

    def start(self) -> bool:
        """Start recording with the panel's choices; False (and the reason shown) on failure.

        While listening, the monitor first releases the device; the recording then starts
        (:attr:`recording_started`) a moment later.
        """
        if self.session.active or self._starting:
            return False
        if self.session.monitor is not None:
            self._starting = True
            self._update_state()
            self.session.stop_monitor(then=self._start_after_monitor)
            return True
        return self._start_now()

    def _start_after_monitor(self) -> None:
        if not self._starting:  # cancelled meanwhile: listen again
            self._update_monitor()
            return
        self._starting = False
        if not self._start_now():
            self._update_state()
            self._update_monitor()

    def _start_now(self) -> bool:
        if self.unavailable_reason:
            self.show_status(self.unavailable_reason, error=True)
            return False
        device = self.device
        if device is None:
            self.show_status("Choose an input device first.", error=True)
            return False
        info = self.info()
        folder = self.settings.recordings_folder
        try:
            path = new_recording_path(folder, info,
                                      suffix=str(self.format_combo.currentData()))
            source = self.source_for(device)
            self.session.start(path, source=source, samplerate=self.samplerate, info=info,
                               max_seconds=self.max_seconds)
        except RecordingError as exc:
            self.show_status(str(exc), error=True)
            return False
        self.settings.input_device = device.name
        return True

    def stop(self) -> None:
        """Stop and save; :attr:`recording_finished` follows."""
        if self.session.active and not self.session.stopping:
            self.session.stop()
            self.record_button.setText("Saving…")
            self.record_button.setEnabled(False)

    def shutdown(self) -> RecordingResult | None:
        """The window closes: stop and save what is being recorded (waits up to 5 s), with the
        note as it was typed while recording.
        """
        result = self.session.shutdown()
        return None if result is None else self._save_note_typed_while_recording(result)

    def _on_session_started(self, info: RecordingInfo) -> None:
        self.last_result = None
        seconds = self.max_seconds
        limit = f", stops by itself after {seconds:g} s" if seconds else ""
        self.show_status(f"Recording from {info.device} at {info.samplerate} Hz{limit}.")
        self.live_view.begin(self.session.display,
                             f"● Recording {info.recording_id or ''} "
                             f"({info.site}, {info.samplerate} Hz): live view of the last "
                             f"{self.session.display.seconds:g} s".replace("  ", " "))
        self.meter.reset()
        self._update_state()
        self._on_session_frame()
        self.recording_started.emit(info)

    def _on_session_frame(self) -> None:
        session = self.session
        elapsed = format_elapsed(session.elapsed_s)
        if self.max_seconds and session.active:
            elapsed += f" / {format_elapsed(self.max_seconds)}"
        self.elapsed_label.setText(elapsed)
        level = session.level
        self.meter.set_level(level.rms_dbfs, level.peak_dbfs, level.clipped)
        peak = self.meter.peak_db  # held for a moment, so that it can be read
        self.level_label.setText(f"Peak {peak:.0f} dBFS" if level.peak_dbfs > -120
                                 else "Level: –")
        self._show_overflows(session.overflows)
        if session.display is not None and session.active:
            self.live_view.draw(session.display)

    def _show_overflows(self, count: int) -> None:
        self.overflow_label.setText(f"Input overflows: {count}")
        self.overflow_label.setStyleSheet(f"color: {ERROR}; font-weight: bold;" if count
                                          else "")

    def _on_session_finished(self, result: RecordingResult) -> None:
        result = self._save_note_typed_while_recording(result)
        self.last_result = result
        self.meter.reset()
        self.level_label.setText("Level: –")
        self._show_overflows(result.info.overflows)
        self.elapsed_label.setText(format_elapsed(result.info.duration_s))
        lines = []
        if result.path is not None:
            lines.append(f"Saved {result.path.name} ({result.info.duration_s:.1f} s).")
        if result.message:
            lines.append(result.message)
        lines.extend(result.warnings)
        self.show_status(" ".join(lines), error=bool(result.message or result.warnings))
        self._update_state()
        self.recording_finished.emit(result)
        self._update_monitor()  # listen again, if asked

    def _save_note_typed_while_recording(self, result: RecordingResult) -> RecordingResult:
        note = self.note_edit.toPlainText().strip()
        if result.path is None or note == result.info.note:
            return result
        info = replace(result.info, note=note)
        try:
            write_sidecar(result.path, info)  # atomic, a few hundred bytes
        except OSError as exc:
            self.show_status(f"The note could not be saved with {result.path.name} "
                             f"({exc.strerror or exc}).", error=True)
            return result
        return replace(result, info=info)

    # -- state ------------------------------------------------------------------------------
    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {ERROR}; font-weight: bold;" if error else "")

    def _set_unavailable(self, reason: str | None) -> None:
        changed = reason != self.unavailable_reason
        self.unavailable_reason = reason
        if reason:
            self.show_status(reason, error=True)
        elif changed:
            self.show_status("")
        self._update_state()
        if changed:
            self.availability_changed.emit(reason)

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    def _update_state(self) -> None:
        active = self.session.active
        for widget in self.inputs:
            widget.setEnabled(not active)
        if not active:
            self.auto_stop_spin.setEnabled(self.auto_stop_check.isChecked())
            has_devices = bool(self.devices)
            self.device_combo.setEnabled(has_devices)
            self.rate_combo.setEnabled(has_devices)
        self.record_button.setText(STOP_TEXT if active else
                                   "Starting…" if self._starting else RECORD_TEXT)
        self.record_button.setEnabled((active or self.available) and not self._starting)
        tip = (self.unavailable_reason if not self.available and not active
               else "Stop and save the recording (Ctrl+R)" if active
               else "Start recording (Ctrl+R)")
        self.record_button.setToolTip(tip or "")
