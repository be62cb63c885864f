"""The bundled resources: example recordings, icons, and where they are looked up."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import soundfile as sf

from audiofuse_core import resources

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "samples" / "physionet2016"


def test_two_examples_one_normal_one_abnormal():
    examples = resources.example_recordings()
    labels = sorted(path.name.split("-")[0] for path in examples)
    assert labels == ["abnormal", "normal"]
    for path in examples:
        info = sf.info(str(path))
        assert info.samplerate == 2000 and info.channels == 1
        assert 5.0 <= info.duration <= 30.0


def test_examples_have_attribution():
    text = (resources.examples_dir() / "README.md").read_text(encoding="utf-8")
    assert "ODC-By" in text and "Liu C." in text
    for path in resources.example_recordings():
        assert path.stem.split("-")[-1] in text


def test_examples_are_the_physionet_records_with_their_reference_label():
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is absent (CI always has ../shared/data)")
    for path in resources.example_recordings():
        record = path.stem.split("-")[-1]
        original = next(SAMPLES.glob(f"training-*/{record}.wav"))
        with open(original.parent / "REFERENCE.csv", encoding="ascii") as handle:
            reference = dict(csv.reader(handle))
        expected = "abnormal" if reference[record] == "1" else "normal"
        assert path.name.startswith(expected + "-")
        ours, _ = sf.read(str(path), dtype="int16")
        theirs, _ = sf.read(str(original), dtype="int16")
        assert (ours == theirs).all()  # lossless: every sample identical


def test_icons_exist_in_every_size():
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert resources.icon_path(size).stat().st_size > 0
    assert (resources.icons_dir() / "audiofuse.svg").is_file()


def test_resources_found_in_a_bundle_and_through_the_override(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIOFUSE_RESOURCES", raising=False)
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path), raising=False)
    assert resources.examples_dir() == tmp_path / "resources" / "examples"
    assert resources.example_recordings() == []
    (tmp_path / "resources" / "examples").mkdir(parents=True)
    (tmp_path / "resources" / "examples" / "normal-x.wav").write_bytes(b"")
    (tmp_path / "resources" / "examples" / "README.md").write_text("x")
    assert [p.name for p in resources.example_recordings()] == ["normal-x.wav"]
    monkeypatch.setenv("AUDIOFUSE_RESOURCES", str(tmp_path / "elsewhere"))
    assert resources.icon_path(32) == tmp_path / "elsewhere" / "icons" / "audiofuse-32.png"
