"""`audiofuse reproduce`: the paper's tables, never scoring a model on its training recordings."""

from __future__ import annotations

import pytest

from audiofuse_core.cli import main
from audiofuse_core.models import build_model, save_model
from audiofuse_core.reproduce import MODEL_FILES
from tests.core.test_models import TINY

TRAINED_ON = ["a0238", "b0001", "e01289", "f0007"]  # pretend these were training recordings


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("three")
    for kind, name in MODEL_FILES.items():
        model = build_model(TINY, kind, seed=3, metadata={
            "name": name, "split": {"training_records": TRAINED_ON}})
        save_model(model, folder / name)
    return folder


def test_reproduce_prints_both_tables(models_dir, physionet_dir, pascal_dir, capsys):
    code = main(["reproduce", "--physionet", str(physionet_dir), "--pascal", str(pascal_dir),
                 "--models", str(models_dir), "--bootstrap", "50"])
    out = capsys.readouterr().out
    assert code == 0
    assert "10 recordings" in out and "4 training recordings left out" in out
    for figure in ("0.8608", "0.5508", "0.7181", "-16.6 %", "0.4873"):
        assert figure in out
    # in-domain, per subset, on the recordings the quality gate accepts, PASCAL
    assert out.count("| AudioFuse fusion |") == 4
    # the gate refuses b0033 and d0004 (both held out here)
    accepted = out[out.index("As the program answers"):out.index("## Domain shift")]
    assert "| AudioFuse fusion | 2 of 10 |" in accepted
    assert "set_a (phone)" in out


def test_reproduce_refuses_when_nothing_is_held_out(tmp_path, physionet_dir, capsys):
    names = [p.stem for p in physionet_dir.glob("*/*.wav")]
    for kind, name in MODEL_FILES.items():
        save_model(build_model(TINY, kind, metadata={"split": {"training_records": names}}),
                   tmp_path / name)
    assert main(["reproduce", "--physionet", str(physionet_dir), "--models", str(tmp_path)]) == 2
    assert "nothing is left to evaluate" in capsys.readouterr().err


def test_reproduce_without_models(tmp_path, physionet_dir, capsys):
    assert main(["reproduce", "--physionet", str(physionet_dir), "--models", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
