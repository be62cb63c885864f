"""A fake input device that replays a real recording, for tests and demonstrations.

:class:`FakeSource` looks like :class:`~app.recording.devices.PortAudioSource` to the recorder:
its :meth:`~FakeSource.open` returns a stream object with ``start``, ``stop``, ``abort``,
``close`` and ``active``, and while it runs, the stream's own thread calls the recorder's
callback exactly as PortAudio would: ``callback(indata, frames, time, status)`` with a fresh
block of the requested sample type and channel count, at real-time pace (or ``speed`` times
faster), then ``finished_callback()`` when the stream ends. It needs no sound card and no
PortAudio, so GUI tests run anywhere.

Failures can be staged: ``fail_after_s`` ends the sound at that point, then ``end`` says what
the "device" does: ``"finish"`` (the stream ends by itself, as when PortAudio reports an error),
``"stall"`` (the stream stays open but no more blocks come, as when a USB device is pulled out
on some systems) or ``"loop"`` (start again; only without ``fail_after_s``). ``overflow_every``
flags every n-th block as an input overflow.

Threads: the caller's (``start``/``stop``/``close``) and the stream's replay thread, which only
reads the preloaded audio and calls the two callbacks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile as sf

_FULL_SCALE = {"int16": 32767, "int32": 2147483647}


@dataclass(frozen=True)
class FakeCallbackFlags:
    """Stands in for ``sounddevice.CallbackFlags``: false unless a flag is set."""

    input_overflow: bool = False
    input_underflow: bool = False

    def __bool__(self) -> bool:
        return self.input_overflow or self.input_underflow


class FakeSource:
    """An input "device" that plays ``path`` (any file soundfile reads) into the recorder."""

    def __init__(self, path: str | Path, *, speed: float = 1.0, end: str = "finish",
                 fail_after_s: float | None = None, overflow_every: int = 0,
                 name: str | None = None) -> None:
        if end not in ("finish", "stall", "loop"):
            raise ValueError(f'end must be "finish", "stall" or "loop", not {end!r}')
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.path = Path(path)
        meta = sf.info(str(self.path))
        self.default_samplerate = float(meta.samplerate)
        self.max_channels = max(2, int(meta.channels))
        self.name = name or f"Fake source ({self.path.name})"
        self.speed = float(speed)
        self.end = end
        self.fail_after_s = fail_after_s
        self.overflow_every = int(overflow_every)

    def open(self, *, samplerate: int, channels: int, dtype: str, blocksize: int,
             callback: Callable[..., None], finished_callback: Callable[[], None]) -> FakeStream:
        """A stopped stream replaying the file at ``samplerate`` (resampled if need be)."""
        audio = self._load(int(samplerate), int(channels), str(dtype))
        return FakeStream(self, audio, samplerate=int(samplerate),
                          blocksize=int(blocksize) or max(32, int(samplerate) // 50),
                          callback=callback,
                          finished_callback=finished_callback)

    def _load(self, samplerate: int, channels: int, dtype: str) -> np.ndarray:
        rate = int(self.default_samplerate)
        if rate == samplerate:
            # libsndfile's own conversion: a 16-bit file read as int16 keeps its exact integers,
            # so a saved copy can be compared with the original bit for bit.
            data, _ = sf.read(str(self.path), dtype=dtype, always_2d=True)
            mono = data[:, 0]
        else:
            import soxr

            data, _ = sf.read(str(self.path), dtype="float64", always_2d=True)
            mono = soxr.resample(data.mean(axis=1), rate, samplerate, quality="HQ")
            if dtype in _FULL_SCALE:
                top = _FULL_SCALE[dtype]
                mono = np.clip(np.round(mono * (top + 1)), -top - 1, top)
            mono = mono.astype(dtype)
        if self.fail_after_s is not None:
            mono = mono[:int(round(self.fail_after_s * samplerate))]
        return np.ascontiguousarray(np.repeat(mono[:, None], channels, axis=1))


class FakeStream:
    """The stream a :class:`FakeSource` opens; mimics ``sounddevice.InputStream``."""

    def __init__(self, source: FakeSource, audio: np.ndarray, *, samplerate: int, blocksize: int,
                 callback: Callable[..., None], finished_callback: Callable[[], None]) -> None:
        self.source = source
        self.samplerate = samplerate
        self.blocksize = blocksize
        self.latency = blocksize / samplerate
        self.channels = audio.shape[1]
        self._audio = audio
        self._callback = callback
        self._finished_callback = finished_callback
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = False
        self.closed = False

    @property
    def active(self) -> bool:
        """True from ``start`` until the stream stops (a stalled stream stays active)."""
        return self._active

    def start(self) -> None:
        """Start replaying from the replay thread."""
        if self.closed:
            raise RuntimeError("the stream is closed")
        self._stop.clear()
        self._active = True
        self._thread = threading.Thread(target=self._run, name="audiofuse-fake-source",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the replay thread (it calls ``finished_callback``)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    abort = stop

    def close(self) -> None:
        """Stop if running; the stream cannot be started again."""
        self.stop()
        self.closed = True

    def _run(self) -> None:
        audio, bs, rate = self._audio, self.blocksize, self.samplerate
        block = np.empty((bs, self.channels), audio.dtype)
        t0 = time.monotonic()
        sent = 0  # frames delivered, for pacing against absolute deadlines (no drift)
        pos = 0
        count = 0
        try:
            while not self._stop.is_set():
                if pos >= len(audio):
                    if self.source.end == "loop" and len(audio):
                        pos = 0
                    elif self.source.end == "stall":
                        self._stop.wait()  # open, silent, until stopped
                        break
                    else:
                        break
                n = min(bs, len(audio) - pos)
                deadline = t0 + (sent + n) / rate / self.source.speed
                delay = deadline - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                # A fresh buffer's worth, like PortAudio's: valid only during the call.
                block[:n] = audio[pos:pos + n]
                count += 1
                every = self.source.overflow_every
                flags = FakeCallbackFlags(input_overflow=bool(every) and count % every == 0)
                now = time.monotonic()
                info = SimpleNamespace(inputBufferAdcTime=now - n / rate, currentTime=now,
                                       outputBufferDacTime=0.0)
                self._callback(block[:n], n, info, flags)
                pos += n
                sent += n
        except Exception:  # as PortAudio does: an exception in the callback ends the stream
            pass
        finally:
            self._active = False
            self._finished_callback()
