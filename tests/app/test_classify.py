"""Classifying the recording on screen: off the GUI thread, the result panel, the strip."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QObject, QThread, QTimer

from app.result_panel import DISCLAIMER, probability_text

from .conftest import MODEL_TIMEOUT_MS, RESULT_TIMEOUT_MS, open_and_classify


def test_result_panel_shows_the_answer_and_its_context(qtbot, window, abnormal_wav):
    prediction = open_and_classify(qtbot, window, abnormal_wav)
    panel = window.result_panel
    assert prediction is not None and prediction.path.name == abnormal_wav.name
    words = {"normal": "Normal", "abnormal": "Abnormal"}.get(prediction.label,
                                                              "Poor quality: record again")
    assert panel.verdict.text() == words
    assert panel.verdict.isVisible()
    info = window.runner.model_info
    assert panel.fields["model"].text() == f"{info.name}, version {info.version}"
    assert panel.fields["model"].text() == "test-untrained, version test"
    assert panel.fields["duration"].text() == f"{prediction.duration:.1f} s" == "12.8 s"
    assert panel.fields["rate"].text() == "analysed at 2000 Hz (file 2000 Hz)"
    assert panel.disclaimer.text() == DISCLAIMER == "Decision support only: not a diagnosis."
    if prediction.label in ("normal", "abnormal"):
        assert probability_text(prediction.probability) in panel.summary.text()
        assert f"threshold of {prediction.threshold:.2f}" in panel.summary.text()
        assert panel.bar.isVisible() and panel.bar.probability == prediction.probability
        assert panel.bar.threshold == prediction.threshold == 0.5
    else:  # the quality gate refused it: the reason, no probability
        assert not panel.bar.isVisible()
        assert prediction.quality.reason in panel.summary.text()


def test_strip_has_one_tile_per_window_under_the_waveform(qtbot, window, abnormal_wav):
    prediction = open_and_classify(qtbot, window, abnormal_wav)
    view = window.view
    assert view.strip.tile_count == len(prediction.window_probabilities) > 1
    # the tile under the middle of each window is that window's probability
    for start, p in zip(prediction.window_starts[:-1], prediction.window_probabilities[:-1]):
        centre = start + prediction.window_seconds / 2
        assert view.strip.probability_at(centre) == pytest.approx(p)
    # aligned: the three plots show the same time range, and the strip sits under the waveform
    ranges = [plot.vb.viewRange()[0] for plot in view.plots]
    assert ranges[0] == pytest.approx(ranges[1]) and ranges[0] == pytest.approx(ranges[2])
    wave_rect = view.waveform.vb.sceneBoundingRect()
    strip_rect = view.strip.vb.sceneBoundingRect()
    spec_rect = view.spectrogram.vb.sceneBoundingRect()
    assert wave_rect.bottom() <= strip_rect.top() and strip_rect.bottom() <= spec_rect.top()
    assert wave_rect.left() == strip_rect.left() == spec_rect.left()
    assert wave_rect.width() == strip_rect.width() == spec_rect.width()
    # its tooltip says what a tile is and whose threshold the dashed line is
    tip = view.strip.toolTip()
    assert f"{prediction.window_seconds:g} s window" in tip
    threshold = (prediction.extra or {}).get("window_threshold", prediction.threshold)
    assert f"threshold, {threshold:.2f}" in tip
    assert ("network's own threshold" in tip) == ("window_threshold" in (prediction.extra or {}))


def test_model_loads_after_the_window_is_shown_and_the_gui_never_waits(
        qtbot, make_window, untrained_model_path, normal_wav):
    window = make_window(untrained_model_path)
    assert window.isVisible() and window.runner.model_info is None
    moments = {}
    window.recording_shown.connect(lambda _d: moments.setdefault("shown", time.perf_counter()))
    window.recording_shown.connect(
        lambda _d: moments.setdefault("panel", window.result_panel.summary.text()))
    window.runner.model_ready.connect(lambda _i: moments.setdefault("model", time.perf_counter()))
    window.start([normal_wav])
    # start() returned at once: the model loads on the model thread
    assert window.runner.loading and window.runner.model_info is None
    qtbot.waitUntil(lambda: window.result_panel.prediction is not None, timeout=MODEL_TIMEOUT_MS)
    # the recording was drawn while the model was still loading, and said so
    assert moments["shown"] < moments["model"]
    assert moments["panel"].startswith("Classifying as soon as the model is loaded")
    assert window.runner.model_info.name == "test-untrained"
    assert window.result_panel.prediction.path.name == normal_wav.name


class _Heartbeat(QObject):
    """Measures how late a 10 ms timer on the GUI thread fires: the event loop's stalls."""

    def __init__(self) -> None:
        super().__init__()
        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer(self)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._beat)
        self.timer.start()

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now


def test_classifying_a_batch_runs_off_the_gui_thread(qtbot, window, recordings_folder):
    seen_threads = []
    window.runner._jobs._worker.done.connect(
        lambda *_: seen_threads.append(QThread.currentThread().objectName()))
    beat = _Heartbeat()
    with qtbot.waitSignal(window.batch_finished, timeout=RESULT_TIMEOUT_MS * 3):
        window.open_paths([recordings_folder])
    beat.timer.stop()
    rows = window.batch_panel.rows
    assert len(rows) == 14 and all(r.status == "done" for r in rows)
    # The worker's signals are emitted on the model thread, never on the GUI thread
    assert set(seen_threads) == {"audiofuse-model"}
    # The event loop kept turning while 14 recordings were classified: the generous bound
    # catches a model call on the GUI thread (hundreds of ms per recording); the benchmark
    # (bench/bench_app.py) measures the real figure.
    gaps = np.asarray(beat.gaps)
    assert len(gaps) > 20
    assert np.percentile(gaps, 99) < 0.5, f"p99 gap {np.percentile(gaps, 99):.3f} s"


def test_missing_model_is_said_plainly_and_files_still_open(qtbot, make_window, tmp_path,
                                                            normal_wav):
    window = make_window(tmp_path / "no-such-model.keras")
    with qtbot.waitSignal(window.runner.model_failed, timeout=MODEL_TIMEOUT_MS) as failed:
        window.start([])
    assert "no-such-model.keras" in failed.args[0]
    assert window.model_status.text() == "Model: not available"
    with qtbot.waitSignal(window.recording_shown, timeout=RESULT_TIMEOUT_MS):
        window.open_paths([normal_wav])
    qtbot.waitUntil(lambda: "could not be loaded" in window.result_panel.summary.text(),
                    timeout=RESULT_TIMEOUT_MS)
    assert window.view.has_recording
    assert window.result_panel.verdict.text() == "Not classified"


def test_model_card_dialog_shows_the_models_card(qtbot, window):
    window.actions["model_card"].trigger()
    dialog = window.model_card_dialog
    qtbot.waitExposed(dialog)
    from PySide6.QtWidgets import QTextBrowser

    text = dialog.findChild(QTextBrowser).toPlainText()
    assert "Model card: test-untrained" in text and "Known limits" in text
    dialog.close()


def test_a_model_with_a_heart_cycle_expert_says_how_its_probability_was_formed(
        qtbot, abnormal_wav):
    from app.report_pdf import _result_html as prediction_html
    from app.result_panel import ResultPanel, opinions_text
    from audiofuse_core.inference import Prediction

    def prediction(extra):
        return Prediction(probability=0.62, label="abnormal", threshold=0.4,
                          window_probabilities=np.array([0.5, 0.6]),
                          window_starts=np.array([0.0, 2.5]), window_seconds=5.0, duration=7.5,
                          sample_rate=2000, original_rate=2000, model_name="m",
                          model_version="1", path=abnormal_wav, extra=extra)

    both = prediction({"network_probability": 0.55, "feature_expert_probability": 0.69})
    assert opinions_text(prediction({})) == ""
    # never a certainty the model does not have
    assert [probability_text(p) for p in (0.997, 0.995, 0.994, 0.5, 0.005, 1.2e-5)] == [
        "above 0.99", "above 0.99", "0.99", "0.50", "0.01", "below 0.01"]
    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.show_prediction(both)
    assert "window by window (0.55)" in panel.summary.text()
    assert "heart-cycle figures (0.69)" in panel.summary.text()
    assert "heart-cycle figures (0.69); 2 windows of 5 s." in prediction_html(both)
    assert "(mean of 2 windows of 5 s)." in prediction_html(prediction({}))
    # a model whose mean is recalibrated says so, and gives the mean before it
    recalibrated = prediction({"network_probability": 0.55, "feature_expert_probability": 0.69,
                               "mean_probability": 0.62})
    panel.show_prediction(recalibrated)
    assert "their mean, 0.62, recalibrated" in panel.summary.text()
    assert "recalibrated on the validation recordings; 2 windows" in prediction_html(recalibrated)


def test_an_unfamiliar_recording_gets_a_notice_in_the_panel_the_report_and_the_table(
        qtbot, abnormal_wav):
    from app.batch_results import BatchRow
    from app.report_pdf import _result_html as prediction_html
    from app.result_panel import ResultPanel
    from audiofuse_core.inference import Prediction

    def prediction(unfamiliar, label="abnormal"):
        familiarity = {"distance": 3.2, "limit": 1.9, "quantile": 0.99,
                       "unfamiliar": unfamiliar}
        return Prediction(probability=0.62, label=label, threshold=0.4,
                          window_probabilities=np.array([0.5, 0.6]),
                          window_starts=np.array([0.0, 2.5]), window_seconds=5.0, duration=7.5,
                          sample_rate=2000, original_rate=2000, model_name="m",
                          model_version="1", path=abnormal_wav,
                          extra={"familiarity": familiarity})

    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.show_prediction(prediction(True))
    assert panel.notice.isVisible()
    assert "unlike those the model learned from" in panel.notice.text()
    assert "Note." in prediction_html(prediction(True))
    row = BatchRow(path=abnormal_wav)
    row.set_prediction(prediction(True))
    assert row.status_text == "done: unlike the training recordings"
    assert row.csv_row()["note"] == row.note and "less reliable" in row.note
    for quiet in (prediction(False), prediction(True, label="poor-quality")):
        panel.show_prediction(quiet)
        assert not panel.notice.isVisible()
        assert "Note." not in prediction_html(quiet)
        row.set_prediction(quiet)
        assert row.note == "" and row.status_text == "done"
    panel.show_prediction(prediction(True))
    panel.show_message("Classifying…")  # a new recording: the old notice goes
    assert not panel.notice.isVisible()


def test_the_threshold_label_stays_clear_of_the_bar_ends():
    from app.result_panel import label_left

    # a threshold near 0 or 1 must not print over the "0" and "1" under the bar's ends
    width = 80.0
    assert label_left(120.0, width, free_from=10.0, free_to=230.0) == 80.0  # centred
    assert label_left(12.0, width, free_from=10.0, free_to=230.0) == 16.0  # pushed right
    assert label_left(228.0, width, free_from=10.0, free_to=230.0) == 230.0 - 6.0 - width


def test_the_strip_says_whose_threshold_its_dashed_line_is():
    from app.probability_strip import strip_tooltip

    with_expert = strip_tooltip(5.0, 0.52, refused=False, network_only=True)
    assert "5 s window" in with_expert and "network's own threshold, 0.52" in with_expert
    assert "heart-cycle figures" in with_expert and "Grey" not in with_expert
    alone = strip_tooltip(5.0, 0.4, refused=True, network_only=False)
    assert "model's threshold, 0.40" in alone and "refused for its quality" in alone


def test_after_a_model_switch_the_screen_shows_the_new_model_s_answers(
        qtbot, window, recordings_folder, untrained_model_path, tmp_path, abnormal_wav):
    """A recording being classified when another model is chosen is classified again with it
    (not shown with the old one's answer), and a table row done with the old model, selected
    afterwards, is classified with the new one instead of waiting for ever.
    """
    from audiofuse_core.models import load_model, save_model

    second = load_model(untrained_model_path)
    second.metadata = {**second.metadata, "version": "second"}
    second_path = save_model(second, tmp_path / "second.keras")

    with qtbot.waitSignal(window.batch_finished, timeout=RESULT_TIMEOUT_MS * 3):
        window.open_paths([recordings_folder])
    rows = window.batch_panel.rows
    assert all(r.status == "done" and r.model_version == "test" for r in rows)

    first, other = abnormal_wav.absolute(), rows[1].path
    with qtbot.waitSignal(window.runner.prediction_started, timeout=RESULT_TIMEOUT_MS):
        window.open_recording(first)
    shown_versions = []
    window.result_shown.connect(lambda p: shown_versions.append(p.model_version))
    window.use_model(second_path)  # while the first model is classifying it
    qtbot.waitUntil(lambda: "second" in shown_versions, timeout=RESULT_TIMEOUT_MS)
    qtbot.wait(500)
    assert shown_versions == ["second"]  # the old model's answer never reached the screen
    assert window.results[first].model_version == "second"

    with qtbot.waitSignal(window.result_shown, timeout=RESULT_TIMEOUT_MS) as shown:
        window.batch_panel.recording_selected.emit(rows[1])
    assert shown.args[0].model_version == "second" and window.current_path == other.absolute()
    assert rows[1].model_version == "test"  # the row keeps the answer it got, and says whose


def test_a_recording_replaced_on_disk_is_classified_again(qtbot, window, normal_wav,
                                                          abnormal_wav, tmp_path):
    """The session's answers are kept by file: a file replaced under the same name (re-exported,
    another recording copied over it) gets its own answer, never the one of the file it replaced.
    """
    import shutil

    patient = tmp_path / "patient.wav"
    shutil.copy(normal_wav, patient)
    first = open_and_classify(qtbot, window, patient)
    other = tmp_path / "other.wav"
    shutil.copy(abnormal_wav, other)
    open_and_classify(qtbot, window, other)
    shutil.copy(abnormal_wav, patient)  # the same name, another recording
    again = open_and_classify(qtbot, window, patient)
    assert again is not first
    assert again.duration == pytest.approx(window.current_data.duration, abs=0.01)
    assert again.duration != pytest.approx(first.duration, abs=0.01)
    # unchanged, it is not classified again
    open_and_classify(qtbot, window, other)
    with qtbot.waitSignal(window.result_shown, timeout=RESULT_TIMEOUT_MS) as shown:
        window.open_paths([patient])
    assert shown.args[0] is again
