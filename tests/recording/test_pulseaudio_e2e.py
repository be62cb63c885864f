"""End to end through PortAudio: a real PhysioNet recording is played into a PulseAudio null
sink with ``paplay`` and recorded from its monitor through sounddevice by the app's own
recording path (Recorder, the ``audiofuse record`` command); the saved file must hold that
recording (normalised cross-correlation with the original, after resampling, above 0.9).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import fftconvolve

from app.recording.devices import find_input_device, list_input_devices, supported_samplerates
from app.recording.journal import journal_path, read_journal
from app.recording.recorder import DEVICE_LOST, STREAM_ERROR, Recorder
from app.recording.sidecar import RecordingInfo, read_sidecar
from audiofuse_core.audio import resample

from .pulse import PrivatePulseServer

pytestmark = pytest.mark.slow

# The headless command; ``audiofuse record`` forwards its arguments to this same function
# (see test_devices.py::test_audiofuse_record_forwards_its_options).
RECORD = [sys.executable, "-m", "app.recording.cli"]


def match(recorded: np.ndarray, rate: int, original_path) -> tuple[float, float]:
    """Peak normalised cross-correlation of a recording with the original file, and the lag
    (seconds) of the shorter inside the longer, after resampling to the original's rate.
    """
    original, orig_rate = sf.read(original_path, dtype="float64")
    x = resample(np.asarray(recorded, np.float64).reshape(len(recorded), -1).mean(axis=1),
                 rate, orig_rate).astype(np.float64)
    long, short = (x, original) if len(x) >= len(original) else (original, x)
    n = len(short)
    short = short - short.mean()  # zero mean: the window's own mean drops out of the numerator
    num = fftconvolve(long, short[::-1], mode="valid")
    # Each window's variance from running sums (Pearson correlation at every lag).
    sums = np.concatenate(([0.0], np.cumsum(long)))
    squares = np.concatenate(([0.0], np.cumsum(long ** 2)))
    window_sum = sums[n:] - sums[:-n]
    variance = squares[n:] - squares[:-n] - window_sum ** 2 / n
    ncc = num / np.sqrt(np.maximum(variance, 1e-20)) / np.linalg.norm(short)
    best = int(np.argmax(ncc))
    return float(ncc[best]), best / orig_rate


def _wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_pulse_device_is_listed_by_name(pulse_server):
    names = [d.name for d in list_input_devices()]
    assert "pulse" in names
    pulse = find_input_device("pulse")
    assert pulse.max_channels >= 1
    assert {4000, 8000, 44100, 48000} <= set(supported_samplerates(pulse))


def test_recorder_saves_a_physionet_recording_played_through_pulseaudio(pulse_server, tmp_path,
                                                                        normal_wav):
    out = tmp_path / "e2e_mitral.flac"
    rec = Recorder(out, device="pulse", info=RecordingInfo(recording_id="e2e", site="mitral"))
    rec.start()  # the device's own rate (44.1 kHz for ALSA's pulse device)
    _wait_for(lambda: rec.frames_captured > 0, what="the first input block")
    player = pulse_server.play(normal_wav)
    assert player.wait(60) == 0, player.stderr.read()
    time.sleep(0.5)
    result = rec.stop()
    assert result.ok, result.message
    recorded, rate = sf.read(out, dtype="float64")
    assert rate == rec.samplerate == result.info.samplerate
    assert len(recorded) / rate > sf.info(str(normal_wav)).duration
    ncc, lag = match(recorded, rate, normal_wav)
    print(f"Recorder via PulseAudio at {rate} Hz: peak correlation {ncc:.4f} at {lag:.2f} s, "
          f"{result.info.overflows} overflows")
    assert ncc > 0.9
    info = read_sidecar(out)
    assert info.device == "pulse" and info.site == "mitral" and info.frames == len(recorded)
    player.stderr.close()


def test_audiofuse_record_command_through_pulseaudio(pulse_server, tmp_path, abnormal_wav):
    out = tmp_path / "cli.wav"
    player = pulse_server.play(abnormal_wav)  # 12.8 s; the command records 5 s of it
    try:
        done = subprocess.run(
            [*RECORD, "--seconds", "5", "--out",
             str(out), "--device", "pulse", "--rate", "8000", "--id", "cli-test", "--site",
             "pulmonic", "--note", "headless"], capture_output=True, text=True, timeout=60)
    finally:
        player.kill()
        player.wait()
        player.stderr.close()
    assert done.returncode == 0, done.stderr
    assert f"saved {out}" in done.stdout and "0 input overflows" in done.stdout
    recorded, rate = sf.read(out)
    assert (rate, len(recorded)) == (8000, 40000)
    ncc, lag = match(recorded, rate, abnormal_wav)
    print(f"audiofuse record via PulseAudio: peak correlation {ncc:.4f} at {lag:.2f} s")
    assert ncc > 0.9
    info = read_sidecar(out)
    assert (info.recording_id, info.site, info.note) == ("cli-test", "pulmonic", "headless")


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX only")
def test_killed_record_command_is_recovered(pulse_server, tmp_path, physionet_dir):
    source = physionet_dir / "training-e" / "e01571.wav"  # 60.6 s
    out = tmp_path / "killed.flac"
    player = pulse_server.play(source)
    child = subprocess.Popen(
        [*RECORD, "--seconds", "60", "--out",
         str(out), "--device", "pulse", "--rate", "4000", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        journal = journal_path(out)

        def seconds_on_disk() -> float:
            try:
                return read_journal(journal).seconds
            except Exception:
                return 0.0

        _wait_for(lambda: seconds_on_disk() >= 3.0, what="3 s in the journal")
        on_disk = seconds_on_disk()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()
        player.kill()
        player.wait()
        player.stderr.close()
    assert child.returncode == -signal.SIGKILL
    from app.recording.cli import record_main

    assert record_main(["--recover", str(tmp_path)]) == 0
    recorded, rate = sf.read(out)
    assert rate == 4000 and len(recorded) / rate >= on_disk
    ncc, _ = match(recorded, rate, source)
    assert ncc > 0.9
    assert read_sidecar(out).recovered


def test_sound_server_crash_keeps_what_was_recorded(pulse_server, tmp_path, normal_wav):
    out = tmp_path / "crash.flac"
    with PrivatePulseServer(sink="crashing") as server:  # its own, to kill it
        rec = Recorder(out, device="pulse", samplerate=8000)
        rec.start()
        _wait_for(lambda: rec.frames_captured > 0, what="the first input block")
        player = server.play(normal_wav)
        _wait_for(lambda: rec.elapsed_s >= 2.0, what="2 s of recording")
        server.kill()
        result = rec.wait(30)
        player.kill()
        player.wait()
        player.stderr.close()
    assert result is not None and result.end_reason in (STREAM_ERROR, DEVICE_LOST)
    assert "were saved as crash.flac" in result.message
    recorded, rate = sf.read(out)
    assert len(recorded) == result.info.frames and len(recorded) / rate >= 2.0
    assert read_sidecar(out).problem
