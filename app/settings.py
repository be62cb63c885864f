"""What the program remembers between sessions, in QSettings: window layout, recent files,
the folder last used, the model file, the output device and the input device (by name), the
recording rate, the recordings folder and the automatic stop.

Patient details typed for a report are never stored. Tests give each test its own settings file
with ``QSettings.setPath`` (see tests/app/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

ORGANIZATION = "AudioFuse"
APPLICATION = "AudioFuse"
MAX_RECENT = 10
DEFAULT_AUTO_STOP_S = 15.0
RECORDINGS_FOLDER_NAME = "AudioFuse recordings"


def default_recordings_folder() -> Path:
    """The folder "AudioFuse recordings" in the user's Documents folder (or in the program's
    data folder where there is no Documents folder).
    """
    for location in (QStandardPaths.StandardLocation.DocumentsLocation,
                     QStandardPaths.StandardLocation.AppDataLocation):
        folder = QStandardPaths.writableLocation(location)
        if folder:
            return Path(folder) / RECORDINGS_FOLDER_NAME
    return Path.home() / RECORDINGS_FOLDER_NAME


class Settings:
    """Typed access to the program's QSettings."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings(QSettings.Format.IniFormat,
                                               QSettings.Scope.UserScope, ORGANIZATION,
                                               APPLICATION)

    # -- recent files ------------------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        """Recently opened recordings, newest first (ones since deleted are left out)."""
        raw = self.qsettings.value("recent/files", [])
        if isinstance(raw, str):  # QSettings returns a one-item list as a string
            raw = [raw]
        return [Path(p) for p in (raw or []) if p and Path(p).is_file()]

    def add_recent(self, path: str | Path) -> list[Path]:
        path = Path(path).resolve()
        files = [path] + [p for p in self.recent_files() if p != path]
        files = files[:MAX_RECENT]
        self.qsettings.setValue("recent/files", [str(p) for p in files])
        return files

    def clear_recent(self) -> None:
        self.qsettings.setValue("recent/files", [])

    # -- places and devices --------------------------------------------------------------------
    def _text(self, key: str) -> str | None:
        value = self.qsettings.value(key)
        return str(value) if value else None

    @property
    def last_folder(self) -> Path | None:
        value = self._text("paths/last_folder")
        return Path(value) if value else None

    @last_folder.setter
    def last_folder(self, folder: str | Path) -> None:
        self.qsettings.setValue("paths/last_folder", str(folder))

    @property
    def model_path(self) -> Path | None:
        """The model file chosen by the user (None: the bundled model)."""
        value = self._text("model/path")
        return Path(value) if value else None

    @model_path.setter
    def model_path(self, path: str | Path | None) -> None:
        self.qsettings.setValue("model/path", "" if path is None else str(path))

    @property
    def output_device(self) -> str | None:
        return self._text("playback/output_device")

    @output_device.setter
    def output_device(self, name: str | None) -> None:
        self.qsettings.setValue("playback/output_device", name or "")

    # -- recording ---------------------------------------------------------------------------
    @property
    def input_device(self) -> str | None:
        """The input device (stethoscope) chosen last, by name; None: the system's default."""
        return self._text("recording/input_device")

    @input_device.setter
    def input_device(self, name: str | None) -> None:
        self.qsettings.setValue("recording/input_device", name or "")

    @property
    def input_samplerate(self) -> int:
        """The recording rate chosen last in Hz; 0 means the device's own rate."""
        try:
            return max(0, int(self.qsettings.value("recording/samplerate", 0)))
        except (TypeError, ValueError):
            return 0

    @input_samplerate.setter
    def input_samplerate(self, rate: int) -> None:
        self.qsettings.setValue("recording/samplerate", int(rate))

    @property
    def recordings_folder(self) -> Path:
        """Where recordings are saved (default: "AudioFuse recordings" in the user's
        Documents folder, else in the program's data folder).
        """
        value = self._text("recording/folder")
        return Path(value) if value else default_recordings_folder()

    @recordings_folder.setter
    def recordings_folder(self, folder: str | Path | None) -> None:
        self.qsettings.setValue("recording/folder", "" if folder is None else str(folder))

    @property
    def auto_stop(self) -> tuple[bool, float]:
        """(on, seconds) of the automatic stop; (True, 15 s) by default."""
        on = str(self.qsettings.value("recording/auto_stop", "true")).lower() in ("true", "1")
        try:
            seconds = float(self.qsettings.value("recording/auto_stop_seconds",
                                                 DEFAULT_AUTO_STOP_S))
        except (TypeError, ValueError):
            seconds = DEFAULT_AUTO_STOP_S
        return on, seconds if seconds > 0 else DEFAULT_AUTO_STOP_S

    @auto_stop.setter
    def auto_stop(self, value: tuple[bool, float]) -> None:
        on, seconds = value
        self.qsettings.setValue("recording/auto_stop", "true" if on else "false")
        self.qsettings.setValue("recording/auto_stop_seconds", float(seconds))

    @property
    def recording_format(self) -> str:
        """The recordings' file suffix: ".flac" (default) or ".wav"."""
        value = str(self.qsettings.value("recording/format", ".flac")).lower()
        return value if value in (".flac", ".wav") else ".flac"

    @recording_format.setter
    def recording_format(self, suffix: str) -> None:
        self.qsettings.setValue("recording/format", suffix)

    @property
    def monitor_input(self) -> bool:
        """Whether the Record panel listens to the device before recording (off by default)."""
        return str(self.qsettings.value("recording/monitor", "false")).lower() in ("true", "1")

    @monitor_input.setter
    def monitor_input(self, on: bool) -> None:
        self.qsettings.setValue("recording/monitor", "true" if on else "false")

    # -- window layout -------------------------------------------------------------------------
    def window_geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    @property
    def show_cycle_markers(self) -> bool:
        """Whether the S1/S2 markers are drawn on the waveform (View menu; on by default)."""
        return str(self.qsettings.value("view/cycle_markers", "true")).lower() in ("true", "1")

    @show_cycle_markers.setter
    def show_cycle_markers(self, shown: bool) -> None:
        self.qsettings.setValue("view/cycle_markers", "true" if shown else "false")

    def sync(self) -> None:
        self.qsettings.sync()
