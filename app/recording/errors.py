"""The recording engine's exceptions: one branch of AudioFuse's error hierarchy.

Every message is a plain sentence a clinician can act on ("the input device "Littmann" is not
connected ..."), never a PortAudio error code alone.
"""

from __future__ import annotations

from audiofuse_core.errors import AudioFuseError


class RecordingError(AudioFuseError):
    """A recording that cannot be started, saved or recovered."""


class RecordingUnavailableError(RecordingError):
    """Recording is impossible on this computer: no PortAudio library, or no input device."""


class DeviceNotFoundError(RecordingError):
    """The input device chosen by name is not connected now."""


class DeviceSettingsError(RecordingError):
    """The device refuses the requested sample rate, channel count or sample format."""
