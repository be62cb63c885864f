"""Fixtures of the Advanced panel's tests: a model library in a temporary data folder, a tiny
preset file (fast training in the child process), the panel itself, offscreen.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TRAINING_TIMEOUT_MS = 180_000  # the child imports TensorFlow (several seconds on 2 cores)
EVALUATION_TIMEOUT_MS = 180_000


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "appdata"
    monkeypatch.setenv("AUDIOFUSE_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def library(data_dir):
    from app.advanced.library import ModelLibrary

    return ModelLibrary(data_dir)


@pytest.fixture(scope="session")
def tiny_preset_file(tmp_path_factory) -> Path:
    from audiofuse_core.presets import get_preset

    tiny = get_preset("default").replace(
        name="tiny", embed_dim=16, depth=1, num_heads=2, key_dim=8, mlp_dim=32,
        conv_filters=(8, 8, 16), waveform_dim=8, head_dim=16, window_seconds=2.0,
        hop_seconds=1.0, min_seconds=1.0)
    path = tmp_path_factory.mktemp("presets") / "tiny.json"
    path.write_text(json.dumps(tiny.to_dict()))
    return path


@pytest.fixture
def panel(qtbot, library):
    from app.advanced.panel import AdvancedPanel

    widget = AdvancedPanel(library=library)
    yield widget
    # Not qtbot.addWidget: pytest-qt would close the window before this cleanup, and closing
    # with a training running asks the user (a modal question nobody answers offscreen).
    process = widget.training_tab.process
    if process.running:
        process.kill()
        process.wait(10_000)
    for runner in (widget.data_tab.runner, widget.evaluation_tab.runner,
                   widget.models_tab.runner):
        runner.cancel()
        runner.join()
    widget.close()
    widget.deleteLater()


def scan_in(qtbot, panel, folders) -> object:
    """Set the Data tab's folders and wait for the scan."""
    with qtbot.waitSignal(panel.data_tab.runner.busy_changed, timeout=60_000,
                          check_params_cb=lambda busy: not busy):
        panel.data_tab.set_folders(folders)
    return panel.data_tab.summary
