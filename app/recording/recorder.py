"""The recorder: from an input device to a lossless file on disk, with live data for display.

Three activities run at once, and none may block another:

1. **The audio callback** (PortAudio's real-time thread, or a
   :class:`~app.recording.fake_source.FakeSource`'s replay thread) runs :meth:`Recorder._on_audio`
   for every input block. It only copies and counts: the block into the display
   :class:`~app.recording.ring_buffer.RingBuffer`, a copy of it onto the lossless queue, and
   integer counters (frames, input overflows, other status flags). No file I/O, no locks, no
   logging, no Qt, and no exception escapes it (one would silently stop the stream). Its one
   allocation is the block copy the queue needs (the array PortAudio passes is only valid during
   the call), as in sounddevice's ``rec_gui.py``.
2. **The writer thread** (``audiofuse-recording-writer``) drains the queue into the WAV journal
   as blocks arrive (see :mod:`.journal`), forces it to disk every ``flush_interval_s`` (0.5 s),
   and watches the stream: the chosen duration reached, a stream that ended by itself, a device
   that fell silent. It stops the stream when one of these happens; at the end it converts the
   journal to the final FLAC/WAV file, writes the JSON sidecar, removes the partial files and
   calls ``on_finished(result)``, on this thread.
3. **The caller** (the GUI thread, or the command line's main thread) calls :meth:`start` and
   :meth:`stop`, and reads :meth:`snapshot`, :meth:`level`, :attr:`elapsed_s`,
   :attr:`overflows` as often as it likes (a GUI timer at 30 fps): these read the ring buffer and
   plain integers, never wait on the other two. Only ``stop(wait=True)`` waits, for the file to
   be finished (a few ms for a 30 s recording; pass ``wait=False`` and use ``on_finished`` to
   never wait).

A recorder makes one recording. With ``out_path=None`` it only monitors (ring buffer and level
meter, nothing saved), e.g. to check the chest piece's placement before recording.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .devices import PortAudioSource
from .errors import RecordingError
from .journal import JournalWriter, convert_journal, journal_path, read_journal, stream_dtype
from .recovery import MarkerLock, marker_in_use, marker_path, remove_partial_files, write_marker
from .ring_buffer import RingBuffer
from .sidecar import FORMATS, RecordingInfo, now_iso, write_sidecar

# How a recording ended (RecordingInfo.end_reason, RecordingResult.end_reason).
STOPPED = "stopped"  # stop() was called
DURATION = "duration"  # the automatic stop after max_seconds
DEVICE_LOST = "device_lost"  # the device stopped sending blocks (unplugged, out of range...)
STREAM_ERROR = "stream_error"  # the stream ended by itself (PortAudio error) or the callback failed
WRITER_ERROR = "writer_error"  # the journal could not be written (disk full, folder gone...)

_END = object()  # the writer's last queue item: the stream is closed, finish the file


@dataclass(frozen=True)
class Level:
    """Input level over the last fraction of a second, for a meter (dB relative to full scale)."""

    rms_dbfs: float
    peak_dbfs: float
    clipped: bool  # a sample at (or within 0.1 dB of) full scale: lower the device's gain

    FLOOR = -120.0


@dataclass(frozen=True)
class RecordingResult:
    """How a recording ended and where it is.

    ``message`` is empty when all went well; otherwise it says in plain words what happened
    and what was kept, ready to show a clinician. ``warnings`` lists things to show even after
    a good recording (input overflows).
    """

    path: Path | None  # the saved recording; None when monitoring or when saving failed
    sidecar: Path | None
    info: RecordingInfo
    end_reason: str
    message: str = ""
    warnings: tuple[str, ...] = ()
    kept_journal: Path | None = None  # where the audio is when saving failed (recoverable)

    @property
    def ok(self) -> bool:
        """Ended as asked (stop or duration) and, unless monitoring, saved."""
        return self.end_reason in (STOPPED, DURATION) and not self.message


class Recorder:
    """Records one input device (or fake source) to ``out_path`` (``.flac`` or ``.wav``).

    ``device`` is a device *name* (None: the system's default input); ``source`` replaces the
    device altogether (a :class:`FakeSource`). ``samplerate`` defaults to the device's own rate.
    ``max_seconds`` stops the recording automatically after exactly that much audio.
    ``on_finished(result)`` is called once, **on the writer thread**, when the file is saved (a
    GUI re-emits it as a Qt signal; it must not touch widgets).
    """

    def __init__(self, out_path: str | Path | None = None, *, device: str | None = None,
                 source: Any = None, samplerate: int | None = None, channels: int = 1,
                 bit_depth: int = 16, info: RecordingInfo | None = None,
                 max_seconds: float | None = None, display_seconds: float = 10.0,
                 overwrite: bool = False,
                 on_finished: Callable[[RecordingResult], None] | None = None,
                 blocksize: int = 0, flush_interval_s: float = 0.5,
                 stall_timeout_s: float = 2.0, first_block_timeout_s: float = 5.0) -> None:
        if bit_depth not in (16, 24):
            raise RecordingError(f"A bit depth of {bit_depth} is not supported (16 or 24).")
        if channels < 1:
            raise RecordingError("At least one input channel is needed.")
        if max_seconds is not None and not max_seconds > 0:
            raise RecordingError("The automatic stop needs a duration above 0 seconds.")
        self.out_path = None if out_path is None else Path(out_path)
        if self.out_path is not None and self.out_path.suffix.lower() not in FORMATS:
            raise RecordingError(f"{self.out_path.name}: recordings are saved as "
                                 f'{" or ".join(FORMATS)} (lossless).')
        self._device_name = device
        self._source = source
        self._requested_rate = samplerate
        self._channels = int(channels)
        self._bit_depth = int(bit_depth)
        self._info = info or RecordingInfo()
        self._max_seconds = max_seconds
        self._display_seconds = float(display_seconds)
        self._overwrite = overwrite
        self._on_finished = on_finished
        self._blocksize = int(blocksize)
        self._flush_interval = float(flush_interval_s)
        self._stall_timeout = float(stall_timeout_s)
        self._first_block_timeout = float(first_block_timeout_s)

        self._state = "idle"  # idle -> recording -> finished
        self.samplerate = 0
        self.device_name = ""
        self._dtype = stream_dtype(bit_depth)
        self._full_scale = float(2 ** (8 * np.dtype(self._dtype).itemsize - 1))
        self._ring = RingBuffer(1, self._channels, self._dtype)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stream: Any = None
        self._journal: JournalWriter | None = None
        self._folder_restored = False  # the folder was deleted while recording, and made again
        self._lock: MarkerLock | None = None
        self._worker: threading.Thread | None = None
        self._end_lock = threading.Lock()
        self._done = threading.Event()
        self._result: RecordingResult | None = None

        # Written by the audio callback only; read anywhere (int stores are atomic).
        self._frames_captured = 0
        self._overflows = 0
        self._status_flags = 0
        self._limit_reached = False
        self._callback_error: BaseException | None = None
        self._frame_limit: int | None = None
        self._accepting = False
        self._save_blocks = self.out_path is not None
        # Written by PortAudio's finished_callback.
        self._stream_finished = False
        # Written under _end_lock by whoever ends the recording first.
        self._end_reason: str | None = None
        self._problem = ""
        self._stream_hung = False
        # The writer's watchdog.
        self._watch_frames = 0
        self._watch_time = 0.0

    # ---- the caller's side ----------------------------------------------------------------

    def start(self) -> None:
        """Open the device, create the journal and marker, and start recording.

        Raises :class:`RecordingError` (or its subclasses: unavailable, device not found,
        settings refused) with a plain message; nothing is left behind on failure.
        """
        if self._state != "idle":
            raise RecordingError("This recorder has already recorded; make a new one.")
        source = self._source if self._source is not None else PortAudioSource(self._device_name)
        rate = int(self._requested_rate or round(float(source.default_samplerate)))
        if rate < 1:
            raise RecordingError(f"The sample rate {rate} Hz is not usable.")
        if self._channels > int(source.max_channels):
            raise RecordingError(f'The input device "{source.name}" has only '
                                 f"{source.max_channels} input channel(s).")
        self.samplerate = rate
        self.device_name = str(source.name)
        self._ring = RingBuffer(int(rate * self._display_seconds) + rate, self._channels,
                                self._dtype)
        if self._max_seconds is not None:
            self._frame_limit = max(1, int(round(self._max_seconds * rate)))
        self._info = replace(self._info, device=self.device_name, samplerate=rate,
                             channels=self._channels, bit_depth=self._bit_depth,
                             started_at=now_iso(), software=_software())
        if self.out_path is not None:
            self._create_files(self.out_path)
        try:
            self._stream = source.open(samplerate=rate, channels=self._channels,
                                       dtype=self._dtype, blocksize=self._blocksize,
                                       callback=self._on_audio,
                                       finished_callback=self._on_stream_finished)
            self._accepting = True
            self._state = "recording"
            self._stream.start()
        except BaseException as exc:
            self._abandon_start()
            if isinstance(exc, RecordingError):
                raise
            raise RecordingError(f'The input device "{self.device_name}" could not be started '
                                 f"({exc}).") from None
        # Blocks that arrive before the writer runs wait in the queue: nothing is lost.
        self._watch_time = time.monotonic()
        self._worker = threading.Thread(target=self._write_and_watch, daemon=True,
                                        name="audiofuse-recording-writer")
        self._worker.start()

    def stop(self, *, wait: bool = True, timeout: float | None = None) -> RecordingResult | None:
        """Stop recording and (with ``wait``) return the result once the file is saved.

        Safe to call more than once and after the recording ended by itself; from any thread
        but the audio callback.
        """
        if self._state == "idle":
            raise RecordingError("The recording has not been started.")
        self._end(STOPPED)
        return self.wait(timeout) if wait else None

    def wait(self, timeout: float | None = None) -> RecordingResult | None:
        """Block until the recording is finished and saved; None on timeout."""
        if self._state == "idle":
            return None
        self._done.wait(timeout)
        return self._result

    @property
    def state(self) -> str:
        """``"idle"``, ``"recording"`` (also while the file is being finished) or
        ``"finished"``.
        """
        return self._state

    @property
    def is_recording(self) -> bool:
        """True from :meth:`start` until the stream has ended."""
        return self._state == "recording" and self._end_reason is None

    @property
    def result(self) -> RecordingResult | None:
        """The result once finished."""
        return self._result

    @property
    def info(self) -> RecordingInfo:
        """The recording's info (device and rate filled in by :meth:`start`)."""
        return self._info

    @property
    def elapsed_s(self) -> float:
        """Seconds of audio captured (audio time, not wall-clock time)."""
        return self._frames_captured / self.samplerate if self.samplerate else 0.0

    @property
    def frames_captured(self) -> int:
        """Frames the callback received (and queued for saving)."""
        return self._frames_captured

    @property
    def frames_saved(self) -> int:
        """Frames the writer has handed to the operating system so far."""
        return self._journal.frames if self._journal is not None else 0

    @property
    def overflows(self) -> int:
        """Input overflows PortAudio reported: moments when samples were lost before reaching
        us because the computer did not keep up. Show it; the target is 0.
        """
        return self._overflows

    @property
    def status_flags(self) -> int:
        """Callbacks that came with any status flag (overflows included)."""
        return self._status_flags

    @property
    def max_seconds(self) -> float | None:
        """The automatic stop, if any."""
        return self._max_seconds

    @property
    def ring_buffer(self) -> RingBuffer:
        """The display buffer (stream sample type); :meth:`snapshot` gives floats."""
        return self._ring

    def snapshot(self, seconds: float | None = None) -> tuple[np.ndarray, int]:
        """The latest ``seconds`` of audio (all the display buffer holds, if None) as float32
        in [-1, 1], shape (frames, channels), and the count of frames written up to its end.
        """
        frames = None if seconds is None else int(seconds * self.samplerate)
        data, end = self._ring.snapshot(frames)
        return data.astype(np.float32) / np.float32(self._full_scale), end

    def level(self, seconds: float = 0.1) -> Level:
        """RMS and peak level of the last ``seconds`` (all channels), in dBFS."""
        data, _ = self._ring.snapshot(max(1, int(seconds * max(self.samplerate, 1))))
        if data.size == 0:
            return Level(Level.FLOOR, Level.FLOOR, False)
        x = data.astype(np.float64) / self._full_scale
        peak = float(np.max(np.abs(x)))
        rms = float(np.sqrt(np.mean(np.square(x))))
        return Level(_dbfs(rms), _dbfs(peak), peak >= 10 ** (-0.1 / 20))

    # ---- 1. the audio callback ---------------------------------------------------------------

    def _on_audio(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # NB: called from PortAudio's real-time thread (or a FakeSource's). Copy and count only.
        try:
            if status:
                self._status_flags += 1
                if status.input_overflow:
                    self._overflows += 1
            if not self._accepting:
                return
            n = frames
            limit = self._frame_limit
            if limit is not None:
                room = limit - self._frames_captured
                if room <= 0:
                    return
                if n >= room:
                    n = room
                    self._limit_reached = True  # the writer thread stops the stream
            block = indata if n == frames else indata[:n]
            self._ring.write(block)
            if self._save_blocks:
                self._queue.put(block.copy())  # SimpleQueue.put never blocks
            self._frames_captured += n
        except BaseException as exc:  # must not escape: it would stop the stream silently
            self._callback_error = exc

    def _on_stream_finished(self) -> None:
        # NB: called from PortAudio's thread when the stream becomes inactive, for any reason.
        self._stream_finished = True

    # ---- 2. the writer thread -------------------------------------------------------------

    def _write_and_watch(self) -> None:
        journal = self._journal
        last_flush = time.monotonic()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=0.05)
                except queue.Empty:
                    item = None
                if item is _END:
                    break
                if item is not None and journal is not None:
                    journal.write(item)
                now = time.monotonic()
                if journal is not None and now - last_flush >= self._flush_interval:
                    journal.flush()
                    last_flush = now
                    if journal.deleted():
                        self._restore_files(journal)
                if self._end_reason is None:
                    self._watch(now)
        except Exception as exc:  # the disk: full, removed, read-only...
            self._end(WRITER_ERROR,
                      f"The recording could not be written to disk ({_describe(exc)}).")
        self._finish()

    def _restore_files(self, journal: JournalWriter) -> None:
        """The journal was deleted while recording (its folder removed): make the folder again
        with the journal (everything recorded so far, read back through the open file) and the
        marker, and go on. An OSError here ends the recording as a writer error.
        """
        # the marker first, as at the start: a journal on disk is never without one
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        lock = write_marker(self.out_path, self._info)
        try:
            journal.restore()
        except BaseException:
            remove_partial_files(self.out_path, lock)  # the journal's audio is still held open
            raise
        if self._lock is not None:
            self._lock.release()
        self._lock = lock
        self._folder_restored = True

    def _watch(self, now: float) -> None:
        captured = self._frames_captured
        if captured != self._watch_frames:
            self._watch_frames, self._watch_time = captured, now
        if self._limit_reached:
            self._end(DURATION)
        elif self._callback_error is not None:
            self._end(STREAM_ERROR, f"The recording stopped because of an internal error "
                                    f"({_describe(self._callback_error)}).")
        elif self._stream_finished:
            self._end(STREAM_ERROR,
                      f'The sound system closed the input from "{self.device_name}" by itself '
                      f"(the device may have been unplugged or switched off).")
        elif now - self._watch_time > (self._stall_timeout if captured
                                       else self._first_block_timeout):
            self._end(DEVICE_LOST,
                      f'The input device "{self.device_name}" stopped sending sound (it may '
                      f"have been unplugged, switched off, or gone out of Bluetooth range).")

    def _end(self, reason: str, problem: str = "") -> None:
        """End the recording once: stop the stream, then let the writer finish the file."""
        with self._end_lock:
            if self._end_reason is not None:
                return
            self._end_reason, self._problem = reason, problem
        self._close_stream(abort=reason not in (STOPPED, DURATION))
        self._queue.put(_END)

    def _close_stream(self, *, abort: bool) -> None:
        # A vanished device can make PortAudio's stop hang: close it from a helper thread and
        # give up waiting after a few seconds (the audio so far is saved regardless).
        stream = self._stream

        def close() -> None:
            for step in ((stream.abort if abort else stream.stop), stream.close):
                try:
                    step()
                except Exception:  # a stream that already failed may refuse to stop
                    pass

        closer = threading.Thread(target=close, name="audiofuse-stream-close", daemon=True)
        closer.start()
        closer.join(3.0)
        self._stream_hung = closer.is_alive()
        self._accepting = False  # blocks after this point are dropped

    def _finish(self) -> None:
        reason = self._end_reason or STREAM_ERROR
        problem = self._problem
        journal = self._journal
        path = sidecar = kept = None
        message = ""
        frames = self._frames_captured
        lost = None  # why a deleted folder could not be made again, if it could not
        if journal is not None and self.out_path is not None:
            if reason != WRITER_ERROR:
                self._write_leftovers(journal)
            if journal.deleted():  # removed since the last flush, or restoring it failed there
                try:
                    self._restore_files(journal)
                except Exception as exc:
                    lost = (f"The recordings folder {self.out_path.parent} was deleted while "
                            f"recording and could not be made again ({_describe(exc)}): the "
                            f"{journal.seconds:.1f} s recorded were lost with it.")
            try:
                journal.close()
            except Exception:  # the header update failed; read_journal does not need it
                pass
            try:
                frames = read_journal(journal.path).frames
            except RecordingError:
                frames = 0
        info = replace(self._info, frames=frames, duration_s=frames / self.samplerate,
                       overflows=self._overflows, end_reason=reason, problem=problem)
        if self.out_path is not None:
            out = self.out_path
            if frames == 0:
                try:
                    remove_partial_files(out, self._lock)
                except OSError:  # the folder is gone or unwritable: nothing of ours is left
                    pass
                if lost:
                    message = lost
                else:
                    message = problem or "Nothing was recorded."
                    if problem:
                        message += " Nothing had been recorded yet."
            else:
                try:
                    convert_journal(journal_path(out), out, bit_depth=self._bit_depth)
                    sidecar = write_sidecar(out, info)
                    remove_partial_files(out, self._lock)
                    path = out
                    if problem:
                        message = (f"{problem} The {info.duration_s:.1f} s recorded before "
                                   f"that were saved as {out.name}.")
                except Exception as exc:
                    if self._lock is not None:
                        self._lock.release()  # the partial files stay, for recovery
                    kept = journal_path(out)
                    message = (f"{problem + ' ' if problem else ''}The recording could not be "
                               f"saved as {out.name} ({_describe(exc)}). Its {info.duration_s:.1f}"
                               f" s are kept in {kept.name} and will be offered for recovery "
                               f"when AudioFuse starts again.")
        elif problem:
            message = problem
        warnings = []
        if self._overflows:
            warnings.append(
                f"{self._overflows} input overflow(s): the computer did not keep up and short "
                f"gaps (a few milliseconds each) may be in this recording.")
        if self._folder_restored:
            warnings.append(f"The recordings folder {self.out_path.parent} was deleted while "
                            f"recording; AudioFuse made it again and kept the whole recording.")
        if self._stream_hung:
            warnings.append("The sound system did not release the input device; restart "
                            "AudioFuse before recording again.")
        self._result = RecordingResult(path, sidecar, info, reason, message, tuple(warnings),
                                       kept)
        self._state = "finished"
        self._done.set()
        if self._on_finished is not None:
            # An exception here is the caller's bug: it reaches threading.excepthook.
            self._on_finished(self._result)

    def _write_leftovers(self, journal: JournalWriter) -> None:
        # Blocks queued after _END: only when closing the stream timed out.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _END:
                try:
                    journal.write(item)
                except Exception:
                    return

    # ---- files ----------------------------------------------------------------------------

    def _create_files(self, out: Path) -> None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(f"The recordings folder {out.parent} cannot be created "
                                 f"({exc.strerror}).") from None
        marker, journal = marker_path(out), journal_path(out)
        if marker.exists():
            if marker_in_use(marker):
                raise RecordingError(f"{out.name} is being recorded by another AudioFuse.")
            raise RecordingError(f"An interrupted recording named {out.name} is waiting to be "
                                 f"recovered ({journal.name}); recover or discard it first.")
        if out.exists() and not self._overwrite:
            raise RecordingError(f"{out} already exists; choose another name.")
        try:
            self._lock = write_marker(out, self._info)  # marker first: a journal is never orphaned
            self._journal = JournalWriter(journal, samplerate=self.samplerate,
                                          channels=self._channels, dtype=self._dtype)
        except (OSError, RuntimeError) as exc:
            self._remove_files()
            raise RecordingError(f"The recording cannot be written to {out.parent} "
                                 f"({_describe(exc)}).") from None

    def _abandon_start(self) -> None:
        self._accepting = False
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:
                pass
        self._remove_files()
        self._state = "idle"

    def _remove_files(self) -> None:
        if self._journal is not None:
            try:
                self._journal.close()
            except Exception:
                pass
        if self.out_path is not None:
            if self._journal is not None or self._lock is not None:
                remove_partial_files(self.out_path, self._lock)
        self._journal = None
        self._lock = None


def _dbfs(x: float) -> float:
    return max(Level.FLOOR, 20.0 * math.log10(x)) if x > 0 else Level.FLOOR


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _software() -> str:
    from audiofuse_core import __version__

    return f"AudioFuse {__version__}"
