"""What the core's signal analysis adds to the views: the S1/S2 markers on the waveform (View
menu toggle, remembered) and the occlusion map of what drove the result over the spectrogram
(Analysis menu, computed on the model thread, discarded when another recording is opened).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from app.cycle_markers import TRACE_TOP
from app.shortcuts import command, help_rows

from .conftest import RESULT_TIMEOUT_MS, open_and_classify

EXPLAIN_TIMEOUT_MS = 120_000


def _spans_match(markers, cycles) -> bool:
    pairs = (("S1", cycles.s1_onsets, cycles.s1_offsets),
             ("S2", cycles.s2_onsets, cycles.s2_offsets))
    for name, onsets, offsets in pairs:
        drawn = markers.spans(name)
        if len(drawn[0]) != len(onsets) or not (np.allclose(drawn[0], onsets)
                                                and np.allclose(drawn[1], offsets)):
            return False
    return True


def test_markers_sit_at_the_cycles_clear_on_the_next_recording_and_toggle(
        qtbot, window, settings, abnormal_wav, physionet_dir):
    prediction = open_and_classify(qtbot, window, abnormal_wav)
    cycles = prediction.cycles
    assert cycles is not None and cycles.cycle_count >= 5
    view, markers = window.view, window.view.waveform.markers
    assert _spans_match(markers, cycles)
    # drawn above the trace, S1's lane above S2's, and the lanes are named on the axis
    peak = float(np.max(np.abs(view.data.display_samples)))
    s1_lane, s2_lane = markers.lane("S1"), markers.lane("S2")
    assert TRACE_TOP * peak < s2_lane[0] < s2_lane[1] < s1_lane[0] < s1_lane[1]
    assert view.waveform.vb.viewRange()[1][1] >= s1_lane[1]
    assert sorted(view.waveform.getAxis("left").lanes.values()) == ["S1", "S2"]
    # the crosshair's read-out names the phase under the pointer
    assert "S1" in view.readout_for(float(cycles.s1_centres[2])).split("  ·  ")
    # the heart rate is in the result panel beside them
    assert window.result_panel.fields["heart_rate"].text().startswith(
        f"{prediction.heart_rate_bpm:.0f} beats per minute")

    action = window.actions["show_cycles"]
    assert action.isCheckable() and action.isChecked() and action.isEnabled()
    action.trigger()  # hide: the trace takes the lanes' room back, the choice is remembered
    assert markers.count == {"S1": 0, "S2": 0} and not settings.show_cycle_markers
    assert view.waveform.vb.viewRange()[1][1] == pytest.approx(TRACE_TOP * peak)
    assert view.waveform.getAxis("left").lanes == {}
    assert "S1" not in view.readout_for(float(cycles.s1_centres[2])).split("  ·  ")
    action.trigger()
    assert settings.show_cycle_markers and markers.count["S1"] == cycles.cycle_count

    # a recording the quality gate refuses, with no heart cycle found in it: no markers left
    refused = open_and_classify(qtbot, window, physionet_dir / "training-b" / "b0033.wav")
    assert refused.label == "poor-quality" and refused.cycles.cycle_count == 0
    assert markers.count == {"S1": 0, "S2": 0} and view.waveform.getAxis("left").lanes == {}
    # refused (speech-like chirps) but with heart cycles found: they are marked
    chirps = open_and_classify(qtbot, window, physionet_dir / "training-d" / "d0004.wav")
    assert chirps.label == "poor-quality" and chirps.cycles.cycle_count > 0
    assert _spans_match(markers, chirps.cycles)
    # back to a recording with cycles (kept from this session, not classified again)
    again = open_and_classify(qtbot, window, abnormal_wav)
    assert again is prediction and _spans_match(markers, cycles)


def test_the_markers_setting_is_read_at_start(qtbot, make_window, settings, untrained_model_path):
    settings.show_cycle_markers = False
    window = make_window(untrained_model_path)
    assert not window.actions["show_cycles"].isChecked()
    assert not window.view.waveform.markers.visible


def test_what_drove_the_result_is_drawn_over_the_spectrogram(qtbot, window, physionet_dir):
    action = window.actions["explain"]
    assert action.isCheckable() and not action.isEnabled()  # nothing open yet
    explain = command("explain")  # F1 lists it, with its keys
    assert ("Analysis", explain.keys_text, explain.description) in help_rows()
    path = physionet_dir / "training-b" / "b0033.wav"  # 5.3 s: the shortest real recording
    prediction = open_and_classify(qtbot, window, path)
    assert action.isEnabled()
    view = window.view
    progress = []
    window.runner.explanation_progress.connect(lambda _r, fraction: progress.append(fraction))
    with qtbot.waitSignal(window.explanation_shown, timeout=EXPLAIN_TIMEOUT_MS) as shown:
        action.trigger()
        assert action.isChecked() and view.caption_row.isVisibleTo(view)
        assert "Working out what drove the result" in view.caption.text()
    occlusion = shown.args[0]
    assert progress and progress[-1] == pytest.approx(1.0)
    assert occlusion.probability == pytest.approx(prediction.probability, abs=1e-6)
    overlay = view.spectrogram.overlay
    assert overlay is not None and overlay.isVisible() and view.explanation_shown
    # the map covers the whole recording in time and its bands in frequency
    start, end, low, high = overlay.extent
    assert start == 0.0 and end == pytest.approx(prediction.duration, abs=0.01)
    assert low == pytest.approx(occlusion.band_edges_hz[0])
    assert high == pytest.approx(min(occlusion.band_edges_hz[-1], view.data.fmax))
    assert occlusion.drop.shape == (len(occlusion.band_edges_hz) - 1,
                                    len(occlusion.segment_edges_s) - 1)
    # the caption says what the colours mean; this recording was refused for its quality
    text = view.caption.text()
    assert "Orange-red" in text and "towards abnormal" in text and "towards normal" in text
    assert "refused" in text and not view.stop_button.isVisibleTo(view)
    assert "heart-cycle figures" not in text  # the test model has no heart-cycle expert
    from app.occlusion_overlay import caption

    assert "the heart-cycle figures, the other half, are not mapped" in caption(
        occlusion, refused=True, windows_only=True)  # what a model with one is told
    # read-out and zoom: the map stays on the recording's time axis
    t, f = 2.25, float(np.sqrt(occlusion.band_edges_hz[3] * occlusion.band_edges_hz[4]))
    assert view.spectrogram.occlusion_at(t, f) == pytest.approx(occlusion.drop[3, 4])
    view.set_range((1.0, 3.0))

    def aligned() -> bool:  # the plots' transforms follow on the next paint
        on_map = overlay.mapToScene(QPointF(2.0, f)).x()
        on_wave = view.waveform.vb.mapViewToScene(QPointF(2.0, 0.0)).x()
        return abs(on_map - on_wave) < 1.0

    qtbot.waitUntil(aligned, timeout=2000)
    # off and on again: the map is kept for this recording, not computed again
    action.trigger()
    assert not overlay.isVisible() and not view.caption_row.isVisibleTo(view)
    started = []
    window.runner.explanation_started.connect(started.append)
    action.trigger()
    assert overlay.isVisible() and view.caption_row.isVisibleTo(view) and not started
    # the report's picture leaves the map out (its caption would not go with it), then restores it
    view.render_image(400, 300)
    assert overlay.isVisible() and view.explanation_shown


def test_a_recording_opened_meanwhile_discards_the_map(qtbot, window, abnormal_wav, normal_wav):
    open_and_classify(qtbot, window, abnormal_wav)
    runner, action = window.runner, window.actions["explain"]
    shown = []
    window.explanation_shown.connect(shown.append)
    with qtbot.waitSignal(runner.explanation_progress, timeout=EXPLAIN_TIMEOUT_MS):
        action.trigger()
    with qtbot.waitSignals([runner.request_cancelled, window.result_shown],
                           timeout=RESULT_TIMEOUT_MS):
        window.open_paths([normal_wav])  # stops the map after its current segment
    assert not action.isChecked() and window.view.spectrogram.overlay is None
    assert not window.view.caption_row.isVisibleTo(window.view)
    qtbot.waitUntil(lambda: not runner.busy, timeout=RESULT_TIMEOUT_MS)
    assert shown == [] and window.result_panel.prediction.path.name == normal_wav.name
    # closing the window while a map is computed does not wait for the whole map (~5 s here)
    with qtbot.waitSignal(runner.explanation_progress, timeout=EXPLAIN_TIMEOUT_MS):
        action.trigger()
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 3.0 and shown == []
