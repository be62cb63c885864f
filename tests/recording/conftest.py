"""Fixtures of the recording tests: a private PulseAudio server with a null sink."""

from __future__ import annotations

import pytest

from app.recording.devices import refresh_devices, sounddevice_module
from app.recording.errors import RecordingUnavailableError

from .pulse import started_server


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
    # PortAudio lists ALSA's pulse device only when a server answers: read the list again
    with started_server(pytest.skip, refresh_devices) as server:
        yield server
