"""A preallocated ring buffer of the latest audio, for the live waveform, spectrogram and meter.

Two activities share it and neither may block the other:

- one *writer*, PortAudio's real-time callback thread, copies each input block in with
  :meth:`RingBuffer.write`: at most two ``memcpy`` into the preallocated array, then one integer
  store that publishes the new end. No lock, no allocation of sample memory.
- any number of *readers*, typically a GUI timer at about 30 fps, take a copy of the latest
  frames with :meth:`RingBuffer.snapshot`. A reader never holds up the writer: it copies, then
  checks that the writer did not overwrite the part it copied while it was copying (the writer
  announces the end it is writing up to before its copy: a sequence-lock read) and copies again
  if it did.

It is for display only. What is saved goes through the recorder's lossless queue: a slow reader
here may see a torn or skipped frame, a saved file never does.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """The latest ``capacity`` frames of a ``channels``-channel signal.

    ``frames_written`` counts every frame ever written, so a reader can tell how far the signal
    moved between two snapshots (to scroll a view by exactly that much).
    """

    _RETRIES = 3

    def __init__(self, capacity: int, channels: int = 1, dtype: str | np.dtype = "float32") -> None:
        if capacity < 1 or channels < 1:
            raise ValueError("a ring buffer needs a capacity and a channel count of at least 1")
        self._data = np.zeros((int(capacity), int(channels)), dtype=dtype)
        # NB: both assigned only by the writer: ``_pending`` (the end it is writing up to) before
        # its copy, ``_written`` (the published end) after it. Between two writes they are equal.
        self._written = 0
        self._pending = 0

    @property
    def capacity(self) -> int:
        """How many frames it holds."""
        return self._data.shape[0]

    @property
    def channels(self) -> int:
        """Channels per frame."""
        return self._data.shape[1]

    @property
    def dtype(self) -> np.dtype:
        """The sample type, the input stream's own (int16 for 16-bit recordings)."""
        return self._data.dtype

    @property
    def frames_written(self) -> int:
        """Frames written since creation (not capped at the capacity)."""
        return self._written

    def write(self, block: np.ndarray) -> None:
        """Append a block of shape (frames, channels). One writer thread only.

        NB: called from PortAudio's real-time thread: only copies into preallocated memory.
        """
        n = len(block)
        if n == 0:
            return
        cap = self._data.shape[0]
        start = self._written
        if n > cap:  # only the last ``cap`` frames can be kept
            block = block[n - cap:]
            start += n - cap
            n = cap
        self._pending = start + n  # announce: positions of frames < start + n - cap change now
        pos = start % cap
        first = min(n, cap - pos)
        self._data[pos:pos + first] = block[:first]
        if first < n:
            self._data[:n - first] = block[first:]
        self._written = start + n  # publish: readers now see the new frames

    def snapshot(self, frames: int | None = None) -> tuple[np.ndarray, int]:
        """A copy of the latest ``frames`` frames (all held, if None), oldest first, and
        ``frames_written`` at its last frame.

        Fewer frames come back early in a recording, or when the writer laps a reader so slow
        that a consistent copy of the full length is impossible. Safe from any thread.
        """
        cap = self._data.shape[0]
        want = cap if frames is None else max(0, min(int(frames), cap))
        out = np.empty((0, self.channels), self._data.dtype)
        end = self._written
        for _ in range(self._RETRIES):
            end = self._written
            n = min(want, end)
            out = self._copy(end - n, n)
            # Frames [end - n, end) are intact if everything the writer wrote, or is writing
            # now, since we read ``end`` lands on positions of frames older than them.
            lapped_up_to = self._pending - cap
            if lapped_up_to <= end - n:
                return out, end
        keep = max(0, end - lapped_up_to)
        return out[len(out) - min(keep, len(out)):], end

    def _copy(self, first_frame: int, n: int) -> np.ndarray:
        cap = self._data.shape[0]
        pos = first_frame % cap
        head = min(n, cap - pos)
        if head == n:
            return self._data[pos:pos + n].copy()
        return np.concatenate((self._data[pos:], self._data[:n - head]))
