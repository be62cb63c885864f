"""Fixtures of the recording tests: a private PulseAudio server with a null sink."""

from __future__ import annotations

import pytest

from app.recording.devices import refresh_devices, sounddevice_module
from app.recording.errors import RecordingUnavailableError

from .pulse import PrivatePulseServer, PulseUnavailable


@pytest.fixture(scope="session")
def pulse_server():
    """A PulseAudio server of our own with a null sink ``steth`` whose monitor is the default
    source; PortAudio's ALSA ``pulse`` device records from it. Skips, saying why, where no
    server can be started (or PortAudio is missing).
    """
    try:
        sounddevice_module()
    except RecordingUnavailableError as exc:
        pytest.skip(f"PortAudio path not testable: {exc}")
    server = PrivatePulseServer()
    try:
        server.start()
    except PulseUnavailable as exc:
        pytest.skip(f"no PulseAudio server can be started here: {exc}")
    refresh_devices()  # PortAudio lists ALSA's pulse device only when a server answers
    try:
        yield server
    finally:
        server.stop()
        refresh_devices()
