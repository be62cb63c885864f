"""Playback through an audio output device, with a playhead for the views.

Two activities run at once, and neither waits on the other:

1. **The PortAudio callback** (PortAudio's real-time thread) calls :meth:`PlaybackBuffer.fill`
   for every block: it copies the next samples from an array prepared before the stream started
   into the output block and advances an integer frame counter. No Qt, no logging, no file I/O,
   no allocation; when the end is reached it raises ``sounddevice.CallbackStop``, the library's
   own way to end a stream, and ``finished_callback`` sets a plain flag.
2. **The GUI thread** starts, pauses and stops the stream, and a ``QTimer`` at 30 fps reads the
   frame counter (minus the output latency, so the playhead shows what is heard, not what was
   handed over) and the flag, and emits :attr:`Player.position_changed` / :attr:`state_changed`.

sounddevice is imported lazily: without the PortAudio library it raises ``OSError`` at import,
and without an output device there is nothing to play to. In both cases :class:`Player` reports
a reason in plain words (:attr:`Player.unavailable_reason`), the window disables playback with
that reason as its tooltip, and everything else works. The output device is chosen by name, not
index (PortAudio numbers devices afresh in each session); if the chosen one is gone, the default
is used and the window says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

log = logging.getLogger(__name__)

PLAYING, PAUSED, STOPPED = "playing", "paused", "stopped"
POLL_MS = 33  # playhead refresh, about 30 fps

_PORTAUDIO_MISSING = ("Playback is not available: the PortAudio sound library is not installed "
                      "(on Debian or Ubuntu: sudo apt-get install libportaudio2). Viewing and "
                      "classifying recordings still work.")
_SOUNDDEVICE_MISSING = ("Playback is not available: the Python package sounddevice is not "
                        "installed. Viewing and classifying recordings still work.")
_NO_OUTPUT = ("Playback is not available: no audio output device was found. Connect speakers or "
              "headphones, then choose Playback > Output device. Viewing and classifying "
              "recordings still work.")


class PlaybackUnavailable(Exception):
    """Playback cannot work here; the message says why, in plain words."""


_sd: ModuleType | None = None
_sd_error: str | None = None


def sounddevice_module() -> ModuleType:
    """Import sounddevice on first use (raises PlaybackUnavailable without PortAudio)."""
    global _sd, _sd_error
    if _sd is not None:
        return _sd
    if _sd_error is None:
        try:
            import sounddevice
        except OSError:  # libportaudio cannot be loaded
            _sd_error = _PORTAUDIO_MISSING
        except ImportError:
            _sd_error = _SOUNDDEVICE_MISSING
        else:
            _sd = sounddevice
            return _sd
    raise PlaybackUnavailable(_sd_error)


@dataclass(frozen=True)
class OutputDevice:
    """An output device as PortAudio lists it now (store ``name``, not ``index``)."""

    name: str
    hostapi: str
    index: int
    channels: int
    default_samplerate: float
    is_default: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hostapi})"


def list_output_devices(*, rescan: bool = False) -> list[OutputDevice]:
    """Every device with an output channel; ``rescan`` re-reads the system's list first
    (only while nothing plays: it closes every stream).
    """
    sd = sounddevice_module()
    try:
        if rescan:
            # NB: sounddevice's own way to see devices plugged in since it started.
            sd._terminate()
            sd._initialize()
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_out = sd.default.device[1]
        if default_out is None or int(default_out) < 0:
            default_out = hostapis[0]["default_output_device"] if hostapis else -1
    except sd.PortAudioError as exc:
        raise PlaybackUnavailable(f"Playback is not available: the sound system could not list "
                                  f"the audio devices ({exc}).") from None
    return [OutputDevice(name=str(d["name"]), hostapi=str(hostapis[d["hostapi"]]["name"]),
                         index=int(d["index"]), channels=int(d["max_output_channels"]),
                         default_samplerate=float(d["default_samplerate"]),
                         is_default=int(d["index"]) == int(default_out))
            for d in devices if int(d["max_output_channels"]) > 0]


def find_output_device(name: str | None = None, *, rescan: bool = False) -> OutputDevice:
    """The device called ``name`` (the system default when None or when it is gone)."""
    devices = list_output_devices(rescan=rescan)
    if not devices:
        raise PlaybackUnavailable(_NO_OUTPUT)
    if name:
        for device in devices:
            if device.name == name:
                return device
    return next((d for d in devices if d.is_default), devices[0])


class PlaybackBuffer:
    """What the callback plays: prepared samples, a frame counter and an end.

    NB: :meth:`fill` runs on PortAudio's real-time thread; the GUI thread only reads ``frame``
    (a Python int, read and written whole).
    """

    def __init__(self, samples: np.ndarray, start: int, end: int) -> None:
        self.samples = np.ascontiguousarray(samples, dtype=np.float32)
        self.frame = max(0, min(int(start), len(self.samples)))
        self.end = max(self.frame, min(int(end), len(self.samples)))

    @property
    def done(self) -> bool:
        return self.frame >= self.end

    def fill(self, outdata: np.ndarray) -> bool:
        """Copy the next block into ``outdata`` (frames x channels); True when it was the last."""
        count = max(0, min(len(outdata), self.end - self.frame))
        if count:
            block = self.samples[self.frame:self.frame + count]
            for channel in range(outdata.shape[1]):
                outdata[:count, channel] = block
        outdata[count:] = 0.0
        self.frame += count
        return self.frame >= self.end


class Player(QObject):
    """Plays a mono recording from a time to a time, with a playhead."""

    state_changed = Signal(str)  # playing, paused, stopped
    position_changed = Signal(float)  # s into the recording
    availability_changed = Signal(object)  # None when playback works, else the reason
    message = Signal(str)  # something the user should read (a device fallback, an error)

    def __init__(self, device_name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device_name = device_name
        self.device: OutputDevice | None = None
        self.unavailable_reason: str | None = "Playback: no output device checked yet."
        self.state = STOPPED
        self.status_flags = 0  # callbacks that reported an underflow or other status
        self._samples = np.zeros(0, np.float32)
        self._rate = 1
        self._stream = None
        self._buffer: PlaybackBuffer | None = None
        self._play_rate = 1
        self._finished = False
        self._resume_s: float | None = None
        self._start_s = 0.0
        self._end_s: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    # -- devices -----------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    def check_device(self, *, rescan: bool = False) -> str | None:
        """Find the output device (by name); returns and announces why playback cannot work."""
        if self._stream is not None:
            return self.unavailable_reason
        try:
            device = find_output_device(self.device_name, rescan=rescan)
        except PlaybackUnavailable as exc:
            self.device, reason = None, str(exc)
        else:
            if self.device_name and device.name != self.device_name:
                self.message.emit(f'The output device "{self.device_name}" is not connected; '
                                  f'playing through "{device.name}" instead.')
            self.device, reason = device, None
        changed = reason != self.unavailable_reason
        self.unavailable_reason = reason
        if changed or rescan:
            self.availability_changed.emit(reason)
        return reason

    def set_device(self, name: str | None) -> None:
        """Play through ``name`` from now on (the previous device stays if it fails)."""
        previous = self.device_name
        self.stop()
        self.device_name = name
        if self.check_device() is not None and previous != name:
            self.device_name = previous
            self.message.emit(f'"{name}" cannot be used; playback stays on the previous device.')
            self.check_device()

    # -- playback ----------------------------------------------------------------------------
    def set_audio(self, samples: np.ndarray, rate: int) -> None:
        self.stop()
        self._samples = np.ascontiguousarray(samples, dtype=np.float32)
        self._rate = int(rate)

    def clear(self) -> None:
        """Nothing to play (the recording on screen could not be read)."""
        self.set_audio(np.zeros(0, np.float32), 1)

    @property
    def duration(self) -> float:
        return len(self._samples) / float(self._rate)

    @property
    def position_s(self) -> float | None:
        """Where the listener is, in s (None when stopped)."""
        if self.state == PAUSED:
            return self._resume_s
        if self._buffer is None or self._stream is None:
            return None
        latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
        heard = self._buffer.frame / self._play_rate - latency
        start = self._start_s
        return max(start, min(heard, self._buffer.end / self._play_rate))

    def toggle(self, start_s: float, end_s: float | None = None) -> None:
        """Space: play (from ``start_s``), pause, or resume where it paused."""
        if self.state == PLAYING:
            self.pause()
        elif self.state == PAUSED and self._resume_s is not None:
            self.play(self._resume_s, self._end_s)
        else:
            self.play(start_s, end_s)

    def play(self, start_s: float, end_s: float | None = None) -> bool:
        """Play from ``start_s`` to ``end_s`` (the end when None); False if it cannot."""
        self._close_stream()
        if self.unavailable_reason is not None or self.device is None:
            self.message.emit(self.unavailable_reason or _NO_OUTPUT)
            return False
        if not len(self._samples):
            return False
        sd = sounddevice_module()
        samples, rate = self._samples_for_device(sd)
        end_s = self.duration if end_s is None else min(end_s, self.duration)
        if start_s >= end_s - 1e-3:
            start_s = 0.0
        self._buffer = PlaybackBuffer(samples, int(start_s * rate), int(round(end_s * rate)))
        self._play_rate = rate
        self._start_s = start_s
        self._end_s = end_s
        self._finished = False
        channels = max(1, min(2, self.device.channels))
        buffer = self._buffer
        stop = sd.CallbackStop

        def callback(outdata, frames, time_info, status) -> None:
            # NB: PortAudio's real-time thread: copy, count, return.
            if status:
                self.status_flags += 1
            if buffer.fill(outdata):
                raise stop

        def finished() -> None:
            # NB: PortAudio's thread: a flag only; the GUI timer notices it.
            self._finished = True

        try:
            self._stream = sd.OutputStream(device=self.device.index, samplerate=rate,
                                           channels=channels, dtype="float32",
                                           callback=callback, finished_callback=finished)
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            self._buffer = None
            self.message.emit(f'Playback failed on "{self.device.name}" ({exc}). Choose another '
                              "output device in Playback > Output device.")
            self._set_state(STOPPED)
            return False
        self._timer.start()
        self._set_state(PLAYING)
        self.position_changed.emit(start_s)
        return True

    def pause(self) -> None:
        if self.state != PLAYING:
            return
        position = self.position_s
        self._close_stream()
        self._resume_s = position
        self._set_state(PAUSED)

    def stop(self) -> None:
        self._close_stream()
        self._resume_s = None
        if self.state != STOPPED:
            self._set_state(STOPPED)

    def _samples_for_device(self, sd: ModuleType) -> tuple[np.ndarray, int]:
        """The recording at a rate the device accepts: its own, else the device's default."""
        try:
            sd.check_output_settings(device=self.device.index, samplerate=self._rate,
                                     channels=1, dtype="float32")
            return self._samples, self._rate
        except (sd.PortAudioError, ValueError):
            from audiofuse_core.audio import resample

            rate = int(round(self.device.default_samplerate))
            return resample(self._samples, self._rate, rate), rate

    def _close_stream(self) -> None:
        self._timer.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # noqa: BLE001 - a vanished device must not crash the app
                log.warning("closing the output stream failed: %s", exc)
        self._buffer = None

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    @Slot()
    def _poll(self) -> None:
        if self._stream is None:
            return
        if self._finished:
            end = self._end_s
            self._close_stream()
            self._resume_s = None
            if end is not None:
                self.position_changed.emit(end)
            self._set_state(STOPPED)
            return
        position = self.position_s
        if position is not None:
            self.position_changed.emit(position)
