"""The WAV journal and recovery of interrupted recordings, without a sound card.

A journal "killed" here is made the way a kill leaves it: libsndfile's header (data length 0)
followed by the samples written so far, cut anywhere, even inside a frame.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from app.recording.errors import RecordingError
from app.recording.journal import JournalWriter, convert_journal, journal_path, read_journal
from app.recording.recovery import (
    MarkerLock,
    discard,
    find_partial_recordings,
    marker_in_use,
    marker_path,
    recover,
    write_marker,
)
from app.recording.sidecar import RecordingInfo, read_sidecar


def _killed_journal(out, audio, *, keep_frames, extra_bytes=0, channels=1):
    """A journal as a killed writer leaves it: the header libsndfile wrote at open, then raw
    samples, with the header never updated.
    """
    path = journal_path(out)
    writer = JournalWriter(path, samplerate=2000, channels=channels, dtype="int16")
    writer.close()  # header of an empty file: data length 0
    raw = audio[:keep_frames].astype("<i2").tobytes()
    with open(path, "ab") as f:
        f.write(raw + audio[keep_frames:keep_frames + 1].astype("<i2").tobytes()[:extra_bytes])
    return path


@pytest.fixture()
def audio(normal_wav):
    data, _ = sf.read(normal_wav, dtype="int16", always_2d=True)
    return data


def test_journal_with_a_stale_header_is_read_to_its_last_whole_frame(tmp_path, audio):
    path = _killed_journal(tmp_path / "r.flac", audio, keep_frames=5000, extra_bytes=1)
    info = read_journal(path)
    assert (info.samplerate, info.channels, info.frames) == (2000, 1, 5000)
    assert info.seconds == 2.5


def test_closed_journal_converts_to_flac_and_wav_bit_exact(tmp_path, audio):
    writer = JournalWriter(tmp_path / "x.partial.wav", samplerate=2000, channels=1,
                           dtype="int16")
    for start in range(0, len(audio), 333):
        writer.write(audio[start:start + 333])
    writer.close()
    for suffix in (".flac", ".wav"):
        out = tmp_path / f"x{suffix}"
        assert convert_journal(writer.path, out) == len(audio)
        saved, rate = sf.read(out, dtype="int16", always_2d=True)
        assert rate == 2000 and sf.info(str(out)).subtype == "PCM_16"
        np.testing.assert_array_equal(saved, audio)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.flac", "x.partial.wav", "x.wav"]


def test_stereo_24_bit_journal(tmp_path):
    rng = np.random.default_rng(1)
    data = (rng.integers(-2 ** 23, 2 ** 23, size=(4000, 2)) * 256).astype(np.int32)
    writer = JournalWriter(tmp_path / "s.partial.wav", samplerate=48000, channels=2,
                           dtype="int32")
    writer.write(data)
    writer.close()
    convert_journal(writer.path, tmp_path / "s.flac", bit_depth=24)
    saved, _ = sf.read(tmp_path / "s.flac", dtype="int32", always_2d=True)
    assert sf.info(str(tmp_path / "s.flac")).subtype == "PCM_24"
    np.testing.assert_array_equal(saved, data)


def test_not_a_journal_is_refused(tmp_path):
    bad = tmp_path / "bad.partial.wav"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(RecordingError, match="not a WAV journal"):
        read_journal(bad)


def test_interrupted_recording_is_found_and_recovered(tmp_path, audio):
    out = tmp_path / "p1_aortic.flac"
    info = RecordingInfo(recording_id="p1", site="aortic", note="n", samplerate=2000,
                         device="Littmann", started_at="2025-01-01T00:00:00+00:00")
    write_marker(out, info).release()  # as the dead process left it: unlocked
    _killed_journal(out, audio, keep_frames=7000, extra_bytes=1)
    (partial,) = find_partial_recordings(tmp_path)
    assert partial.out == out and partial.seconds == 3.5 and not partial.in_progress
    done = recover(partial)
    assert done.path == out and done.info.recovered and done.info.frames == 7000
    assert done.info.overflows == -1 and "recovered" in done.info.problem
    saved, _ = sf.read(out, dtype="int16", always_2d=True)
    np.testing.assert_array_equal(saved, audio[:7000])
    assert read_sidecar(out).recording_id == "p1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p1_aortic.flac", "p1_aortic.json"]
    assert find_partial_recordings(tmp_path) == []


def test_a_recording_in_progress_is_left_alone(tmp_path, audio):
    out = tmp_path / "live.wav"
    lock = write_marker(out, RecordingInfo())
    try:
        _killed_journal(out, audio, keep_frames=100)
        assert marker_in_use(marker_path(out))
        assert find_partial_recordings(tmp_path) == []
        (partial,) = find_partial_recordings(tmp_path, include_in_progress=True)
        assert partial.in_progress
        with pytest.raises(RecordingError, match="still being recorded"):
            recover(partial)
        with pytest.raises(RecordingError, match="another AudioFuse"):
            MarkerLock(marker_path(out))
    finally:
        lock.release()
    assert not marker_in_use(marker_path(out))
    assert recover(find_partial_recordings(tmp_path)[0]).info.frames == 100


def test_crash_after_conversion_keeps_the_finished_file(tmp_path, audio):
    out = tmp_path / "c.flac"
    write_marker(out, RecordingInfo(samplerate=2000)).release()
    journal = _killed_journal(out, audio, keep_frames=3000)
    convert_journal(journal, out)
    before = out.stat().st_mtime_ns
    done = recover(find_partial_recordings(tmp_path)[0])
    assert done.info.frames == 3000 and out.stat().st_mtime_ns == before
    # Only the clean-up was left: the journal is gone already.
    write_marker(out, RecordingInfo(samplerate=2000)).release()
    assert recover(find_partial_recordings(tmp_path)[0]).info.frames == 3000


def test_empty_or_unreadable_partials(tmp_path, audio):
    out = tmp_path / "e.flac"
    write_marker(out, RecordingInfo()).release()
    _killed_journal(out, audio, keep_frames=0)
    (partial,) = find_partial_recordings(tmp_path)
    assert partial.seconds == 0 and recover(partial) is None
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "junk.partial.json").write_text("{broken")
    marker_path(tmp_path / "other.flac").write_text(json.dumps({"format": "something else"}))
    assert find_partial_recordings(tmp_path) == []
    write_marker(out, RecordingInfo()).release()
    _killed_journal(out, audio, keep_frames=10)
    discard(find_partial_recordings(tmp_path)[0])
    assert not marker_path(out).exists() and not journal_path(out).exists()


def test_a_damaged_journal_is_kept_and_said_so_never_deleted(tmp_path, audio):
    out = tmp_path / "d.flac"
    write_marker(out, RecordingInfo(recording_id="d")).release()
    journal = _killed_journal(out, audio, keep_frames=4000)
    damaged = b"JUNK" + journal.read_bytes()[4:]  # the header's first bytes overwritten
    journal.write_bytes(damaged)
    (partial,) = find_partial_recordings(tmp_path)
    with pytest.raises(RecordingError, match="could not be recovered.*partial recording is kept"):
        recover(partial)
    assert journal.read_bytes() == damaged and marker_path(out).exists()
    # cut off inside its header, by contrast, it holds nothing: removed
    journal.write_bytes(damaged[:20])
    assert recover(find_partial_recordings(tmp_path)[0]) is None
    assert not journal.exists() and not marker_path(out).exists()
