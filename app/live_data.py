"""What the live views show of a recording in progress: the last seconds of waveform and
spectrogram, updated a block at a time. Qt-free.

:class:`LiveDisplay` is fed the newest frames of the recorder's display ring buffer by a GUI
timer (about 30 times a second, see :mod:`app.recording_session`). It does only the work those
new frames need: a streaming resampler brings them to the display rate (at most
:data:`~app.display_data.DISPLAY_RATE_MAX` Hz, as for an opened file), and the spectrogram
gains the STFT columns the new samples complete, so each tick costs a few hundred microseconds
whatever the device's rate. The spectrogram is in dB re full scale (not re the maximum, as an
opened file's is): it does not change its colours while the recording grows, and silence looks
like silence.

The STFT uses the opened file's settings (:func:`audiofuse_core.features.display_spectrogram`:
64 ms Hann windows up to 1000 Hz), with a coarser hop (16 ms) since a live image is only
glanced at; the finished recording is shown with the file's own views.
"""

from __future__ import annotations

import numpy as np

from .display_data import DISPLAY_RATE_MAX, SPECTROGRAM_FMAX_HZ

WINDOW_SECONDS = 0.064
HOP_SECONDS = 0.016
FLOOR_DB = -120.0


class LiveDisplay:
    """Rolling waveform and spectrogram of the last ``seconds`` of a signal at ``samplerate``.

    ``feed(block, end)`` takes the newest frames (any channel count; channels are averaged)
    ending at frame ``end`` of the recording; frames already seen are skipped, and a gap (the
    caller fell behind the ring buffer) restarts the views at the new position.
    """

    def __init__(self, samplerate: int, *, seconds: float = 10.0,
                 display_rate_max: int = DISPLAY_RATE_MAX,
                 fmax: float = SPECTROGRAM_FMAX_HZ) -> None:
        self.samplerate = int(samplerate)
        self.seconds = float(seconds)
        self.display_rate = min(self.samplerate, int(display_rate_max))
        self.fmax = float(min(fmax, self.display_rate / 2.0))
        self.n_fft = int(2 ** np.ceil(np.log2(max(16, WINDOW_SECONDS * self.display_rate))))
        self.hop = max(1, int(round(HOP_SECONDS * self.display_rate)))
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.display_rate)
        self.frequencies = freqs[freqs <= self.fmax]
        self._window = np.hanning(self.n_fft + 1)[:-1].astype(np.float32)
        # A full-scale sine gives 0 dB: |rfft|^2 of it peaks at (A * sum(w) / 2)^2.
        self._ref_power = float((np.sum(self._window) / 2.0) ** 2)
        self._wave_len = int(round(self.seconds * self.display_rate))
        self._columns = max(1, int(round(self.seconds * self.display_rate / self.hop)))
        self._resampler = None
        self.frames_seen = 0  # recording frames consumed (device rate)
        self.reset(0)

    def reset(self, frame: int) -> None:
        """Empty views starting at recording frame ``frame``."""
        self.frames_seen = int(frame)
        self._start_s = frame / self.samplerate  # recording time of display sample 0
        self.wave = np.zeros(0, np.float32)  # the last display samples, oldest first
        self._display_total = 0  # display samples produced since the (re)start
        self._pending = np.zeros(0, np.float32)  # samples not yet in a full STFT column
        self._pending_start = 0  # display index of _pending[0]
        self.spectrogram_db = np.full((len(self.frequencies), 0), FLOOR_DB, np.float32)
        self._columns_total = 0
        self.peak = 0.0
        if self.display_rate != self.samplerate:
            import soxr

            self._resampler = soxr.ResampleStream(self.samplerate, self.display_rate, 1,
                                                  dtype="float32", quality="LQ")

    # -- input -----------------------------------------------------------------------------
    def feed(self, block: np.ndarray, end: int) -> int:
        """Add the frames of ``block`` (the newest frames, ending at frame ``end``) not yet
        seen; returns how many were new.
        """
        new = int(end) - self.frames_seen
        if new <= 0:
            return 0
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 2:
            block = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
        if new > len(block):  # fell behind the ring buffer: start afresh where it is
            self.reset(int(end) - len(block))
            new = len(block)
        samples = np.ascontiguousarray(block[len(block) - new:])
        self.frames_seen = int(end)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        self._add_display(samples)
        return new

    def _add_display(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        self._display_total += len(samples)
        self.wave = np.concatenate((self.wave, samples))[-self._wave_len:]
        self.peak = float(np.max(np.abs(self.wave))) if len(self.wave) else 0.0
        pending = np.concatenate((self._pending, samples))
        count = 0 if len(pending) < self.n_fft else 1 + (len(pending) - self.n_fft) // self.hop
        if count:
            frames = np.lib.stride_tricks.sliding_window_view(pending, self.n_fft)[::self.hop]
            frames = frames[:count] * self._window
            power = np.abs(np.fft.rfft(frames, axis=1)[:, :len(self.frequencies)]) ** 2
            db = 10.0 * np.log10(np.maximum(power / self._ref_power, 1e-12))
            db = np.maximum(db, FLOOR_DB).astype(np.float32).T
            self.spectrogram_db = np.concatenate((self.spectrogram_db, db),
                                                 axis=1)[:, -self._columns:]
            self._columns_total += count
            pending = pending[count * self.hop:]
            self._pending_start += count * self.hop
        self._pending = pending

    # -- output ----------------------------------------------------------------------------
    @property
    def end_s(self) -> float:
        """Recording time of the newest display sample."""
        return self._start_s + self._display_total / self.display_rate

    def wave_times(self) -> np.ndarray:
        """Recording time (s) of each sample of :attr:`wave`."""
        first = self._display_total - len(self.wave)
        return self._start_s + (first + np.arange(len(self.wave))) / self.display_rate

    def spectrogram_rect(self) -> tuple[float, float, float, float]:
        """(left, bottom, width, height) of :attr:`spectrogram_db` in seconds and Hz: each
        column is centred on its window's centre, each row on its frequency.
        """
        cols = self.spectrogram_db.shape[1]
        first = self._columns_total - cols
        hop_s = self.hop / self.display_rate
        bin_hz = self.display_rate / self.n_fft
        centre0 = self._start_s + (first * self.hop + self.n_fft / 2) / self.display_rate
        return (centre0 - hop_s / 2, -bin_hz / 2, cols * hop_s,
                len(self.frequencies) * bin_hz)
