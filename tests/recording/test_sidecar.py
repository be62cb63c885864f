"""RecordingInfo and its JSON sidecar: validation, round trip, atomic writing, file names."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from app.recording.errors import RecordingError
from app.recording.sidecar import (
    SITES,
    RecordingInfo,
    new_recording_path,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)


def test_round_trip_beside_the_audio(tmp_path):
    audio = tmp_path / "p17_mitral.flac"
    info = RecordingInfo(recording_id="P-17", site="Mitral", note="sitting, after exercise",
                         device="Littmann 3200", samplerate=4000, duration_s=15.0, frames=60000,
                         overflows=2, end_reason="duration", started_at="2025-01-02T10:00:00+01:00")
    assert info.site == "mitral"
    path = write_sidecar(audio, info)
    assert path == sidecar_path(audio) == tmp_path / "p17_mitral.json"
    data = json.loads(path.read_text())
    assert data["format"] == "audiofuse-recording/1" and data["site"] == "mitral"
    assert read_sidecar(audio) == info
    assert [p.name for p in tmp_path.iterdir()] == ["p17_mitral.json"]  # no temporary left


def test_unknown_site_and_bit_depth_are_refused_in_plain_words():
    with pytest.raises(RecordingError, match="not one of aortic, pulmonic"):
        RecordingInfo(site="apex")
    with pytest.raises(RecordingError, match="bit depth"):
        RecordingInfo(bit_depth=12)
    assert set(SITES) == {"aortic", "pulmonic", "tricuspid", "mitral", "other"}


def test_newer_keys_are_ignored_and_bad_sidecars_read_as_none(tmp_path):
    audio = tmp_path / "a.wav"
    sidecar_path(audio).write_text(json.dumps({"recording_id": "x", "site": "aortic",
                                               "from_the_future": 1}))
    assert read_sidecar(audio).recording_id == "x"
    sidecar_path(audio).write_text("{not json")
    assert read_sidecar(audio) is None
    assert read_sidecar(tmp_path / "missing.flac") is None


def test_new_recording_path_is_safe_and_unique(tmp_path):
    when = datetime(2025, 3, 4, 5, 6, 7)
    info = RecordingInfo(recording_id=" Müller/ 12 ", site="aortic")
    first = new_recording_path(tmp_path, info, when=when)
    assert first.name == "Müller-12_aortic_20250304-050607.flac"
    first.touch()
    second = new_recording_path(tmp_path, info, when=when)
    assert second.name == "Müller-12_aortic_20250304-050607-2.flac"
    (tmp_path / f"{second.stem}.partial.json").touch()  # a partial recording holds the name
    assert new_recording_path(tmp_path, info, when=when).stem.endswith("-3")
    assert new_recording_path(tmp_path, RecordingInfo(), suffix=".wav", when=when).name == \
        "other_20250304-050607.wav"
    with pytest.raises(RecordingError, match="lossless"):
        new_recording_path(tmp_path, info, suffix=".mp3")
