"""Opening recordings as a clinician does, on one window with the bundled trained model: the
File menu's dialogs, drag and drop of a file, of several and of a folder, the recent-files list,
files that cannot be classified (a one-line reason in the banner, or in the table's row), and the
results table (fills in, cancel, sort, CSV, a row opens its recording).
"""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QPoint, Qt

from app.batch_results import CANCELLED, DONE, FAILED
from app.batch_table import COLUMNS
from app.result_panel import probability_text

from . import pdf_text
from .conftest import RESULT_TIMEOUT_MS
from .flows import choose_in_file_dialog, drop, settle, shared_window

BATCH_TIMEOUT_MS = RESULT_TIMEOUT_MS * 3


@pytest.fixture(scope="module")
def module_window(qapp, tmp_path_factory):
    from audiofuse_core.resources import default_model_path

    yield from shared_window(tmp_path_factory.mktemp("open-flows"), default_model_path())


@pytest.fixture
def window(qtbot, module_window):
    settle(module_window, qtbot)
    return module_window


@pytest.fixture(scope="module")
def examples():
    from audiofuse_core.resources import example_recordings

    return {path.name.split("-")[0]: path for path in example_recordings()}


def _shown_and_classified(qtbot, window):
    return qtbot.waitSignals([window.recording_shown, window.result_shown],
                             timeout=RESULT_TIMEOUT_MS)


# -- File > Open ----------------------------------------------------------------------------
def test_file_open_classifies_the_abnormal_example_as_abnormal(qtbot, window, examples):
    path = examples["abnormal"]
    with _shown_and_classified(qtbot, window):
        choose_in_file_dialog(qtbot, window, "open", path.parent, [path.name])
    prediction = window.result_panel.prediction
    assert window.current_path == path.absolute()
    assert window.windowTitle() == f"AudioFuse: {path.name}"
    # the bundled model, trained: the PhysioNet abnormal example is called abnormal
    assert window.runner.model_info.name != "test-untrained"
    assert prediction.label == "abnormal" and prediction.probability >= prediction.threshold
    assert window.result_panel.verdict.text() == "Abnormal"
    assert not window.banner.isVisible() and not window.batch_dock.isVisible()


def test_file_open_with_several_files_classifies_them_in_the_table(qtbot, window, examples):
    names = [examples["normal"].name, examples["abnormal"].name]
    with qtbot.waitSignal(window.batch_finished, timeout=BATCH_TIMEOUT_MS):
        choose_in_file_dialog(qtbot, window, "open", examples["normal"].parent, names)
    rows = window.batch_panel.rows
    assert sorted(r.name for r in rows) == sorted(names)
    assert {r.name: r.label for r in rows} == {examples["normal"].name: "normal",
                                              examples["abnormal"].name: "abnormal"}
    assert window.batch_dock.isVisible()
    assert window.current_path.name == rows[0].name  # the first one is shown


def test_open_folder_classifies_every_recording_inside(qtbot, window, recordings_folder):
    folder = recordings_folder / "training-b"
    with qtbot.waitSignal(window.batch_finished, timeout=BATCH_TIMEOUT_MS):
        choose_in_file_dialog(qtbot, window, "open_folder", folder)
    rows = window.batch_panel.rows
    assert [r.path for r in rows] == sorted(folder.glob("*.wav"))  # not the .hea files
    assert all(r.status == DONE for r in rows)
    assert window.batch_panel.progress_label.text() == "3 of 3 classified"


# -- drag and drop ----------------------------------------------------------------------------
def test_dropping_one_file_opens_and_classifies_it(qtbot, window, examples, tmp_path):
    with qtbot.waitSignal(window.recording_failed, timeout=RESULT_TIMEOUT_MS):
        window.open_paths([tmp_path / "gone.wav"])  # nothing on screen now but the banner
    assert window.view.placeholder.isVisible() and window.banner.isVisible()
    path = examples["normal"]
    with _shown_and_classified(qtbot, window):  # onto the placeholder that invites it
        assert drop(window.view.placeholder, [path])
    assert window.current_path == path.absolute() and not window.banner.isVisible()
    assert window.result_panel.prediction.label == "normal"
    assert window.result_panel.verdict.text() == "Normal"
    other = examples["abnormal"]
    with _shown_and_classified(qtbot, window):  # onto the plots of the recording on screen
        assert drop(window.view.graphics.viewport(), [other])
    assert window.current_path == other.absolute()
    assert not window.batch_dock.isVisible()


def test_dropping_several_files_classifies_them_in_the_table(qtbot, window, physionet_dir):
    files = sorted(physionet_dir.glob("training-a/*.wav")) + [physionet_dir / "training-e" /
                                                              "e01642.wav"]
    with qtbot.waitSignal(window.batch_finished, timeout=BATCH_TIMEOUT_MS):
        assert drop(window, files)
    rows = window.batch_panel.rows
    assert [r.path for r in rows] == [f.absolute() for f in files]
    assert all(r.status == DONE and r.label in ("normal", "abnormal", "poor-quality")
               for r in rows)
    assert window.current_path == files[0].absolute()
    # the first file is on screen, and its answer (from the table) in the result panel
    assert window.result_panel.prediction.path.name == files[0].name


def test_dropping_a_folder_classifies_every_recording_in_it(qtbot, window, recordings_folder):
    with qtbot.waitSignal(window.batch_finished, timeout=BATCH_TIMEOUT_MS):
        assert drop(window.view.graphics.viewport(), [recordings_folder])
    rows = window.batch_panel.rows
    assert len(rows) == 14 and all(r.status == DONE for r in rows)
    assert {r.path.parent.name for r in rows} == {f"training-{x}" for x in "abcdef"}


def test_a_drag_without_files_is_refused(qtbot, window, examples):
    with _shown_and_classified(qtbot, window):
        window.open_paths([examples["normal"]])
    assert not drop(window, text="a0001.wav")
    qtbot.wait(50)
    assert window.current_path == examples["normal"].absolute()
    assert not window.banner.isVisible() and not window.batch_panel.rows


# -- recent files -------------------------------------------------------------------------------
def _recent_actions(window):
    window.recent_menu.aboutToShow.emit()
    return [a for a in window.recent_menu.actions() if a.data()]


def test_recent_files_list_newest_first_and_reopen(qtbot, window, examples, normal_wav):
    window.recent_menu.aboutToShow.emit()
    assert [a.text() for a in window.recent_menu.actions()] == ["No recent recordings"]
    for path in (examples["normal"], normal_wav, examples["abnormal"]):
        with _shown_and_classified(qtbot, window):
            window.open_paths([path])
    actions = _recent_actions(window)
    assert [a.text() for a in actions] == [examples["abnormal"].name, normal_wav.name,
                                           examples["normal"].name]
    assert actions[1].toolTip() == str(normal_wav.resolve())
    with qtbot.waitSignal(window.recording_shown, timeout=RESULT_TIMEOUT_MS):
        actions[1].trigger()
    assert window.current_path == normal_wav.absolute()
    assert [a.text() for a in _recent_actions(window)][0] == normal_wav.name
    clear = [a for a in window.recent_menu.actions() if a.text() == "Clear the list"]
    clear[0].trigger()
    assert _recent_actions(window) == []


# -- files that cannot be classified -----------------------------------------------------------
def test_each_bad_file_gets_a_one_line_reason_in_the_banner(qtbot, window, bad_files,
                                                            examples):
    expected = {"not_audio": "not an audio file", "empty": "empty", "truncated": "truncated",
                "silent": "silent", "too_short": "at least 2 s", "missing": "not found"}
    assert set(expected) == set(bad_files)
    for key, path in bad_files.items():
        window.open_paths([path])
        qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=RESULT_TIMEOUT_MS)
        qtbot.waitUntil(lambda: not window.runner.busy and not window.loader.busy,
                        timeout=RESULT_TIMEOUT_MS)
        text = window.banner.text()
        assert text.startswith(f"{path.name}: ") and expected[key] in text, (key, text)
        assert "\n" not in text and "Traceback" not in text and len(text) < 200, (key, text)
        assert window.result_panel.verdict.text() == "Not classified"
        assert window.result_panel.prediction is None
    # and the window goes on working: a good recording hides the banner
    with _shown_and_classified(qtbot, window):
        window.open_paths([examples["abnormal"]])
    assert not window.banner.isVisible()
    assert window.result_panel.verdict.text() == "Abnormal"


def test_bad_files_in_a_batch_get_their_reason_in_their_row(qtbot, window, bad_files,
                                                            examples):
    files = [*bad_files.values(), examples["normal"]]
    with qtbot.waitSignal(window.batch_finished, timeout=BATCH_TIMEOUT_MS):
        assert drop(window, files)
    rows = {r.path.name: r for r in window.batch_panel.rows}
    assert len(rows) == len(files)
    assert rows[examples["normal"].name].status == DONE
    model = window.batch_panel.model
    for path in bad_files.values():
        row = rows[path.name]
        assert row.status == FAILED, path.name
        assert row.reason.startswith(f"{path.name}: ") and "\n" not in row.reason
        assert "Traceback" not in row.reason
        position = model.rows.index(row)
        shown = [model.index(position, c).data() for c in range(len(COLUMNS))]
        assert shown[2] == "Not classified" and shown[4] == f"failed: {row.reason}"
    assert window.batch_panel.progress_label.text() == (
        f"1 of {len(files)} classified, {len(bad_files)} could not be classified")


# -- the results table ------------------------------------------------------------------------
def test_the_table_fills_in_one_row_at_a_time(qtbot, window, recordings_folder):
    done_counts = []

    def count_done(*_args) -> None:  # connected after the window's slot: runs after it
        done_counts.append(sum(r.status == DONE for r in window.batch_panel.rows))

    window.runner.prediction_ready.connect(count_done)
    try:
        with qtbot.waitSignal(window.batch_finished, timeout=BATCH_TIMEOUT_MS):
            window.open_paths([recordings_folder])
            assert len(window.batch_panel.rows) == 14  # every row is there at once, waiting
            assert all(r.status != DONE for r in window.batch_panel.rows)
    finally:
        window.runner.prediction_ready.disconnect(count_done)
    assert done_counts == list(range(1, 15))  # each answer filled its row as it came


def test_the_batch_can_be_cancelled(qtbot, window, recordings_folder):
    window.open_paths([recordings_folder])
    qtbot.waitUntil(lambda: any(r.status == DONE for r in window.batch_panel.rows),
                    timeout=BATCH_TIMEOUT_MS)
    assert window.batch_panel.cancel_button.isEnabled()
    with qtbot.waitSignal(window.batch_finished, timeout=RESULT_TIMEOUT_MS):
        window.batch_panel.cancel_button.click()
    statuses = [r.status for r in window.batch_panel.rows]
    finished = statuses.count(DONE)
    assert 1 <= finished < 14 and statuses == [DONE] * finished + [CANCELLED] * (14 - finished)
    assert not window.runner.busy and not window.batch_panel.cancel_button.isEnabled()
    assert "cancelled" in window.batch_panel.progress_label.text()
    # the window still classifies what is opened next
    with _shown_and_classified(qtbot, window):
        window.open_paths([recordings_folder / "training-a" / "a0336.wav"])


def test_the_table_sorts_exports_csv_and_opens_the_selected_row(qtbot, window,
                                                                recordings_folder, tmp_path):
    with qtbot.waitSignal(window.batch_finished, timeout=BATCH_TIMEOUT_MS):
        window.open_paths([recordings_folder])
    panel = window.batch_panel
    assert [r.path for r in panel.visible_rows()] == [r.path for r in panel.rows]
    # the same folder again: nothing is added twice, and the first recording is shown
    count = len(panel.rows)
    window.open_paths([recordings_folder])
    assert len(panel.rows) == count
    assert f"{count} of {count} recordings are already in the table" in \
        window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.result_panel.prediction is not None, timeout=10_000)
    # a click on a column's header sorts by it, a second click the other way round
    _click_header(qtbot, panel, "Probability")
    _click_header(qtbot, panel, "Probability")
    shown = [panel.proxy.index(r, 3).data() for r in range(panel.proxy.rowCount())]
    numbers = [float(text) for text in shown if text]
    assert numbers == sorted(numbers, reverse=True) and len(set(numbers)) > 5
    # recordings refused for their quality show no probability: they come last, not first
    assert shown == [f"{n:.3f}" for n in numbers] + [""] * (len(shown) - len(numbers))
    assert all(r.label == "poor-quality" for r in panel.visible_rows()[len(numbers):])
    _click_header(qtbot, panel, "Duration")
    durations = [r.duration for r in panel.visible_rows()]
    assert durations == sorted(durations)
    shown = [panel.proxy.index(r, 1).data() for r in range(panel.proxy.rowCount())]
    assert shown == [f"{d:.1f} s" for d in durations]  # numbers sort as numbers, not text

    # CSV: the rows in the order shown, through the File menu's save dialog
    assert window.actions["export_csv"].isEnabled()
    target = tmp_path / "table.csv"
    choose_in_file_dialog(qtbot, window, "export_csv", tmp_path, [target.name])
    qtbot.waitUntil(target.is_file, timeout=5000)
    with open(target, newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert [line["file"] for line in lines] == [r.name for r in panel.visible_rows()]
    assert all(line["status"] == "done" for line in lines)
    assert {line["result"] for line in lines} <= {"normal", "abnormal", "poor-quality"}
    assert [line["probability_abnormal"] for line in lines] == [
        f"{r.probability:.6f}" for r in panel.visible_rows()]
    assert float(lines[0]["duration_s"]) == pytest.approx(min(durations), abs=1e-3)

    # selecting a row shows its recording and its answer, without running the model again
    row = panel.visible_rows()[-1]
    assert window.current_path != row.path
    classified = []
    window.runner.prediction_started.connect(classified.append)
    try:
        with qtbot.waitSignal(window.recording_shown, timeout=RESULT_TIMEOUT_MS):
            _click_cell(qtbot, panel, panel.proxy.rowCount() - 1)
        assert window.current_path == row.path
        assert window.result_panel.prediction is row.prediction
        assert window.view.strip.tile_count == len(row.prediction.window_probabilities)
        qtbot.wait(100)
    finally:
        window.runner.prediction_started.disconnect(classified.append)
    assert classified == []


def _click_header(qtbot, panel, column: str) -> None:
    header = panel.table.horizontalHeader()
    section = COLUMNS.index(column)
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(x, header.height() // 2))


def _click_cell(qtbot, panel, row: int) -> None:
    table = panel.table
    table.scrollTo(panel.proxy.index(row, 0))
    rect = table.visualRect(panel.proxy.index(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


# -- the PDF report ---------------------------------------------------------------------------
def test_a_pdf_cut_short_never_replaces_an_earlier_report(qapp, tmp_path, monkeypatch):
    """A full disk cuts the new PDF short: the earlier report of that name stays as it was, the
    half-written file is removed, and the failure is said (OSError for the dialog to show).
    """
    from PySide6.QtGui import QImage

    from app import report_pdf

    target = tmp_path / "reports" / "report.pdf"
    target.parent.mkdir()
    report_pdf.write_report(target, report_pdf.ReportFields(), None, {}, QImage())
    earlier = target.read_bytes()
    assert report_pdf._whole_pdf(target)

    def cut_short(path, *args, **kwargs):
        path.write_bytes(earlier[: len(earlier) // 2])

    monkeypatch.setattr(report_pdf, "_write_pdf", cut_short)
    with pytest.raises(OSError, match="could not be written whole"):
        report_pdf.write_report(target, report_pdf.ReportFields(), None, {}, QImage())
    assert target.read_bytes() == earlier
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.pdf"]


def test_characters_no_font_can_draw_are_named_before_the_report_is_saved(qtbot, tmp_path):
    """A name in a script no installed font covers would print as empty boxes: the dialog names
    the characters and saves only when the user agrees. (Code points no standard assigns stand
    in for such a script: no font draws them; Latin, Greek and Cyrillic always pass.) The
    recording's file name, printed on the report too, is checked as well.
    """
    from PySide6.QtGui import QImage

    from app import report_pdf
    from app.report_dialog import ReportDialog

    assert report_pdf.undrawable("Ελένη Иван Şükrü Müller, 12-03\n") == ""
    assert report_pdf.undrawable("Pat\u0378ient \u0379\u0378") == "\u0378\u0379"
    target = tmp_path / "boxes.pdf"
    dialog = ReportDialog(target, lambda path, fields: report_pdf.write_report(
        path, fields, None, {}, QImage()), also_printed={"Recording file": "a\u0379.wav"})
    qtbot.addWidget(dialog)
    dialog.set_field("patient_name", "Wang \u0378")
    dialog.set_field("notes", "fine")
    asked = []
    dialog.confirm_undrawable = lambda missing: asked.append(missing) or False
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert asked == [{"Patient": "\u0378", "Recording file": "\u0379"}]
    assert not target.exists()
    assert "empty boxes" in dialog.error_label.text()
    dialog.confirm_undrawable = lambda missing: True
    with qtbot.waitSignal(dialog.saved, timeout=30_000):
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert pdf_text.page_count(target) == 1


def test_the_pdf_report_is_one_page_with_what_was_typed(qtbot, window, examples, tmp_path):
    path = examples["abnormal"]
    with _shown_and_classified(qtbot, window):
        window.open_paths([path])
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # Ctrl+P
    dialog = window.report_dialog
    qtbot.waitExposed(dialog)
    typed = {"patient_name": "Ada Lovelace", "patient_id": "MRN-0042",
             "birth_date": "1956-03-14", "recording_site": "mitral area, supine",
             "recorded_on": "2026-11-24 10:30", "clinician": "Dr Grace Hopper",
             "notes": "Systolic murmur\ngrade 3/6"}
    for key, value in typed.items():
        qtbot.keyClicks(dialog.edits[key], value.split("\n")[0])
        if "\n" in value:
            dialog.set_field(key, value)
    assert dialog.fields().patient_name == "Ada Lovelace"
    target = tmp_path / "report.pdf"
    dialog.path_edit.setText(str(target))
    with qtbot.waitSignal(dialog.saved, timeout=30_000) as saved:
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert saved.args[0] == target and target.is_file()
    assert not dialog.isVisible()

    assert pdf_text.page_count(target) == 1
    text = pdf_text.squeeze(pdf_text.page_text(target))
    for value in typed.values():
        assert pdf_text.squeeze(value) in text, value
    prediction = window.result_panel.prediction
    info = window.runner.model_info
    for expected in ("AudioFuse heart-sound report", path.name, "Abnormal",
                     f"Probability of abnormal {probability_text(prediction.probability)}",
                     f"threshold of {prediction.threshold:.2f}",
                     f"{info.name}, version {info.version}",
                     "Decision support only: not a diagnosis."):
        assert pdf_text.squeeze(expected) in text, expected
    # the waveform and spectrogram, within the page's text width (A4, 14 mm margins)
    widths = pdf_text.image_widths_pt(target)
    assert len(widths) == 1 and 0.8 * 516 < widths[0] <= 516.0
    # nothing typed is kept: a new report starts empty
    window.ask_export_report()
    assert window.report_dialog is not dialog
    assert all(not value for value in vars(window.report_dialog.fields()).values())
    # the same name again: the earlier report is replaced only when the user agrees
    second = window.report_dialog
    earlier = target.read_bytes()
    asked = []
    second.confirm_replace = lambda p: asked.append(p) or False
    second.path_edit.setText(str(target))
    second.buttons.button(second.buttons.StandardButton.Save).click()
    assert asked == [target] and second.isVisible() and target.read_bytes() == earlier
    assert "exists" in second.error_label.text()
    second.confirm_replace = lambda p: True
    with qtbot.waitSignal(second.saved, timeout=30_000):
        second.buttons.button(second.buttons.StandardButton.Save).click()
    assert pdf_text.page_count(target) == 1 and not list(tmp_path.glob(".*partial"))
