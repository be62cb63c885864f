"""Where the audio of a WAV file lies, read from its chunks, whatever its header's sizes say.

A recorder killed before it closed its file leaves a WAV whose RIFF and data sizes are still 0:
libsndfile then reports no audio although every sample is on disk. :func:`read_wav_layout`
takes the format from the ``fmt `` chunk and the audio from everything after the ``data``
chunk's header, cut to whole frames. The app's recording journals use it too.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class WavLayoutError(ValueError):
    """The file is not a WAV file whose audio can be found (the message says why)."""


@dataclass(frozen=True)
class WavLayout:
    path: Path
    samplerate: int
    channels: int
    dtype: np.dtype  # little-endian sample type of the data
    data_offset: int
    frames: int  # whole frames on disk after the data chunk's header

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0

    def read(self) -> np.ndarray:
        """Every whole frame, shape (frames, channels), in the file's sample type."""
        with open(self.path, "rb") as f:
            f.seek(self.data_offset)
            raw = np.fromfile(f, dtype=self.dtype, count=self.frames * self.channels)
        frames = raw.size // self.channels
        return raw[:frames * self.channels].astype(self.dtype.newbyteorder("="), copy=False) \
            .reshape(frames, self.channels)


def read_wav_layout(path: str | Path) -> WavLayout:
    """The layout of the WAV at ``path``; WavLayoutError (OSError if it cannot be read)."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            raise WavLayoutError("no RIFF/WAVE header")
        fmt = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                raise WavLayoutError("no audio data chunk")
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(size)
                if size % 2:
                    f.read(1)
            elif cid == b"data":
                data_offset = f.tell()
                break
            else:
                f.seek(size + (size % 2), os.SEEK_CUR)
        file_size = os.fstat(f.fileno()).st_size
    if fmt is None or len(fmt) < 16:
        raise WavLayoutError("no usable format chunk")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]
    dtype = {(_WAVE_FORMAT_PCM, 16): "<i2", (_WAVE_FORMAT_PCM, 32): "<i4",
             (_WAVE_FORMAT_FLOAT, 32): "<f4"}.get((tag, bits))
    if dtype is None or channels < 1 or rate < 1:
        raise WavLayoutError(f"unexpected format (tag {tag}, {bits} bits, {channels} channels, "
                             f"{rate} Hz)")
    dt = np.dtype(dtype)
    frames = max(0, file_size - data_offset) // (dt.itemsize * channels)
    return WavLayout(path, rate, channels, dt, data_offset, frames)
