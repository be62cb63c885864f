"""Seeing and hearing a real recording in the window: the waveform and the spectrogram move
together, the mouse and keyboard conventions (Ctrl+wheel zoom around the pointer, wheel and
Shift+wheel scroll, arrows, PgUp/PgDown, Home/End, double-click fits), the crosshair's read-out,
the shortcuts dialog, and playback (disabled with its reason without an output device; through a
private PulseAudio null sink, Space plays and pauses and the playhead moves).
"""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from app import player as player_module
from app.player import PAUSED, PLAYING, STOPPED
from app.shortcuts import COMMANDS, help_rows

from .conftest import RESULT_TIMEOUT_MS
from .flows import double_click, move_mouse, settle, shared_window, wheel

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture(scope="module")
def module_window(qapp, tmp_path_factory, untrained_model_path):
    yield from shared_window(tmp_path_factory.mktemp("view-flows"), untrained_model_path)


@pytest.fixture
def window(qtbot, module_window, abnormal_wav):
    """The shared window with the real abnormal recording a0336 (12.8 s) on screen, whole."""
    settle(module_window, qtbot)
    with qtbot.waitSignals([module_window.recording_shown, module_window.result_shown],
                           timeout=RESULT_TIMEOUT_MS):
        module_window.open_paths([abnormal_wav])
    module_window.activateWindow()  # window-wide keys (Space, F1) need the active window
    qtbot.waitUntil(module_window.isActiveWindow, timeout=5000)
    module_window.view.graphics.setFocus()
    return module_window


def ranges(view):
    """The time range each of the three plots shows."""
    return [tuple(plot.vb.viewRange()[0]) for plot in view.plots]


def assert_aligned(view):
    first, *others = ranges(view)
    for other in others:
        assert other == pytest.approx(first, abs=1e-9)
    assert view.view_range() == pytest.approx(first, abs=1e-9)


def test_zooming_or_scrolling_one_plot_moves_the_others(qtbot, window):
    view = window.view
    duration = view.duration
    assert view.view_range() == pytest.approx((0.0, duration))
    # Ctrl+wheel over the spectrogram zooms around the pointer: 4.0 s stays under it
    position = view.time_to_viewport(4.0, view.spectrogram)
    wheel(view, position, 2, CTRL)
    start, end = view.view_range()
    assert end - start == pytest.approx(duration / 1.25 ** 2, rel=1e-3)
    assert view.time_to_viewport(4.0, view.spectrogram).x() == pytest.approx(position.x(),
                                                                            abs=1)
    assert_aligned(view)
    # Ctrl+wheel towards the user zooms out around the same place
    wheel(view, position, -1, CTRL)
    assert view.view_range()[1] - view.view_range()[0] == pytest.approx(duration / 1.25,
                                                                        rel=1e-3)
    assert_aligned(view)
    # the wheel over the waveform scrolls all three: towards the user is later in time
    span = view.view_range()[1] - view.view_range()[0]
    before = view.view_range()[0]
    wheel(view, view.time_to_viewport(5.0, view.waveform), -1)
    assert view.view_range()[0] == pytest.approx(before + 0.1 * span)
    assert_aligned(view)
    # Shift+wheel scrolls half a view per notch (back in time here, away from the user)
    before = view.view_range()[0]
    wheel(view, view.time_to_viewport(5.0, view.strip), 1, SHIFT)
    assert view.view_range()[0] == pytest.approx(max(before - 0.5 * span, 0.0))
    assert_aligned(view)


def test_keys_step_page_jump_and_zoom(qtbot, window):
    view = window.view
    duration = view.duration
    keys = view.graphics

    def press(key, modifier=Qt.KeyboardModifier.NoModifier):
        qtbot.keyClick(keys, key, modifier)
        assert_aligned(view)
        return view.view_range()

    start, end = press(Qt.Key.Key_Equal, CTRL)  # Ctrl+= zooms in twice as close
    assert end - start == pytest.approx(duration / 2)
    span = end - start
    assert press(Qt.Key.Key_End) == pytest.approx((duration - span, duration))
    assert press(Qt.Key.Key_Left) == pytest.approx((duration - 1.1 * span, duration - 0.1 * span))
    assert press(Qt.Key.Key_Home) == pytest.approx((0.0, span))
    assert press(Qt.Key.Key_Right) == pytest.approx((0.1 * span, 1.1 * span))
    assert press(Qt.Key.Key_PageDown) == pytest.approx((duration - span, duration))
    assert press(Qt.Key.Key_PageUp) == pytest.approx((0.0, span))  # clamped at the start
    assert press(Qt.Key.Key_Minus, CTRL) == pytest.approx((0.0, duration))
    press(Qt.Key.Key_Equal, CTRL)
    assert press(Qt.Key.Key_0, CTRL) == pytest.approx((0.0, duration))  # Ctrl+0 fits


def test_double_click_fits_the_recording(qtbot, window):
    view = window.view
    view.zoom_by(8.0, 6.0)
    assert view.view_range()[1] - view.view_range()[0] == pytest.approx(view.duration / 8)
    double_click(view, view.time_to_viewport(6.0, view.spectrogram))
    assert view.view_range() == pytest.approx((0.0, view.duration))
    assert_aligned(view)
    view.zoom_by(4.0, 3.0)
    double_click(view, view.time_to_viewport(3.0, view.waveform))
    assert view.view_range() == pytest.approx((0.0, view.duration))


def test_the_crosshair_reads_time_amplitude_frequency_and_level(qtbot, window):
    view = window.view
    seconds_per_px = view.duration / view.waveform.vb.width()
    move_mouse(view, view.time_to_viewport(2.5, view.spectrogram, 150.0))
    text = view.readout.text()
    found = re.search(r"t (\d+\.\d+) s", text)
    assert found, text
    time_s = float(found.group(1))
    assert time_s == pytest.approx(2.5, abs=2 * seconds_per_px)
    # the sample under the pointer (the read-out rounds the time to the millisecond)
    near = {f"amplitude {view.waveform.amplitude_at(time_s + d / 10_000):+.4f}"
            for d in range(-6, 7)}
    assert any(amplitude in text for amplitude in near), text
    found = re.search(r"(\d+) Hz, (-?\d+) dB", text)
    assert found, text
    assert float(found.group(1)) == pytest.approx(150.0, abs=10.0)
    assert -60 <= float(found.group(2)) <= 0
    assert f"window P(abnormal) {view.strip.probability_at(time_s):.2f}" in text
    # the vertical line in every plot, the horizontal one in the spectrogram only
    assert all(line.isVisible() and line.value() == pytest.approx(time_s, abs=1e-3)
               for line in view._cross_v)
    assert [line.isVisible() for line in view._cross_h] == [False, False, True]
    qtbot.wait(30)  # pyqtgraph takes at most one mouse move per 10 ms
    move_mouse(view, view.time_to_viewport(7.0, view.waveform))
    text = view.readout.text()
    found = re.search(r"t (\d+\.\d+) s", text)
    assert found and float(found.group(1)) == pytest.approx(7.0, abs=2 * seconds_per_px), text
    assert "amplitude" in text and "Hz" not in text
    assert [line.isVisible() for line in view._cross_h] == [True, False, False]


def test_the_help_lists_exactly_the_shortcut_table_that_binds_the_keys(qtbot, window):
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window.shortcuts_dialog
    qtbot.waitExposed(dialog)
    rows = dialog.rows()
    assert rows == [tuple(row) for row in help_rows()]
    listed = {(group, keys) for group, keys, _what in rows}
    for command in COMMANDS:
        action = window.actions[command.id]
        bound = [key.toString(QKeySequence.SequenceFormat.NativeText)
                 for key in action.shortcuts()]
        assert bound == [QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
                         for k in command.keys], command.id
        if command.keys:  # what the keys do, said where the help says it
            assert (command.group, command.keys_text) in listed, command.id
            assert (command.group, command.keys_text, command.description) in rows
    assert ("View", "Ctrl+Wheel", "Zoom in or out around the mouse pointer") in rows
    dialog.close()


# -- playback -------------------------------------------------------------------------------
def test_without_an_output_device_playback_is_disabled_and_says_why(qtbot, window,
                                                                   monkeypatch, normal_wav):
    monkeypatch.setattr(player_module, "list_output_devices", lambda rescan=False: [])
    window.player.check_device(rescan=True)
    play = window.actions["play_pause"]
    assert not play.isEnabled()
    reason = window.player.unavailable_reason
    assert "no audio output device" in reason and play.toolTip() == reason
    assert "Viewing and classifying recordings still work" in reason
    qtbot.keyClick(window.view.graphics, Qt.Key.Key_Space)  # nothing plays, nothing breaks
    assert window.player.state == STOPPED
    window.play_pause()  # the menu command, were it reached: the reason in the status bar
    assert window.statusBar().currentMessage() == reason
    # everything else works: open, view, classify
    with qtbot.waitSignals([window.recording_shown, window.result_shown],
                           timeout=RESULT_TIMEOUT_MS):
        window.open_paths([normal_wav])
    assert window.view.has_recording and window.result_panel.prediction is not None
    assert not play.isEnabled() and play.toolTip() == reason


@pytest.fixture
def pulse_sink():
    """A private PulseAudio server whose null sink is the default output (skips, saying why,
    where none can be started); PortAudio's device list is read again before and after.
    """
    from tests.recording.pulse import started_server

    try:
        player_module.sounddevice_module()
    except player_module.PlaybackUnavailable as exc:
        pytest.skip(str(exc))
    with started_server(pytest.skip,
                        lambda: player_module.list_output_devices(rescan=True)) as server:
        yield server


def test_space_plays_and_pauses_through_a_null_sink_and_the_playhead_moves(qtbot, window,
                                                                           pulse_sink):
    player = window.player
    assert player.check_device(rescan=True) is None, player.unavailable_reason
    play = window.actions["play_pause"]
    assert play.isEnabled()
    view = window.view
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.time_to_viewport(2.0))  # the cursor: playback starts there
    start = view.cursor_s
    assert start == pytest.approx(2.0, abs=0.05)
    heads = []
    player.position_changed.connect(heads.append)
    try:
        qtbot.keyClick(view.graphics, Qt.Key.Key_Space)
        assert player.state == PLAYING and play.text() == "&Pause", \
            window.statusBar().currentMessage()
        # the sound server may take a second to start pulling samples on a busy machine
        qtbot.waitUntil(lambda: view.playhead_s is not None and view.playhead_s > start + 0.3,
                        timeout=20_000)
        assert heads[0] == pytest.approx(start) and heads == sorted(heads)
        assert all(line.isVisible() for line in view._playhead_lines)
        qtbot.keyClick(view.graphics, Qt.Key.Key_Space)
        assert player.state == PAUSED and play.text() == "&Play"
        paused_at = player.position_s
        assert paused_at > start + 0.3
        qtbot.wait(300)
        assert player.position_s == paused_at
        qtbot.keyClick(view.graphics, Qt.Key.Key_Space)  # resumes where it paused
        assert player.state == PLAYING
        qtbot.waitUntil(lambda: heads[-1] > paused_at + 0.1, timeout=20_000)
    finally:
        player.position_changed.disconnect(heads.append)
        player.stop()
    assert player.state == STOPPED and view.playhead_s is None
    assert player.status_flags >= 0


def test_looking_for_input_devices_while_playing_leaves_the_playback_playing(qtbot, window,
                                                                              pulse_sink):
    """The record panel's ↻ restarts PortAudio, which would cut the playback's stream: while
    something plays it lists the devices it knows and says how to look for new ones.
    """
    player = window.player
    assert player.check_device(rescan=True) is None, player.unavailable_reason
    panel = window.record_panel
    heads = []
    player.position_changed.connect(heads.append)
    try:
        window.actions["play_pause"].trigger()
        qtbot.waitUntil(lambda: len(heads) > 2, timeout=20_000)
        panel.rescan_button.click()
        assert "Stop playback to look for newly connected devices" in panel.status_label.text()
        reached = heads[-1]
        qtbot.waitUntil(lambda: heads[-1] > reached + 0.2, timeout=20_000)  # still playing
        assert player.state == PLAYING
    finally:
        player.position_changed.disconnect(heads.append)
        player.stop()
