"""Recordings interrupted by a crash or a kill: find them at the next start and recover them.

While a recording ``X.flac`` is being made, its folder holds two more files:

- ``X.partial.wav``, the journal (see :mod:`.journal`): every sample, appended as it arrives
  and forced to disk at least every half second;
- ``X.partial.json``, the marker: where the recording will go, its :class:`RecordingInfo` so
  far, and the sample format. The recording process holds an operating-system lock on the
  marker for as long as it runs (``flock`` on POSIX, ``msvcrt.locking`` on Windows); the lock
  vanishes with the process however it ends, which tells a running recording (locked) from an
  abandoned one (unlocked) without trusting process ids that may have been reused.

A normal stop converts the journal to ``X.flac``, writes ``X.json`` and removes both partial
files, the marker last. :func:`find_partial_recordings` lists markers nobody holds;
:func:`recover` repeats those same steps on what the journal holds, and marks the sidecar
``recovered``. What a kill loses: the blocks still in the writer queue (normally one, a few
milliseconds) and PortAudio's input buffer (tens of ms). A power cut loses at most the last
half second of journal not yet forced to disk.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from .errors import RecordingError
from .journal import JOURNAL_SUFFIX, convert_journal, journal_path, read_journal
from .sidecar import RecordingInfo, atomic_write_text, write_sidecar

MARKER_SUFFIX = ".partial.json"
MARKER_FORMAT = "audiofuse-partial-recording/1"
# an unreadable journal this small was cut off inside its WAV header: no audio (128 bytes would
# hold 0.03 s of 16-bit audio at 2 kHz); a larger one is kept, whatever its state
HEADER_ONLY_BYTES = 128
RECOVERED_PROBLEM = (
    "AudioFuse stopped while this recording was being made (it was closed by force, crashed, "
    "or the computer lost power); the recording was recovered afterwards. Up to about the last "
    "second may be missing.")


def marker_path(out_path: str | Path) -> Path:
    """The marker of the recording that will be saved as ``out_path``."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + MARKER_SUFFIX)


class MarkerLock:
    """The recording process's hold on its marker; released by :meth:`release` or by death."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = open(path, "rb")  # held open: the lock lives as long as it
        if not _try_lock(self._file):
            self._file.close()
            self._file = None
            raise RecordingError(f"{path.name} is being recorded by another AudioFuse.")

    def release(self) -> None:
        """Drop the lock (the file stays)."""
        if self._file is not None:
            _unlock(self._file)
            self._file.close()
            self._file = None


def write_marker(out_path: Path, info: RecordingInfo) -> MarkerLock:
    """Write the marker of a recording that starts now and lock it."""
    marker = marker_path(out_path)
    data = {"format": MARKER_FORMAT, "out": Path(out_path).name,
            "journal": journal_path(out_path).name, "pid": os.getpid(), "info": info.to_dict()}
    atomic_write_text(marker, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return MarkerLock(marker)


def marker_in_use(marker: Path) -> bool:
    """True while a living process holds ``marker``'s lock (its recording is going on)."""
    try:
        f = open(marker, "rb")
    except OSError:
        return False
    try:
        if _try_lock(f):
            _unlock(f)
            return False
        return True
    finally:
        f.close()


@dataclass(frozen=True)
class PartialRecording:
    """An interrupted recording found in a folder."""

    marker: Path
    journal: Path
    out: Path
    info: RecordingInfo
    seconds: float  # audio held by the journal (0 when it is missing or empty)
    in_progress: bool  # another process is recording it now: do not touch

    @property
    def name(self) -> str:
        """The file name the recording will get."""
        return self.out.name


@dataclass(frozen=True)
class RecoveredRecording:
    """The result of :func:`recover`."""

    path: Path
    sidecar: Path
    info: RecordingInfo


def find_partial_recordings(folder: str | Path, *,
                            include_in_progress: bool = False) -> list[PartialRecording]:
    """The interrupted recordings in ``folder`` (not its subfolders), oldest first.

    Recordings that another process is making now are left out unless asked for. Markers that
    cannot be read are skipped (their journal, if any, stays where it is).
    """
    folder = Path(folder)
    found = []
    for marker in sorted(folder.glob(f"*{MARKER_SUFFIX}")):
        partial = _read_marker(marker)
        if partial is None or (partial.in_progress and not include_in_progress):
            continue
        found.append(partial)
    found.sort(key=lambda p: p.info.started_at)
    return found


def _read_marker(marker: Path) -> PartialRecording | None:
    try:
        data: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
        if data.get("format") != MARKER_FORMAT:
            return None
        info = RecordingInfo.from_dict(data["info"])
        out = marker.with_name(Path(data["out"]).name)
        journal = marker.with_name(Path(data["journal"]).name)
    except (OSError, ValueError, KeyError, TypeError, RecordingError):
        return None
    if not journal.name.endswith(JOURNAL_SUFFIX):
        return None
    try:
        seconds = read_journal(journal).seconds
    except RecordingError:
        seconds = 0.0
    return PartialRecording(marker, journal, out, info, seconds, marker_in_use(marker))


def _too_short_for_audio(journal: Path) -> bool:
    """Whether a journal whose header cannot be read is too small to hold any audio (its writer
    was killed while writing the header).
    """
    try:
        return journal.stat().st_size <= HEADER_ONLY_BYTES
    except OSError:
        return False  # cannot even be looked at: keep it


def recover(partial: PartialRecording) -> RecoveredRecording | None:
    """Turn an interrupted recording into a normal one: the audio file and its sidecar.

    Returns None when the journal held no audio at all (the partial files are then removed).
    Raises :class:`RecordingError` when the recording is still going on, or its journal cannot be
    read, or it cannot be saved (the partial files are then kept, to try again).
    """
    if marker_in_use(partial.marker):
        raise RecordingError(f"{partial.name} is still being recorded; it cannot be recovered now.")
    out = partial.out
    if partial.journal.exists():
        try:
            journal = read_journal(partial.journal)
        except RecordingError as exc:
            if not _too_short_for_audio(partial.journal):
                # a damaged or unreadable journal may still hold the patient's heart sounds:
                # never delete it here
                raise RecordingError(f"{partial.name} could not be recovered: {exc} The "
                                     f"partial recording is kept ({partial.journal}).") from None
            journal = None  # killed before its header was whole: no audio in it
        if journal is None or journal.frames == 0:
            discard(partial)
            return None
        bit_depth = partial.info.bit_depth
        if out.exists():
            # A crash after the conversion and before the clean-up: keep the finished file if
            # it is whole, else convert again.
            import soundfile as sf

            try:
                done = sf.info(str(out)).frames == journal.frames
            except (RuntimeError, OSError):
                done = False
            if not done:
                out.unlink()
        if not out.exists():
            try:
                convert_journal(partial.journal, out, bit_depth=bit_depth)
            except (OSError, RuntimeError) as exc:
                raise RecordingError(f"{partial.name} could not be recovered ({exc}); the "
                                     f"partial recording is kept.") from None
        frames, rate = journal.frames, journal.samplerate
    elif out.exists():  # only the clean-up was interrupted
        import soundfile as sf

        meta = sf.info(str(out))
        frames, rate = meta.frames, meta.samplerate
    else:
        discard(partial)
        return None
    # overflows = -1: the count died with the process (the marker is written once, at start).
    info = replace(partial.info, frames=frames, samplerate=rate, duration_s=frames / rate,
                   overflows=-1, end_reason="recovered", problem=RECOVERED_PROBLEM,
                   recovered=True)
    sidecar = write_sidecar(out, info)
    discard(partial)
    return RecoveredRecording(out, sidecar, info)


def discard(partial: PartialRecording) -> None:
    """Delete an interrupted recording's journal and marker (the marker last)."""
    if marker_in_use(partial.marker):
        raise RecordingError(f"{partial.name} is still being recorded; it cannot be discarded.")
    partial.journal.unlink(missing_ok=True)
    partial.marker.unlink(missing_ok=True)


def remove_partial_files(out_path: Path, lock: MarkerLock | None) -> None:
    """After a normal stop: remove the journal, then release and remove the marker."""
    journal_path(out_path).unlink(missing_ok=True)
    if lock is not None:
        lock.release()
    marker_path(out_path).unlink(missing_ok=True)


# ---- operating-system file locks -------------------------------------------------------------

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    # Lock one byte far beyond the end of the marker: Windows locks are mandatory, and locking
    # the JSON itself would stop other processes from reading it.
    _LOCK_OFFSET = 1 << 30

    def _try_lock(f: IO[bytes]) -> bool:
        try:
            f.seek(_LOCK_OFFSET)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(f: IO[bytes]) -> None:
        try:
            f.seek(_LOCK_OFFSET)
            msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
else:
    import fcntl

    def _try_lock(f: IO[bytes]) -> bool:
        # flock locks belong to the open file, so even a second open in the same process
        # conflicts: a GUI can tell its own running recording from an abandoned one.
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(f: IO[bytes]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
