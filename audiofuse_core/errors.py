"""The exceptions of AudioFuse: one small hierarchy with precise, one-line messages.

Every error a user can cause derives from :class:`AudioFuseError`, so a caller (the command line,
the app) can catch that one class, show ``str(error)`` and carry on with the next file.
"""

from __future__ import annotations

from pathlib import Path


class AudioFuseError(Exception):
    """Base class of every error AudioFuse raises on purpose."""


class InvalidAudioError(AudioFuseError):
    """A recording that cannot be used; names the file (when there is one) and the cause."""

    def __init__(self, reason: str, *, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.reason = reason
        prefix = f"{self.path.name}: " if self.path is not None else ""
        super().__init__(prefix + reason)


class AudioFileNotFoundError(InvalidAudioError):
    """The path does not exist or is not a file."""


class NotAudioError(InvalidAudioError):
    """The file is not in an audio format we can read."""


class CorruptAudioError(InvalidAudioError):
    """The file looks like audio but is truncated or damaged."""


class EmptyAudioError(InvalidAudioError):
    """The file holds no samples."""


class TooShortError(InvalidAudioError):
    """The recording is shorter than the model needs."""


class TooLongError(InvalidAudioError):
    """The recording is longer than we agree to hold in memory."""


class SilentAudioError(InvalidAudioError):
    """Every sample is (practically) zero."""


class NonFiniteAudioError(InvalidAudioError):
    """The samples hold NaN or infinite values."""


class SampleRateError(InvalidAudioError):
    """The sample rate is missing or implausible for a heart-sound recording."""


class DatasetError(AudioFuseError):
    """A data-set folder that cannot be used (missing, empty, no labels...)."""


class ModelError(AudioFuseError):
    """A model file that cannot be loaded: missing, corrupt, not AudioFuse, or unsafe."""


class TrainingError(AudioFuseError):
    """Training cannot start or go on (too little data, one class only...)."""
