"""The Models tab's "Add heart-cycle expert...": a copy of the selected model with the feature
expert, trained in a child process on the model's own recordings; the original is untouched.
"""

from __future__ import annotations

import pytest

from .conftest import EVALUATION_TIMEOUT_MS


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, physionet_dir):
    """A tiny waveform model trained on the real sample recordings (it records its split)."""
    from audiofuse_core.datasets import scan
    from audiofuse_core.training import train
    from tests.core.test_training import _config

    folder = tmp_path_factory.mktemp("to-extend")
    return train(_config(folder / "w", epochs=1, kind="waveform"),
                 scan(physionet_dir).records).model_path


def test_add_heart_cycle_expert_writes_a_copy_into_the_library(qtbot, panel, trained_model,
                                                                physionet_dir,
                                                                untrained_model_path):
    from audiofuse_core.modelfile import read_model_metadata

    tab = panel.models_tab
    tab.refresh(panel.library.active_id())  # the bundled default carries an expert already
    assert not tab.expert_button.isEnabled()
    no_split = panel.library.import_model(untrained_model_path)
    tab.refresh(no_split.id)  # a model that does not record its training recordings
    assert not tab.expert_button.isEnabled()
    entry = panel.library.import_model(trained_model)
    tab.refresh(entry.id)
    assert tab.expert_button.isEnabled()
    original = entry.path.read_bytes()
    with qtbot.waitSignal(tab.runner.done, timeout=EVALUATION_TIMEOUT_MS):
        tab.add_feature_expert(physionet_dir)
    assert "Wrote" in tab.message.text() and "heart-cycle expert" in tab.message.text()
    new = panel.library.get(tab.selected_id())
    assert new.id != entry.id and new.path.name.endswith("-cycles.keras")
    assert read_model_metadata(new.path)["feature_expert"]["inputs"] > 0
    assert "Second opinion: a feature expert" in tab.card.toPlainText()
    assert not tab.expert_button.isEnabled()  # it has one now
    assert entry.path.read_bytes() == original


def test_a_wrong_folder_is_refused_with_the_reason(qtbot, panel, trained_model, tmp_path):
    tab = panel.models_tab
    entry = panel.library.import_model(trained_model)
    tab.refresh(entry.id)
    empty = tmp_path / "elsewhere"
    (empty / "normal").mkdir(parents=True)
    with qtbot.waitSignal(tab.runner.error, timeout=EVALUATION_TIMEOUT_MS):
        tab.add_feature_expert(empty)
    assert "No model was written" in tab.message.text()
    assert [m.id for m in panel.library.models()].count(entry.id) == 1
    assert not any(m.path.name.endswith("-cycles.keras") for m in panel.library.models())


def test_closing_the_panel_stops_the_expert_s_child_and_waits_for_it(qtbot, panel,
                                                                     trained_model,
                                                                     physionet_dir):
    tab = panel.models_tab
    entry = panel.library.import_model(trained_model)
    tab.refresh(entry.id)
    tab.add_feature_expert(physionet_dir)
    qtbot.waitUntil(lambda: tab.expert_child is not None, timeout=10_000)
    child = tab.expert_child
    assert child.poll() is None  # still describing the recordings
    panel.close()
    assert child.poll() is not None  # ended before the panel let the program go on
    assert not tab.runner._thread.is_alive()
    assert not any(m.path.name.endswith("-cycles.keras") for m in panel.library.models())


def test_the_evaluation_tab_offers_the_models_the_models_tab_lists(qtbot, panel,
                                                                    untrained_model_path):
    tab, combo = panel.models_tab, panel.evaluation_tab.model

    def offered():
        return {combo.itemData(i) for i in range(combo.count())}

    with qtbot.waitSignal(tab.runner.done, timeout=EVALUATION_TIMEOUT_MS):
        tab.import_file(untrained_model_path)
    imported = panel.library.get(tab.selected_id())
    assert not imported.bundled and str(imported.path) in offered()
    tab.delete(imported.id)
    assert str(imported.path) not in offered()
