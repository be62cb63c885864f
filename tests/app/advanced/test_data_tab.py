"""The Data tab on real folders: the shared samples, and every bad-folder case (empty, no labels,
one class only, unreadable files, missing): a clear message and a disabled Train button.
"""

from __future__ import annotations

import shutil

from tests.app.advanced.conftest import scan_in
from tests.conftest import PHYSIONET, SHARED_SAMPLES


def _train_disabled_with(panel, words: str) -> None:
    tab = panel.training_tab
    assert not tab.train_button.isEnabled()
    assert words.lower() in tab.train_button.toolTip().lower()
    assert words.lower() in tab.reason.text().lower()


def test_scan_of_the_shared_samples(qtbot, panel, pascal_dir):
    summary = scan_in(qtbot, panel, [SHARED_SAMPLES / "physionet2016", pascal_dir])
    assert summary is not None and summary.n_records > 0
    assert summary.per_label["normal"] > 0 and summary.per_label["abnormal"] > 0
    assert {"training-a", "set_a", "set_b"} <= set(summary.per_subset)
    reasons = " ".join(reason for _, reason in summary.skipped)
    assert "unlabelled test file" in reasons and "artifact" in reasons
    assert panel.data_tab.skipped.rowCount() == len(summary.skipped)
    assert panel.data_tab.subsets.rowCount() == len(summary.per_subset)
    assert "Hz" in panel.data_tab.details.text()
    assert summary.trainable and panel.training_tab.train_button.isEnabled()


def test_empty_folder(qtbot, panel, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    summary = scan_in(qtbot, panel, [empty])
    assert summary.n_records == 0
    _train_disabled_with(panel, "No recordings found")
    assert panel.data_tab.problem.isVisibleTo(panel.data_tab)


def test_folder_without_labels(qtbot, panel, tmp_path):
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    for wav in sorted(PHYSIONET.glob("training-a/*.wav")):
        shutil.copy(wav, folder / wav.name)
    summary = scan_in(qtbot, panel, [folder])
    assert summary.n_records == 0 and summary.skipped
    _train_disabled_with(panel, "without a label")


def test_one_class_only(qtbot, panel, tmp_path):
    folder = tmp_path / "mine" / "normal"
    folder.mkdir(parents=True)
    for wav in sorted(PHYSIONET.glob("training-*/*.wav"))[:3]:
        shutil.copy(wav, folder / wav.name)
    summary = scan_in(qtbot, panel, [folder.parent])
    assert summary.n_records == 3
    _train_disabled_with(panel, "Only one class")


def test_unreadable_files_are_listed_and_leave_too_little(qtbot, panel, tmp_path):
    root = tmp_path / "mine"
    for label in ("normal", "abnormal"):
        (root / label).mkdir(parents=True)
        (root / label / "broken.wav").write_bytes(b"RIFF not really a wave file")
    shutil.copy(PHYSIONET / "training-a" / "a0238.wav", root / "normal" / "a0238.wav")
    summary = scan_in(qtbot, panel, [root])
    assert summary.n_records == 1
    assert all("not readable audio" in reason for _, reason in summary.skipped)
    assert len(summary.skipped) == 2
    _train_disabled_with(panel, "Only one class")
    # nothing readable at all
    (root / "normal" / "a0238.wav").unlink()
    summary = scan_in(qtbot, panel, [root])
    _train_disabled_with(panel, "unreadable")


def test_missing_folder(qtbot, panel, tmp_path):
    scan_in(qtbot, panel, [tmp_path / "nowhere"])
    assert panel.data_tab.summary is None
    assert "folder not found" in panel.data_tab.problem.text()
    _train_disabled_with(panel, "Choose and scan")


def test_too_few_of_a_class(qtbot, panel, tmp_path):
    root = tmp_path / "mine"
    (root / "normal").mkdir(parents=True)
    (root / "abnormal").mkdir()
    for wav in sorted(PHYSIONET.glob("training-*/*.wav"))[:3]:
        shutil.copy(wav, root / "normal" / wav.name)
    shutil.copy(PHYSIONET / "training-a" / "a0336.wav", root / "abnormal" / "a0336.wav")
    scan_in(qtbot, panel, [root])
    _train_disabled_with(panel, "Too few 'abnormal'")


def test_removing_the_last_folder_mid_scan_leaves_nothing_to_train_on(qtbot, panel):
    """The scan running when the last folder is removed is of a folder no longer listed: its
    summary must not reach Training.
    """
    tab = panel.data_tab
    with qtbot.waitSignal(tab.runner.done, timeout=120_000):
        tab.add_folder(SHARED_SAMPLES / "physionet2016")
        assert tab.runner.busy
        tab.folders.setCurrentRow(0)
        tab.folders.item(0).setSelected(True)
        tab._on_remove_clicked()
    qtbot.waitUntil(lambda: not tab.runner.busy, timeout=10_000)
    qtbot.wait(100)
    assert tab.folder_paths() == [] and tab.summary is None
    assert not panel.training_tab.train_button.isEnabled()
    assert "Add a labelled data-set folder" in tab.headline.text()
