"""Training in the child process through the panel, on real recordings with a tiny preset:
one epoch, stop early, cancel, and resume after the child was killed mid-run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.advanced.training_process import interrupted_runs
from tests.app.advanced.conftest import TRAINING_TIMEOUT_MS, scan_in

pytestmark = pytest.mark.slow


def _setup(qtbot, panel, physionet_dir, tiny_preset_file, *, epochs: int, steps: int = 2):
    summary = scan_in(qtbot, panel, [physionet_dir])
    assert summary.trainable
    tab = panel.training_tab
    tab.set_preset_file(tiny_preset_file)
    tab.epochs.setValue(epochs)
    tab.batch_size.setValue(4)
    tab.val_fraction.setValue(0.3)
    tab.steps.setValue(steps)
    tab.patience.setValue(50)
    assert tab.train_button.isEnabled()
    return tab


def _wait_for_training_batches(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: tab.last_progress.get("phase") == "training",
                    timeout=TRAINING_TIMEOUT_MS)


def test_train_one_epoch_in_the_child_process(qtbot, panel, physionet_dir, tiny_preset_file):
    tab = _setup(qtbot, panel, physionet_dir, tiny_preset_file, epochs=1)
    with qtbot.waitSignal(tab.process.finished, timeout=TRAINING_TIMEOUT_MS) as finished:
        tab.train_button.click()
        assert tab.process.running and not tab.train_button.isEnabled()
        assert tab.stop_button.isEnabled() and tab.cancel_button.isEnabled()
    result = finished.args[0]
    path = Path(result["model_path"])
    assert path.parent == panel.library.models_dir and path.is_file()
    assert len(result["history"]) == 1
    row = result["history"][0]
    assert {"loss", "val_loss", "val_auc"} <= set(row)
    # the child exits after its report: TensorFlow's teardown took over 5 s under load
    qtbot.waitUntil(lambda: not tab.process.running, timeout=60_000)
    assert tab.train_button.isEnabled()
    # the curves show the epoch, the new model is in the library with its card
    assert len(tab.curves.train_loss.getData()[0]) == 1
    assert tab.curves.best_lines[0].isVisible()
    entry = panel.library.get(path.stem)
    assert entry.metadata["training"]["epochs"] == 1
    assert entry.metadata["data"]["datasets"] == ["physionet2016"]
    assert panel.models_tab.selected_id() == path.stem
    assert "saved" in tab.status.text().lower()
    job = json.loads((panel.library.runs_dir / path.stem / "job.json").read_text())
    assert job["folders"] == [str(physionet_dir)]


def test_stop_early_keeps_the_best_model(qtbot, panel, physionet_dir, tiny_preset_file):
    tab = _setup(qtbot, panel, physionet_dir, tiny_preset_file, epochs=200, steps=0)
    tab.train_button.click()
    _wait_for_training_batches(qtbot, tab)
    with qtbot.waitSignal(tab.process.finished, timeout=TRAINING_TIMEOUT_MS) as finished:
        tab.stop_button.click()
        assert "Stopping..." in tab.status.text()
        assert not tab.stop_button.isEnabled()
        # validating and saving the best model may take minutes on a large set: no kill clock
        assert not tab.process._kill_timer.isActive()
    result = finished.args[0]
    assert result["stopped_early"] and Path(result["model_path"]).is_file()
    assert 1 <= len(result["history"]) < 200
    assert "stopped early" in tab.status.text()


def test_cancel_discards_the_run(qtbot, panel, physionet_dir, tiny_preset_file):
    tab = _setup(qtbot, panel, physionet_dir, tiny_preset_file, epochs=200, steps=0)
    tab.train_button.click()
    _wait_for_training_batches(qtbot, tab)
    with qtbot.waitSignal(tab.process.cancelled, timeout=TRAINING_TIMEOUT_MS):
        tab.cancel_button.click()
        assert "Stopping..." in tab.status.text()
        assert tab.process._kill_timer.isActive()  # a stuck cancel is killed
    assert not list(panel.library.models_dir.glob("*.keras"))
    assert not any(panel.library.runs_dir.iterdir())
    assert "cancelled" in tab.status.text().lower()


def test_a_killed_run_resumes(qtbot, panel, physionet_dir, tiny_preset_file):
    tab = _setup(qtbot, panel, physionet_dir, tiny_preset_file, epochs=6)
    with qtbot.waitSignal(tab.process.failed, timeout=TRAINING_TIMEOUT_MS) as failed:
        tab.train_button.click()
        qtbot.waitUntil(lambda: len(tab.last_progress.get("history") or []) >= 1,
                        timeout=TRAINING_TIMEOUT_MS)
        tab.process.kill()  # as a crash would
    assert "can be resumed" in failed.args[0]
    runs = interrupted_runs(panel.library.runs_dir)
    assert len(runs) == 1 and 1 <= runs[0].epochs_done < 6
    done_before = runs[0].epochs_done
    assert tab.resume_button.isEnabled() and tab.resume_choice.count() == 1
    with qtbot.waitSignal(tab.process.finished, timeout=TRAINING_TIMEOUT_MS) as finished:
        with qtbot.waitSignal(tab.process.started, timeout=TRAINING_TIMEOUT_MS) as started:
            tab.resume_button.click()
        assert started.args[0]["resume"] is True
    result = finished.args[0]
    assert len(result["history"]) == 6
    assert [row["epoch"] for row in result["history"]] == list(range(1, 7))
    state = json.loads((Path(result["run_dir"]) / "state.json").read_text())
    assert state["finished"]
    assert not interrupted_runs(panel.library.runs_dir)
    assert done_before >= 1


def test_transfer_protocol_fine_tunes_the_active_models_head(qtbot, panel, physionet_dir,
                                                             tiny_preset_file):
    from audiofuse_core.models import build_model, save_model
    from audiofuse_core.presets import Preset

    preset = Preset.from_dict(json.loads(tiny_preset_file.read_text()))
    base = save_model(build_model(preset, "fusion", seed=3, metadata={"name": "site-a"}),
                      panel.library.models_dir / "site-a.keras")
    panel.library.activate("site-a")
    tab = _setup(qtbot, panel, physionet_dir, tiny_preset_file, epochs=1)
    tab.mode.setCurrentIndex(tab.mode.findData("transfer"))
    tab.kind.setCurrentIndex(tab.kind.findData("waveform"))
    assert not tab.train_button.isEnabled()  # head-only needs a fusion model
    assert "fusion" in tab.reason.text()
    tab.kind.setCurrentIndex(tab.kind.findData("fusion"))
    with qtbot.waitSignal(tab.process.finished, timeout=TRAINING_TIMEOUT_MS) as finished:
        tab.train_button.click()
    card = panel.library.get(Path(finished.args[0]["model_path"]).stem).metadata
    assert card["training"]["init_model"] == str(base)
    assert card["training"]["freeze_branches"] is True


def test_a_training_the_core_refuses_says_why_and_leaves_nothing(qtbot, panel, tmp_path,
                                                                 tiny_preset_file):
    import soundfile as sf

    from tests.conftest import PHYSIONET

    # The scan reads headers only, so recordings too short for the model pass it; the child
    # finds out when it loads them, and then has one class left: the core refuses, with its
    # reason, and the half-made run is removed.
    root = tmp_path / "mine"
    (root / "normal").mkdir(parents=True)
    (root / "abnormal").mkdir()
    for name in ("training-a/a0238.wav", "training-b/b0001.wav"):
        source = PHYSIONET / name
        (root / "normal" / source.name).write_bytes(source.read_bytes())
    for name in ("training-a/a0336.wav", "training-b/b0013.wav"):
        samples, rate = sf.read(PHYSIONET / name)
        sf.write(root / "abnormal" / Path(name).name, samples[: rate // 4], rate)  # 0.25 s
    summary = scan_in(qtbot, panel, [root])
    assert summary.trainable
    tab = panel.training_tab
    tab.set_preset_file(tiny_preset_file)
    tab.epochs.setValue(1)
    with qtbot.waitSignal(tab.process.failed, timeout=TRAINING_TIMEOUT_MS) as failed:
        tab.train_button.click()
    assert "both normal and abnormal" in failed.args[0]
    assert "Training failed" in tab.status.text()
    qtbot.waitUntil(lambda: not tab.process.running, timeout=30_000)
    assert not any(panel.library.runs_dir.iterdir())
    assert not list(panel.library.models_dir.glob("*.keras"))
