"""A recording process killed with SIGKILL mid-recording loses at most about a second.

The child records a real PhysioNet recording replayed at real-time pace by FakeSource and
reports how many frames its callback has received; the parent kills it right after a report,
recovers the partial recording and checks that the file holds the original's samples, exactly,
up to at least one second before the last report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from app.recording.recovery import find_partial_recordings, recover
from app.recording.sidecar import read_sidecar

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX only")]

CHILD = textwrap.dedent("""
    import sys, time
    from app.recording import FakeSource, Recorder, RecordingInfo
    rec = Recorder(sys.argv[1], source=FakeSource(sys.argv[2]),
                   info=RecordingInfo(recording_id="killed", site="tricuspid", note="n"))
    rec.start()
    while True:
        print(rec.frames_captured, flush=True)
        time.sleep(0.05)
""")


def test_killed_recording_is_recovered_up_to_a_second_before_the_kill(tmp_path, abnormal_wav):
    out = tmp_path / "killed_tricuspid.flac"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(abnormal_wav)],
                             stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        reported = 0
        while reported < 3 * 2000:  # 3 s of audio at 2 kHz
            assert time.monotonic() < deadline, "the child recorder did not progress"
            line = child.stdout.readline()
            assert line, "the child recorder died"
            reported = int(line)
        (live,) = find_partial_recordings(tmp_path, include_in_progress=True)
        assert live.in_progress and find_partial_recordings(tmp_path) == []
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    (partial,) = find_partial_recordings(tmp_path)
    assert not partial.in_progress and partial.out == out
    done = recover(partial)
    saved = sf.read(out, dtype="int16")[0]
    original = sf.read(abnormal_wav, dtype="int16")[0]
    lost_s = (reported - len(saved)) / 2000
    print(f"frames reported before the kill {reported}, recovered {len(saved)}: "
          f"{max(0.0, lost_s) * 1000:.0f} ms lost")
    assert len(saved) >= reported - 2000  # at most one second lost
    np.testing.assert_array_equal(saved, original[:len(saved)])
    info = read_sidecar(out)
    assert info.recovered and info.recording_id == "killed" and info.site == "tricuspid"
    assert info.frames == len(saved) == done.info.frames
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, "killed_tricuspid.json"]
