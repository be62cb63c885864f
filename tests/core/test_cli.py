"""The `audiofuse` command line contract: predict (--json), evaluate, info, errors, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from audiofuse_core.cli import main


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_predict_json_every_input_even_when_some_fail(tmp_path, capsys, untrained_model_path,
                                                      physionet_dir, normal_wav):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    code = main(["predict", str(physionet_dir / "training-a"), str(bad), str(tmp_path / "no.wav"),
                 str(normal_wav), "--model", str(untrained_model_path), "--json"])
    rows = _json_lines(capsys.readouterr().out)
    assert code == 1
    assert len(rows) == 5
    ok = [r for r in rows if r["error"] is None]
    failed = [r for r in rows if r["error"] is not None]
    assert len(ok) == 3 and len(failed) == 2
    for row in ok:
        assert 0 <= row["probability"] <= 1 and row["label"] in ("normal", "abnormal")
    for row in failed:
        assert row["probability"] is None and "\n" not in row["error"]
        assert row["path"].endswith(("bad.wav", "no.wav"))
    assert "not an audio file" in failed[0]["error"] and "not found" in failed[1]["error"]


def test_predict_all_good_exits_zero_and_prints_words(capsys, untrained_model_path, normal_wav):
    assert main(["predict", str(normal_wav), "--model", str(untrained_model_path)]) == 0
    out = capsys.readouterr().out
    assert "not a diagnosis" in out and ("NORMAL" in out or "ABNORMAL" in out)


def test_predict_on_a_folder_without_audio_could_not_run(tmp_path, capsys,
                                                         untrained_model_path):
    (tmp_path / "notes.txt").write_text("no recordings here")
    assert main(["predict", str(tmp_path), "--model", str(untrained_model_path)]) == 2
    assert "no audio files found" in capsys.readouterr().err


def test_missing_model_is_a_clear_error(tmp_path, capsys, normal_wav):
    assert main(["predict", str(normal_wav), "--model", str(tmp_path / "x.keras")]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_evaluate_writes_a_report(tmp_path, capsys, untrained_model_path, physionet_dir):
    code = main(["evaluate", str(untrained_model_path), str(physionet_dir), "--report",
                 str(tmp_path / "rep"), "--bootstrap", "50"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| all | 14 (7) |" in out and "training-e" in out
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert len(report["recordings"]) == 14 and set(report["per_subset"]) == {
        f"training-{c}" for c in "abcdef"}
    assert (tmp_path / "rep" / "predictions.csv").read_text().count("\n") == 15


def test_evaluate_refuses_a_report_path_that_is_a_file_before_scoring(
        tmp_path, capsys, untrained_model_path, physionet_dir):
    taken = tmp_path / "notes.txt"
    taken.write_text("the user's own notes")
    assert main(["evaluate", str(untrained_model_path), str(physionet_dir), "--report",
                 str(taken)]) == 2
    captured = capsys.readouterr()
    assert "is a file, not a folder" in captured.err and "scoring" not in captured.err
    assert taken.read_text() == "the user's own notes"


def test_evaluate_unusable_folder(tmp_path, capsys, untrained_model_path):
    assert main(["evaluate", str(untrained_model_path), str(tmp_path)]) == 2
    assert "no labelled recordings" in capsys.readouterr().err


def test_info_prints_the_card(capsys, untrained_model_path):
    assert main(["info", str(untrained_model_path)]) == 0
    out = capsys.readouterr().out
    assert "Model card" in out and "not a diagnosis" in out.lower()


@pytest.mark.slow
def test_installed_entry_point_train_then_predict(tmp_path):
    """The real `audiofuse` executable: a short training on the real samples, then predict."""
    exe = shutil.which("audiofuse") or str(__import__("pathlib").Path(sys.executable).parent
                                           / "audiofuse")
    from tests.core.test_models import TINY

    preset = tmp_path / "tiny.json"
    preset.write_text(json.dumps(TINY.to_dict()))
    data = str(__import__("tests.conftest", fromlist=["PHYSIONET"]).PHYSIONET)
    trained = subprocess.run([exe, "train", data, "--preset", str(preset), "--out",
                              str(tmp_path / "m.keras"), "--epochs", "1", "--batch-size", "4",
                              "--val-fraction", "0.3", "--steps-per-epoch", "2",
                              "--random-response", "4"],
                             capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "saved" in trained.stdout and "validation ROC-AUC" in trained.stdout
    card = subprocess.run([exe, "info", str(tmp_path / "m.keras")], capture_output=True,
                          text=True, timeout=300)
    assert "random smooth frequency response" in card.stdout and "deviation 4 dB" in card.stdout
    predicted = subprocess.run([exe, "predict", data, "--model", str(tmp_path / "m.keras"),
                                "--json"], capture_output=True, text=True, timeout=300)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert len(_json_lines(predicted.stdout)) == 14
    assert "oneDNN" not in predicted.stderr  # TensorFlow's start-up chatter is kept quiet


@pytest.mark.parametrize("option, value, reason", [
    ("--random-response", "20", "between 0 and 12 dB"),
    ("--weight-average", "0.5", "momentum must be at least 0.9"),
])
def test_train_refuses_an_impossible_setting_before_it_starts(tmp_path, capsys, physionet_dir,
                                                              option, value, reason):
    out = tmp_path / "m.keras"
    assert main(["train", str(physionet_dir), "--out", str(out), option, value]) == 2
    assert reason in capsys.readouterr().err
    assert not out.exists()


def test_gui_passes_the_files_and_the_model_to_the_program(monkeypatch, tmp_path):
    """`audiofuse gui` is a launcher: what it is given reaches app.main.main unchanged."""
    import types

    seen = []
    stand_in = types.ModuleType("app.main")
    stand_in.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "app.main", stand_in)
    model = tmp_path / "clinic.keras"
    assert main(["gui", "a.wav", "b.flac", "--model", str(model)]) == 0
    assert seen == [["a.wav", "b.flac", "--model", str(model)]]
    assert main(["gui"]) == 0 and seen[-1] == []
