"""Data-set readers: PhysioNet 2016 (WAV and FLAC), PASCAL, the generic layouts; skip reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from audiofuse_core.datasets import (
    detect_layout,
    scan,
    scan_generic,
    scan_pascal,
    scan_physionet,
)
from audiofuse_core.errors import DatasetError

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "physionet2016-dev"


def test_physionet_samples(physionet_dir):
    result = scan(physionet_dir)
    assert result.layout == "physionet"
    assert len(result.records) == 14 and not result.skipped
    assert result.counts()["training-a"] == {"normal": 1, "abnormal": 1}
    record = next(r for r in result.records if r.name == "a0336")
    assert record.label == 1 and record.sample_rate == 2000 and record.duration > 5


def test_physionet_flac_matched_by_stem(tmp_path, physionet_dir):
    import soundfile as sf

    folder = tmp_path / "training-a"
    shutil.copytree(physionet_dir / "training-a", folder)
    for wav in folder.glob("*.wav"):
        data, rate = sf.read(wav)
        sf.write(wav.with_suffix(".flac"), data, rate)
        wav.unlink()
    result = scan_physionet(folder)
    assert sorted(r.path.suffix for r in result.records) == [".flac", ".flac"]


def test_physionet_reports_missing_unlisted_and_bad_files(tmp_path, physionet_dir):
    folder = tmp_path / "training-b"
    shutil.copytree(physionet_dir / "training-b", folder)
    (folder / "b0013.wav").unlink()  # listed, no audio
    shutil.copy(folder / "b0001.wav", folder / "b9999.wav")  # audio, not listed
    (folder / "b0033.wav").write_text("not audio")  # unreadable: skipped, scan goes on
    with (folder / "REFERENCE.csv").open("a") as stream:
        stream.write("b0077,2\n")  # bad label
    result = scan_physionet(folder)
    assert [r.name for r in result.records] == ["b0001"]
    reasons = {s.path.name.split(".")[0]: s.reason for s in result.skipped}
    assert "no audio file" in reasons["b0013"]
    assert "not listed" in reasons["b9999"]
    assert "not readable" in reasons["b0033"]
    assert "not 1 or -1" in reasons["b0077"]


def test_physionet_folder_without_its_label_file_is_reported_not_dropped(tmp_path,
                                                                         physionet_dir):
    shutil.copytree(physionet_dir / "training-a", tmp_path / "training-a")
    shutil.copytree(physionet_dir / "training-b", tmp_path / "training-x")
    (tmp_path / "training-x" / "REFERENCE.csv").unlink()
    result = scan_physionet(tmp_path)
    assert {r.subset for r in result.records} == {"training-a"}
    unlabelled = [s for s in result.skipped if s.path.parent.name == "training-x"]
    assert len(unlabelled) == len(list((tmp_path / "training-x").glob("*.wav"))) > 0
    assert all("no REFERENCE.csv in training-x/" in s.reason for s in unlabelled)


@pytest.mark.skipif(not DEV.is_dir(), reason="shared development set not present")
def test_physionet_development_set_flac():
    result = scan_physionet(DEV, probe=False)
    assert len(result.records) == 2160
    assert sum(r.label for r in result.records) == 444


def test_pascal_layout(pascal_dir):
    assert detect_layout(pascal_dir / "set_a") == "pascal"
    result = scan(pascal_dir)
    assert result.layout == "pascal"
    labels = {r.path.name.split("__")[0]: r.label for r in result.records}
    assert labels["normal"] == 0 and labels["murmur"] == 1 and labels["extrastole"] == 1
    assert "artifact" not in labels
    reasons = [s.reason for s in result.skipped]
    assert sum("unlabelled" in r for r in reasons) == 3
    assert sum("artifact" in r for r in reasons) == 2
    assert {r.subset for r in result.records} == {"set_a", "set_b"}
    with_artifacts = scan_pascal(pascal_dir, artifact_as_abnormal=True)
    assert len(with_artifacts.records) == len(result.records) + 2


def test_generic_folder_per_class(tmp_path, normal_wav, abnormal_wav):
    for site, files in (("clinic1", [normal_wav, abnormal_wav]), ("clinic2", [normal_wav])):
        (tmp_path / site / "normal").mkdir(parents=True)
        (tmp_path / site / "abnormal").mkdir(parents=True)
        shutil.copy(files[0], tmp_path / site / "normal" / "n1.wav")
        if len(files) > 1:
            shutil.copy(files[1], tmp_path / site / "abnormal" / "a1.wav")
    shutil.copy(normal_wav, tmp_path / "loose.wav")
    result = scan(tmp_path)
    assert result.layout == "generic"
    assert sorted((r.subset, r.label) for r in result.records) == [
        ("clinic1", 0), ("clinic1", 1), ("clinic2", 0)]
    assert "no label" in result.skipped[0].reason


def test_generic_labels_csv(tmp_path, normal_wav, abnormal_wav):
    shutil.copy(normal_wav, tmp_path / "one.wav")
    shutil.copy(abnormal_wav, tmp_path / "two.wav")
    (tmp_path / "labels.csv").write_text(
        "file,label,device\none.wav,normal,eko\ntwo,murmur,eko\nthree.wav,abnormal,eko\n"
        "one.wav,maybe,eko\n")
    result = scan_generic(tmp_path)
    assert [(r.name, r.label, r.subset) for r in result.records] == [
        ("one", 0, "eko"), ("two", 1, "eko")]
    assert len(result.skipped) == 2


def test_unusable_folders(tmp_path, normal_wav):
    with pytest.raises(DatasetError, match="folder not found"):
        scan(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no labelled recordings"):
        scan(empty).check_trainable()
    one = tmp_path / "one" / "normal"
    one.mkdir(parents=True)
    shutil.copy(normal_wav, one / "x.wav")
    with pytest.raises(DatasetError, match="every recording is labelled 'normal'"):
        scan(tmp_path / "one").check_trainable()
    (tmp_path / "badcsv").mkdir()
    (tmp_path / "badcsv" / "labels.csv").write_text("name;diagnosis\n")
    with pytest.raises(DatasetError, match="needs a 'file' and a 'label' column"):
        scan(tmp_path / "badcsv")


CIRCOR_DEV = DEV.parent / "circor2022-dev"


@pytest.mark.skipif(not CIRCOR_DEV.is_dir(), reason="shared CirCor development set not present")
def test_circor_layout_labels_by_site():
    result = scan(CIRCOR_DEV)
    assert result.layout == "circor"
    assert len(result.records) + len(result.skipped) == 101
    assert {r.subset for r in result.records} <= {"CC2014", "CC2015"}
    reasons = " ".join(s.reason for s in result.skipped)
    assert "not heard at this site" in reasons and "Unknown" in reasons
    assert 0 < sum(r.label for r in result.records) < len(result.records)
