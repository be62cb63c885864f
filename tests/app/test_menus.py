"""The main window's links to the rest of the program: the Advanced panel (Tools menu), the
model library's active model at start-up, the bundled examples (Help menu), the window icon.
"""

from __future__ import annotations

from app.advanced.library import ModelLibrary
from app.advanced.panel import AdvancedPanel

from .conftest import MODEL_TIMEOUT_MS, RESULT_TIMEOUT_MS


def test_tools_menu_opens_one_advanced_panel_and_closing_the_window_closes_it(qtbot, window):
    action = window.actions["advanced"]
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert action in menus["Tools"].actions()
    action.trigger()
    panel = window.advanced_panel
    assert isinstance(panel, AdvancedPanel) and panel.isVisible()
    action.trigger()  # a second time: the same panel comes forward
    assert window.advanced_panel is panel
    window.close()
    assert not panel.isVisible()


def test_closing_is_refused_while_the_user_keeps_a_training_running(qtbot, window,
                                                                    monkeypatch):
    window.open_advanced()
    panel = window.advanced_panel
    monkeypatch.setattr(type(panel), "training_running", property(lambda self: True))
    monkeypatch.setattr(panel, "ask_running_training", lambda: "keep")
    window.close()
    assert window.isVisible() and panel.isVisible()
    monkeypatch.setattr(type(panel), "training_running", property(lambda self: False))
    window.close()
    assert not window.isVisible()


def test_start_up_uses_the_library_active_model_and_activation_reloads(
        qtbot, make_window, settings, untrained_model_path, tmp_path):
    library = ModelLibrary()  # AUDIOFUSE_DATA_DIR: this test's own folder
    entry = library.import_model(untrained_model_path)
    library.activate(entry.id)
    window = make_window(None)
    with qtbot.waitSignal(window.runner.model_ready, timeout=MODEL_TIMEOUT_MS):
        window.start([])
    assert window.model_path == entry.path
    # A file chosen from the menu is remembered; an activation in the panel forgets it.
    window.use_model(untrained_model_path)
    assert settings.model_path == untrained_model_path
    with qtbot.waitSignal(window.runner.model_ready, timeout=MODEL_TIMEOUT_MS):
        window.use_model(entry.path, remember=False)
    assert settings.model_path is None and window.model_path == entry.path


def test_help_menu_opens_the_bundled_examples(qtbot, window):
    with qtbot.waitSignals([window.recording_shown, window.result_shown],
                           timeout=RESULT_TIMEOUT_MS):
        window.actions["example_abnormal"].trigger()
    assert window.current_path.name.startswith("abnormal-")
    with qtbot.waitSignal(window.recording_shown, timeout=RESULT_TIMEOUT_MS):
        window.actions["example_normal"].trigger()
    assert window.current_path.name.startswith("normal-")


def test_a_remembered_model_file_that_is_gone_falls_back_to_the_active_model(
        qtbot, make_window, settings, untrained_model_path, tmp_path):
    library = ModelLibrary()
    entry = library.import_model(untrained_model_path)
    library.activate(entry.id)
    settings.model_path = tmp_path / "deleted-since.keras"  # chosen last session, now gone
    window = make_window(None)
    with qtbot.waitSignal(window.runner.model_ready, timeout=MODEL_TIMEOUT_MS):
        window.start([])
    assert window.model_path == entry.path and settings.model_path is None
    qtbot.waitUntil(lambda: "no longer there" in window.statusBar().currentMessage(),
                    timeout=5000)
    assert "deleted-since.keras" in window.statusBar().currentMessage()
