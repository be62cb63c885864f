"""The Recorder through FakeSource: real recordings replayed through the PortAudio callback
signature from the fake's own thread, saved by the writer thread, checked sample for sample.
"""

from __future__ import annotations

import errno
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from app.recording import recorder as recorder_module
from app.recording.errors import RecordingError
from app.recording.fake_source import FakeSource
from app.recording.journal import JournalWriter
from app.recording.recorder import (
    DEVICE_LOST,
    DURATION,
    STOPPED,
    STREAM_ERROR,
    WRITER_ERROR,
    Recorder,
)
from app.recording.recovery import find_partial_recordings, recover, write_marker
from app.recording.sidecar import RecordingInfo, read_sidecar


def _int16(path):
    return sf.read(path, dtype="int16", always_2d=True)[0]


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_auto_stop_saves_the_exact_samples_and_sidecar(tmp_path, abnormal_wav):
    finished = []
    out = tmp_path / "p1_mitral.flac"
    rec = Recorder(out, source=FakeSource(abnormal_wav, speed=8), max_seconds=6,
                   info=RecordingInfo(recording_id="p1", site="mitral", note="supine"),
                   on_finished=lambda r: finished.append((r, threading.current_thread().name)))
    rec.start()
    result = rec.wait(30)
    assert result is not None and result.ok and result.end_reason == DURATION
    assert result.path == out and result.message == "" and result.warnings == ()
    np.testing.assert_array_equal(_int16(out), _int16(abnormal_wav)[:12000])
    assert sf.info(str(out)).format == "FLAC"
    info = read_sidecar(out)
    assert info == result.info
    assert (info.recording_id, info.site, info.note, info.samplerate, info.frames) == \
        ("p1", "mitral", "supine", 2000, 12000)
    assert info.duration_s == 6.0 and info.device == "Fake source (a0336.wav)"
    assert info.end_reason == "duration" and info.started_at and info.software
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p1_mitral.flac", "p1_mitral.json"]
    assert finished == [(result, "audiofuse-recording-writer")]
    assert rec.state == "finished" and not rec.is_recording


def test_stop_saves_everything_captured_and_samples_reach_disk_while_recording(
        tmp_path, normal_wav):
    out = tmp_path / "s.wav"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=2))
    rec.start()
    assert rec.is_recording
    _wait_for(lambda: rec.frames_saved >= 4000)  # written as they arrive, not at the end
    assert rec.elapsed_s >= 2.0
    result = rec.stop()
    assert result.end_reason == STOPPED and result.ok
    saved = _int16(out)
    assert len(saved) == rec.frames_captured == result.info.frames
    np.testing.assert_array_equal(saved, _int16(normal_wav)[:len(saved)])
    assert rec.stop() is result  # idempotent


def test_device_rate_resampled_stereo_24_bit(tmp_path, normal_wav):
    out = tmp_path / "r.flac"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=8), samplerate=8000, channels=2,
                   bit_depth=24, max_seconds=3)
    rec.start()
    result = rec.wait(30)
    meta = sf.info(str(out))
    assert (meta.samplerate, meta.channels, meta.frames, meta.subtype) == \
        (8000, 2, 24000, "PCM_24")
    saved, _ = sf.read(out, always_2d=True)
    np.testing.assert_array_equal(saved[:, 0], saved[:, 1])
    from audiofuse_core.audio import resample

    original = resample(sf.read(normal_wav)[0], 2000, 8000)[:24000]
    assert np.corrcoef(saved[:, 0], original)[0, 1] > 0.999
    assert result.info.bit_depth == 24 and result.info.channels == 2


def test_snapshot_and_level_for_the_live_views(tmp_path, normal_wav):
    rec = Recorder(tmp_path / "v.flac", source=FakeSource(normal_wav, speed=2),
                   display_seconds=2)
    assert rec.level().rms_dbfs == -120.0  # before start: silence, no error
    rec.start()
    _wait_for(lambda: rec.elapsed_s >= 3.0)
    data, end = rec.snapshot(1.0)
    assert data.shape == (2000, 1) and data.dtype == np.float32
    assert end <= rec.frames_captured and end >= 6000
    np.testing.assert_allclose(data[:, 0] * 32768, _int16(normal_wav)[end - 2000:end, 0])
    whole, _ = rec.snapshot()
    assert len(whole) == rec.ring_buffer.capacity == 2 * 2000 + 2000
    level = rec.level(0.5)
    assert -60 < level.rms_dbfs < level.peak_dbfs < 0 and not level.clipped
    rec.stop()


def test_overflows_are_counted_and_reported(tmp_path, normal_wav):
    out = tmp_path / "o.flac"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=8, overflow_every=10),
                   max_seconds=4)
    rec.start()
    result = rec.wait(30)
    assert rec.overflows > 0 and result.info.overflows == rec.overflows
    assert read_sidecar(out).overflows == rec.overflows
    assert "input overflow" in result.warnings[0] and result.ok


@pytest.mark.parametrize(("end", "reason", "words"), [
    ("stall", DEVICE_LOST, "stopped sending sound"),
    ("finish", STREAM_ERROR, "closed the input"),
])
def test_device_loss_keeps_what_was_recorded(tmp_path, normal_wav, end, reason, words):
    out = tmp_path / "lost.flac"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=4, fail_after_s=2.5, end=end),
                   stall_timeout_s=0.5)
    rec.start()
    result = rec.wait(30)
    assert result.end_reason == reason and not result.ok
    assert words in result.message and "2.5 s recorded before that were saved" in \
        result.message
    np.testing.assert_array_equal(_int16(out), _int16(normal_wav)[:5000])
    assert read_sidecar(out).problem and find_partial_recordings(tmp_path) == []


def test_disk_failure_while_recording_keeps_the_audio_written(tmp_path, normal_wav,
                                                               monkeypatch):
    real_write = JournalWriter.write

    def write(self, block):
        if self.frames >= 2000:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, block)

    monkeypatch.setattr(JournalWriter, "write", write)
    out = tmp_path / "d.flac"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=4))
    rec.start()
    result = rec.wait(30)
    assert result.end_reason == WRITER_ERROR
    assert "could not be written to disk (No space left on device)" in result.message
    saved = _int16(out)
    assert 2000 <= len(saved) < 2100
    np.testing.assert_array_equal(saved, _int16(normal_wav)[:len(saved)])


def test_failed_save_keeps_the_journal_for_recovery(tmp_path, normal_wav, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(recorder_module, "convert_journal", refuse)
    out = tmp_path / "k.flac"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=8), max_seconds=2)
    rec.start()
    result = rec.wait(30)
    assert result.path is None and result.kept_journal == tmp_path / "k.partial.wav"
    assert "could not be saved as k.flac (Permission denied)" in result.message
    assert "offered for recovery" in result.message
    monkeypatch.undo()
    (partial,) = find_partial_recordings(tmp_path)
    done = recover(partial)
    np.testing.assert_array_equal(_int16(done.path), _int16(normal_wav)[:4000])


def test_monitoring_saves_nothing(tmp_path, normal_wav):
    rec = Recorder(None, source=FakeSource(normal_wav, speed=4))
    rec.start()
    _wait_for(lambda: rec.elapsed_s > 1)
    assert rec.level().rms_dbfs > -60
    result = rec.stop()
    assert result.path is None and result.ok and rec.frames_saved == 0
    assert list(tmp_path.iterdir()) == []


def test_refusals_leave_nothing_behind(tmp_path, normal_wav):
    taken = tmp_path / "taken.flac"
    taken.write_bytes(b"x")
    with pytest.raises(RecordingError, match="already exists"):
        Recorder(taken, source=FakeSource(normal_wav)).start()
    with pytest.raises(RecordingError, match="lossless"):
        Recorder(tmp_path / "x.mp3", source=FakeSource(normal_wav))

    class Broken(FakeSource):
        def open(self, **kwargs):
            raise RuntimeError("device busy")

    with pytest.raises(RecordingError, match='"broken" could not be started \\(device busy\\)'):
        Recorder(tmp_path / "b.flac", source=Broken(normal_wav, name="broken")).start()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.flac"]

    write_marker(tmp_path / "pending.flac", RecordingInfo()).release()  # a crash left it
    with pytest.raises(RecordingError, match="waiting to be recovered"):
        Recorder(tmp_path / "pending.flac", source=FakeSource(normal_wav)).start()

    rec = Recorder(tmp_path / "once.flac", source=FakeSource(normal_wav, speed=8),
                   max_seconds=0.5)
    rec.start()
    rec.wait(30)
    with pytest.raises(RecordingError, match="already recorded"):
        rec.start()


def test_recordings_folder_deleted_while_recording_is_made_again_and_nothing_is_lost(
        tmp_path, normal_wav):
    import shutil

    folder = tmp_path / "patients" / "today"
    out = folder / "gone.flac"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=4), max_seconds=6)
    rec.start()
    _wait_for(lambda: rec.frames_saved > 4000)
    shutil.rmtree(tmp_path / "patients")  # the journal and the marker go with it
    result = rec.wait(30)
    assert result.ok and result.path == out
    np.testing.assert_array_equal(_int16(out), _int16(normal_wav)[:12000])  # every sample kept
    assert any("was deleted while recording" in w and "kept the whole recording" in w
               for w in result.warnings)
    assert read_sidecar(out).frames == 12000
    assert find_partial_recordings(folder) == []  # the journal and marker were tidied away


def test_recordings_folder_deleted_just_before_stop_is_made_again_too(tmp_path, normal_wav):
    import shutil

    out = tmp_path / "patients" / "late.flac"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=4), flush_interval_s=5.0)
    rec.start()
    _wait_for(lambda: rec.frames_saved > 4000)
    shutil.rmtree(out.parent)  # and stop before the writer's next look at the journal
    result = rec.stop()
    assert result.ok and result.path == out
    saved = _int16(out)
    assert len(saved) > 4000
    np.testing.assert_array_equal(saved, _int16(normal_wav)[:len(saved)])
    assert any("was deleted while recording" in w for w in result.warnings)
    assert find_partial_recordings(out.parent) == []


def test_a_deleted_folder_that_cannot_be_made_again_is_reported_honestly(tmp_path, normal_wav,
                                                                         monkeypatch):
    import shutil

    def refuse(self):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(JournalWriter, "restore", refuse)
    out = tmp_path / "patients" / "lost.flac"
    rec = Recorder(out, source=FakeSource(normal_wav, speed=4), max_seconds=6)
    rec.start()
    _wait_for(lambda: rec.frames_saved > 4000)
    shutil.rmtree(out.parent)
    result = rec.wait(30)
    assert result.path is None and not result.ok
    assert "was deleted while recording and could not be made again (Permission denied)" in \
        result.message and "were lost with it" in result.message
    assert find_partial_recordings(out.parent) == []  # no marker without its journal
