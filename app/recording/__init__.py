"""The recording engine: stethoscope input to a lossless file, with live data for display.

Qt-free, so the headless ``audiofuse record`` uses it as the GUI does. Importing this package
does not import sounddevice: PortAudio is loaded on first use (:mod:`.devices`), and without it
recording is disabled with a reason while everything else works.

- :mod:`.devices`: input devices by name; why recording is unavailable.
- :mod:`.recorder`: :class:`Recorder`, the callback, the writer thread, the automatic stop.
- :mod:`.ring_buffer`: the display buffer a GUI timer snapshots.
- :mod:`.journal`: the WAV journal written while recording, converted to FLAC/WAV at the end.
- :mod:`.recovery`: partial recordings left by a crash, found and recovered at the next start.
- :mod:`.sidecar`: :class:`RecordingInfo`, the JSON saved beside each recording.
- :mod:`.fake_source`: a device that replays a real recording, for tests.
- :mod:`.cli`: ``audiofuse record``.

See docs/recording.md.
"""

from .devices import (
    InputDevice,
    PortAudioSource,
    find_input_device,
    list_input_devices,
    recording_unavailable_reason,
)
from .errors import (
    DeviceNotFoundError,
    DeviceSettingsError,
    RecordingError,
    RecordingUnavailableError,
)
from .fake_source import FakeSource
from .recorder import Level, Recorder, RecordingResult
from .recovery import PartialRecording, RecoveredRecording, find_partial_recordings, recover
from .ring_buffer import RingBuffer
from .sidecar import SITES, RecordingInfo, new_recording_path, read_sidecar, sidecar_path

__all__ = [
    "SITES",
    "DeviceNotFoundError",
    "DeviceSettingsError",
    "FakeSource",
    "InputDevice",
    "Level",
    "PartialRecording",
    "PortAudioSource",
    "RecordingError",
    "RecordingInfo",
    "RecordingResult",
    "RecordingUnavailableError",
    "RecoveredRecording",
    "Recorder",
    "RingBuffer",
    "find_input_device",
    "find_partial_recordings",
    "list_input_devices",
    "new_recording_path",
    "read_sidecar",
    "recording_unavailable_reason",
    "recover",
    "sidecar_path",
]
