"""Devices by name, and recording disabled with a clear reason when PortAudio or an input
device is missing, while the rest (fake sources, files, recovery) keeps working.
"""

from __future__ import annotations

import builtins
import subprocess
import sys
from types import SimpleNamespace

import pytest

from app.recording import cli, devices
from app.recording.errors import DeviceNotFoundError, RecordingUnavailableError
from app.recording.fake_source import FakeSource
from app.recording.recorder import Recorder


class FakeSoundDevice(SimpleNamespace):
    """Enough of sounddevice's query API to test the name logic without audio hardware."""

    class PortAudioError(Exception):
        pass

    def __init__(self, devs, default_in):
        super().__init__(default=SimpleNamespace(device=[default_in, -1]))
        self._devs = devs

    def query_devices(self):
        return [dict(d, index=i) for i, d in enumerate(self._devs)]

    def query_hostapis(self, index=None):
        apis = [{"name": "ALSA", "default_input_device": 0},
                {"name": "JACK Audio Connection Kit", "default_input_device": -1}]
        return apis if index is None else apis[index]


def _dev(name, inputs=1, hostapi=0, rate=44100.0):
    return {"name": name, "max_input_channels": inputs, "hostapi": hostapi,
            "default_samplerate": rate}


@pytest.fixture()
def fake_sd(monkeypatch):
    def install(devs, default_in=0):
        sd = FakeSoundDevice(devs, default_in)
        monkeypatch.setattr(devices, "_sd", sd)
        return sd
    return install


@pytest.fixture()
def no_portaudio(monkeypatch):
    """An import of sounddevice that raises OSError, as it does without libportaudio."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.setattr(devices, "_sd", None)
    monkeypatch.setattr(devices, "_sd_error", None)


def test_devices_are_chosen_by_name_not_index(fake_sd):
    fake_sd([_dev("HDA Intel PCH: ALC3246 Analog (hw:0,0)"), _dev("HDMI 0", inputs=0),
             _dev("Littmann CORE: USB Audio (hw:2,0)", rate=4000.0),
             _dev("Littmann CORE: USB Audio (hw:2,0)", hostapi=1), _dev("default", inputs=32)],
            default_in=4)
    names = [d.name for d in devices.list_input_devices()]
    assert "HDMI 0" not in names and len(names) == 4
    chosen = devices.find_input_device("Littmann CORE: USB Audio (hw:2,0)")
    assert (chosen.index, chosen.hostapi, chosen.default_samplerate) == (2, "ALSA", 4000.0)
    assert devices.find_input_device("littmann core", hostapi="JACK Audio Connection Kit"
                                     ).index == 3
    assert devices.find_input_device(None).name == "default"
    assert devices.find_input_device(None).is_default
    with pytest.raises(DeviceNotFoundError, match='"Eko DUO" is not connected. Connected input '
                                                  'devices: "HDA Intel'):
        devices.find_input_device("Eko DUO")
    with pytest.raises(DeviceNotFoundError, match="matches several input devices"):
        devices.find_input_device("(hw:")
    assert devices.recording_unavailable_reason() is None


def test_no_input_device_disables_recording_with_a_reason(fake_sd, tmp_path, normal_wav):
    fake_sd([_dev("HDMI 0", inputs=0)], default_in=-1)
    reason = devices.recording_unavailable_reason()
    assert "no audio input device was found" in reason and "still works" in reason
    with pytest.raises(RecordingUnavailableError, match="no audio input device"):
        Recorder(tmp_path / "x.flac").start()
    assert list(tmp_path.iterdir()) == []
    # The injected source still records.
    rec = Recorder(tmp_path / "y.flac", source=FakeSource(normal_wav, speed=8), max_seconds=1)
    rec.start()
    assert rec.wait(30).ok


def test_missing_portaudio_disables_recording_with_a_reason(no_portaudio, tmp_path, normal_wav,
                                                           capsys):
    reason = devices.recording_unavailable_reason()
    assert "PortAudio sound library is not installed" in reason
    assert "libportaudio2" in reason and "still works" in reason
    with pytest.raises(RecordingUnavailableError, match="PortAudio"):
        devices.list_input_devices()
    with pytest.raises(RecordingUnavailableError, match="PortAudio"):
        Recorder(tmp_path / "x.flac", device="Littmann").start()
    assert cli.record_main(["--seconds", "1", "--out", str(tmp_path / "c.flac")]) == 2
    assert "audiofuse record: Recording is not available: the PortAudio" in \
        capsys.readouterr().err
    rec = Recorder(tmp_path / "y.flac", source=FakeSource(normal_wav, speed=8), max_seconds=1)
    rec.start()
    assert rec.wait(30).ok and list(tmp_path.iterdir())


def test_cli_checks_its_options(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.record_main(["--out", "x.flac"])
    assert exc.value.code == 2 and "--seconds and --out are needed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.record_main(["--seconds", "5", "--out", "x.flac", "--site", "apex"])
    assert cli.record_main(["--recover", str(tmp_path / "missing")]) == 2
    assert cli.record_main(["--recover", str(tmp_path)]) == 0
    assert "No interrupted recording" in capsys.readouterr().out


def test_audiofuse_record_forwards_its_options(tmp_path):
    done = subprocess.run([sys.executable, "-m", "audiofuse_core.cli", "record", "--recover",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "No interrupted recording" in done.stdout
