"""What the views show of one recording, read and prepared off the GUI thread. Qt-free.

:func:`prepare_display` reads a file with the core's reader (any format and rate; a file that
cannot be read raises the core's :class:`~audiofuse_core.errors.InvalidAudioError` with a one-line
reason) and asks the core for the display spectrogram. The views draw the signal at a display
rate of at most :data:`DISPLAY_RATE_MAX` Hz: heart sounds and murmurs lie below 1000 Hz, and a
30-minute phone recording at 44.1 kHz would otherwise cost gigabytes of STFT. Playback uses the
file's own samples, at its own rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiofuse_core.audio import Audio, load_audio, resample
from audiofuse_core.features import Spectrogram, display_spectrogram

SPECTROGRAM_FMAX_HZ = 1000.0  # the heart-sound band: S1, S2 and murmurs lie below it
DISPLAY_RATE_MAX = 4000  # Hz: twice the spectrogram's top, with margin


@dataclass(frozen=True)
class DisplayData:
    """A recording ready to draw and play."""

    audio: Audio  # at the file's own rate: playback and the amplitude read-out
    display_samples: np.ndarray  # mono float32 at display_rate: waveform and spectrogram
    display_rate: int
    spectrogram: Spectrogram

    @property
    def path(self) -> Path | None:
        return self.audio.path

    @property
    def duration(self) -> float:
        return self.audio.duration

    @property
    def peak(self) -> float:
        return float(np.max(np.abs(self.display_samples))) if self.display_samples.size else 0.0

    @property
    def fmax(self) -> float:
        return float(min(SPECTROGRAM_FMAX_HZ, self.display_rate / 2.0))


def prepare_display(path: str | Path) -> DisplayData:
    """Read ``path`` and prepare its views (raises InvalidAudioError with a one-line reason)."""
    audio = load_audio(path)
    rate = audio.sample_rate
    if rate > DISPLAY_RATE_MAX:
        samples = resample(audio.samples, rate, DISPLAY_RATE_MAX)
        rate = DISPLAY_RATE_MAX
    else:
        samples = audio.samples
    spectrogram = display_spectrogram(samples, rate, fmax=SPECTROGRAM_FMAX_HZ)
    return DisplayData(audio=audio, display_samples=samples, display_rate=rate,
                       spectrogram=spectrogram)
