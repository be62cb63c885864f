"""Fixtures of the desktop program's tests: real widgets offscreen, a real model file, real
recordings, and for each test its own settings file and log folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings

from app.settings import APPLICATION, ORGANIZATION, Settings

MODEL_TIMEOUT_MS = 120_000  # the first model load imports TensorFlow (several seconds on 2 cores)
RESULT_TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def isolated_settings(qapp, tmp_path, monkeypatch) -> Settings:
    """Each test gets its own QSettings file and log folder."""
    folder = tmp_path / "settings"
    folder.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    qapp.setOrganizationName(ORGANIZATION)
    qapp.setApplicationName(APPLICATION)
    monkeypatch.setenv("AUDIOFUSE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("AUDIOFUSE_DATA_DIR", str(tmp_path / "data"))  # the model library
    settings = Settings()
    # Not the user's Documents folder: a window's start looks there for recordings to recover.
    settings.recordings_folder = tmp_path / "recordings-saved"
    return settings


@pytest.fixture
def settings(isolated_settings) -> Settings:
    return isolated_settings


def _window(qtbot, settings, model_path):
    from app.main_window import MainWindow

    window = MainWindow(settings, model_path=model_path)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def window(qtbot, settings, untrained_model_path):
    """A shown main window whose model (a real one, untrained) has finished loading."""
    window = _window(qtbot, settings, untrained_model_path)
    with qtbot.waitSignal(window.runner.model_ready, timeout=MODEL_TIMEOUT_MS):
        window.start([])
    yield window
    window.close()


@pytest.fixture
def make_window(qtbot, settings):
    """Make a shown window with any model path; ``start`` is left to the test."""
    made = []

    def make(model_path):
        made.append(_window(qtbot, settings, model_path))
        return made[-1]

    yield make
    for window in made:
        window.close()


def open_and_classify(qtbot, window, path):
    """Open ``path`` as the user would and wait until its result is shown."""
    with qtbot.waitSignals([window.recording_shown, window.result_shown],
                           timeout=RESULT_TIMEOUT_MS):
        window.open_paths([path])
    return window.result_panel.prediction


@pytest.fixture
def bad_files(tmp_path, normal_wav) -> dict[str, Path]:
    """Files that cannot be classified, each for its own reason, made from a real recording."""
    folder = tmp_path / "bad"
    folder.mkdir()
    files = {}
    files["not_audio"] = folder / "notes.wav"
    files["not_audio"].write_text("Patient notes, not a recording.\n" * 20)
    files["empty"] = folder / "empty.wav"
    files["empty"].write_bytes(b"")
    truncated = normal_wav.read_bytes()
    files["truncated"] = folder / "truncated.wav"
    files["truncated"].write_bytes(truncated[: len(truncated) // 3])
    files["silent"] = folder / "silent.wav"
    sf.write(files["silent"], np.zeros(2000 * 6, np.int16), 2000, subtype="PCM_16")
    samples, rate = sf.read(normal_wav, dtype="int16")
    files["too_short"] = folder / "too_short.wav"  # readable, but shorter than the model needs
    sf.write(files["too_short"], samples[: int(1.5 * rate)], rate, subtype="PCM_16")
    files["missing"] = folder / "gone.wav"
    return files


@pytest.fixture
def recordings_folder(tmp_path, physionet_dir) -> Path:
    """A folder tree of the 14 real PhysioNet recordings (with their .hea files beside)."""
    target = tmp_path / "recordings"
    shutil.copytree(physionet_dir, target)
    return target
