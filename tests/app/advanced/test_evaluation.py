"""Evaluation and model management through the panel, with real model files on real
recordings: the report view (metrics, ROC, confusion matrix, sortable table, open in viewer),
export, the side-by-side comparison, activation and rollback with their signals, refused imports.
"""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from app.advanced.library import BUNDLED_ID
from tests.app.advanced.conftest import EVALUATION_TIMEOUT_MS

pytestmark = pytest.mark.slow


def _evaluate(qtbot, panel, model_path, folder):
    tab = panel.evaluation_tab
    tab.set_model(model_path)
    tab.folder.setText(str(folder))
    with qtbot.waitSignal(tab.evaluated, timeout=EVALUATION_TIMEOUT_MS) as done:
        tab.run_button.click()
    return done.args[0]


def test_evaluation_report_view_and_export(qtbot, panel, model_path, physionet_dir, tmp_path):
    report = _evaluate(qtbot, panel, model_path, physionet_dir)
    view = panel.evaluation_tab.view
    n = len(report.results)
    assert n == 14 and not report.failed
    # metrics with intervals: the overall row, one per subset, then the recordings the quality
    # gate accepts (it refuses b0033 and d0004: scored, marked, and left out of that row)
    assert view.metrics.rowCount() == 1 + len(report.per_subset) + 1
    last = view.metrics.rowCount() - 1
    assert view.metrics.item(last, 0).text() == "accepted by the quality gate"
    assert view.metrics.item(last, 1).text().startswith("12 (")
    assert "refused 2 of them" in view.title.text()
    refused = [r for r in range(view.records.rowCount())
               if "refused by the quality gate" in view.records.item(r, 5).text()]
    assert {view.records.item(r, 0).text().split(".")[0] for r in refused} == {"b0033", "d0004"}
    assert "Refused by the quality gate:" in view.records.item(refused[0], 5).toolTip()
    auc_cell = view.metrics.item(0, 2).text()
    assert "[" in auc_cell and "]" in auc_cell
    # confusion matrix: labelled axes, counts that add up to the recordings
    counts = [view.confusion.value(t, p) for t in (0, 1) for p in (0, 1)]
    assert sum(counts) == n
    assert counts[3] == report.overall["tp"] and counts[1] == report.overall["fp"]
    # ROC curve and operating point drawn
    curves = view.roc.getPlotItem().listDataItems()
    assert len(curves) >= 3  # chance line, ROC curve, operating point
    # the table sorts by probability as a number
    table = view.records
    assert table.rowCount() == n
    table.sortItems(3, Qt.SortOrder.AscendingOrder)
    values = [float(table.item(r, 3).text()) for r in range(n)]
    assert values == sorted(values)
    table.sortItems(3, Qt.SortOrder.DescendingOrder)
    values = [float(table.item(r, 3).text()) for r in range(n)]
    assert values == sorted(values, reverse=True)
    # a double-click asks for the recording in the viewer
    with qtbot.waitSignal(panel.recording_requested, timeout=2000) as opened:
        table.cellDoubleClicked.emit(0, 1)
    assert opened.args[0] == table.item(0, 0).data(Qt.ItemDataRole.UserRole)
    # export: Markdown, JSON, CSV, and both plots as PNG
    paths = panel.evaluation_tab.export(tmp_path / "export")
    names = {p.name for p in paths}
    assert names == {"report.md", "report.json", "predictions.csv", "roc.png", "confusion.png"}
    assert "ROC-AUC" in (tmp_path / "export" / "report.md").read_text()
    assert len((tmp_path / "export" / "predictions.csv").read_text().splitlines()) == n + 1
    assert (tmp_path / "export" / "roc.png").read_bytes()[:4] == b"\x89PNG"
    # exporting into the same folder again asks first; "No" keeps the earlier files
    earlier = (tmp_path / "export" / "report.md").read_bytes()
    (tmp_path / "export" / "report.md").write_text("an earlier evaluation\n")
    asked = []
    panel.evaluation_tab.confirm_replace = lambda folder, names: asked.append(names) or False
    assert panel.evaluation_tab.export(tmp_path / "export") == []
    assert sorted(asked[0]) == sorted(names)
    assert (tmp_path / "export" / "report.md").read_text() == "an earlier evaluation\n"
    assert "earlier export" in panel.evaluation_tab.message.text()
    panel.evaluation_tab.confirm_replace = lambda folder, names: True
    assert len(panel.evaluation_tab.export(tmp_path / "export")) == 5
    assert (tmp_path / "export" / "report.md").read_bytes() == earlier


def test_evaluating_a_folder_without_recordings_says_why(qtbot, panel, model_path, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    tab = panel.evaluation_tab
    tab.set_model(model_path)
    tab.folder.setText(str(empty))
    with qtbot.waitSignal(tab.runner.error, timeout=EVALUATION_TIMEOUT_MS):
        tab.run_button.click()
    assert "no labelled recordings" in tab.message.text()


def test_refitting_the_threshold_for_the_folder_adds_a_copy_to_the_library(
        qtbot, panel, untrained_model_path, physionet_dir):
    from audiofuse_core.metrics import best_threshold
    from audiofuse_core.modelfile import read_model_metadata

    original = untrained_model_path.read_bytes()
    tab = panel.evaluation_tab
    assert not tab.refit_button.isEnabled()  # nothing evaluated yet
    report = _evaluate(qtbot, panel, untrained_model_path, physionet_dir)
    assert tab.refit_button.isEnabled()
    # 7 normal and 7 abnormal recordings: too few for the real minimum, said, nothing written
    before = {m.id for m in panel.library.models()}
    with qtbot.waitSignal(tab.runner.error, timeout=EVALUATION_TIMEOUT_MS):
        tab.refit_button.click()
    assert "No model was written" in tab.message.text()
    assert "at least 10 of each" in tab.message.text()
    assert {m.id for m in panel.library.models()} == before
    tab.min_per_class = 3
    with qtbot.waitSignal(tab.model_added, timeout=EVALUATION_TIMEOUT_MS) as added:
        tab.refit_button.click()
    path = added.args[0]
    meta = read_model_metadata(path)
    assert meta["threshold"] == pytest.approx(best_threshold(*report.scored()))
    assert meta["site_thresholds"][-1]["site"] == "physionet2016"
    assert "Saved" in tab.message.text() and "optimistic" in tab.message.text()
    # in the library, listed in both tabs, not active until the user says so
    new_id = next(m.id for m in panel.library.models() if str(m.path) == path)
    assert new_id not in before and panel.library.active_id() == BUNDLED_ID
    assert panel.models_tab.selected_id() == new_id
    assert tab.model.findData(path) >= 0
    assert untrained_model_path.read_bytes() == original


def test_compare_activate_and_roll_back(qtbot, panel, untrained_model_path, physionet_dir):
    library = panel.library
    shutil.copyfile(untrained_model_path, library.models_dir / "candidate.keras")
    tab = panel.models_tab
    tab.refresh("candidate")
    assert tab.selected_id() == "candidate"
    assert not tab.rollback_button.isEnabled()
    # side by side on the same folder
    tab.compare_folder.setText(str(physionet_dir))
    with qtbot.waitSignal(tab.runner.done, timeout=EVALUATION_TIMEOUT_MS):
        tab.compare_button.click()
    active, candidate = tab.comparison
    assert active.model_path != candidate.model_path
    assert [r.record.path for r in active.results] == [r.record.path for r in candidate.results]
    assert tab.compare_table.horizontalHeaderItem(1).text().startswith("active")
    assert "[" in tab.compare_table.item(1, 1).text()
    # one click to activate: the main window is told
    activated = []
    panel.model_activated.connect(activated.append)
    tab.activate_button.click()
    assert library.active_id() == "candidate"
    assert activated[-1].endswith("candidate.keras")
    assert not tab.delete_button.isEnabled()  # the active model cannot be deleted
    assert tab.rollback_button.isEnabled()
    tab.rollback_button.click()
    assert library.active_id() == BUNDLED_ID
    assert activated[-1] == str(library.bundled_path)
    # the bundled model cannot be deleted from the UI either
    tab.refresh(BUNDLED_ID)
    assert not tab.delete_button.isEnabled()
    assert "bundled" in tab.delete_button.toolTip()


def test_importing_a_bad_model_file_is_refused_with_the_reason(qtbot, panel, tmp_path):
    junk = tmp_path / "from-a-colleague.keras"
    junk.write_bytes(b"\x00" * 2048)
    tab = panel.models_tab
    with qtbot.waitSignal(tab.runner.error, timeout=EVALUATION_TIMEOUT_MS):
        tab.import_file(junk)
    assert "Refused" in tab.message.text() and "not a Keras model file" in tab.message.text()
    assert [m.id for m in panel.library.models()] == [BUNDLED_ID]


def test_closing_with_a_running_training_asks(qtbot, panel, monkeypatch):
    monkeypatch.setattr(type(panel.training_tab.process), "training", property(lambda s: True))
    monkeypatch.setattr(panel, "ask_running_training", lambda: "keep")
    assert panel.confirm_close() is False
    asked = []
    monkeypatch.setattr(panel, "ask_running_training", lambda: asked.append(1) or "cancel")
    assert panel.confirm_close() is True and asked
