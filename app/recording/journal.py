"""The journal: a plain WAV file the writer thread appends to while recording, and its repair.

Why a WAV journal and not the FLAC file itself: a FLAC stream's header (STREAMINFO: length, MD5)
is only written when the encoder closes, and libsndfile's FLAC encoder holds encoded frames in
memory before it writes them. A FLAC file killed mid-recording may therefore miss its last
seconds or be unreadable. A PCM WAV file has no such state: every ``write`` goes straight to the
operating system (libsndfile does not buffer), and a killed writer leaves a valid header whose
only fault is a stale length (0). :func:`read_journal` ignores that length and takes the audio
to the end of the file, whole frames only. So the journal is WAV, in the stream's own sample
format (16-bit, or 32-bit for 24-bit recordings), and is converted to the chosen lossless format
(FLAC by default) when the recording stops, or by recovery after a crash.

The journal's audio always runs to the end of the file: libsndfile writes no chunk after the
``data`` chunk of a PCM WAV file without string tags, and we write no tags to it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from audiofuse_core.atomic import fsync_folder
from audiofuse_core.wav_layout import WavLayout, WavLayoutError, read_wav_layout

from .errors import RecordingError
from .sidecar import FORMATS

#: File-name ending of a journal: ``X.flac`` is recorded into ``X.partial.wav``.
JOURNAL_SUFFIX = ".partial.wav"
# Stream sample type -> journal WAV subtype.
_JOURNAL_SUBTYPES = {"int16": "PCM_16", "int32": "PCM_32", "float32": "FLOAT"}


def journal_path(out_path: str | Path) -> Path:
    """The journal of the recording that will be saved as ``out_path``."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + JOURNAL_SUFFIX)


def final_subtype(bit_depth: int) -> str:
    """The FLAC/WAV subtype of a finished recording of ``bit_depth`` bits."""
    return "PCM_24" if bit_depth == 24 else "PCM_16"


def stream_dtype(bit_depth: int) -> str:
    """The sample type to ask PortAudio for: its own integers, so saving is exact."""
    return "int32" if bit_depth == 24 else "int16"


class JournalWriter:
    """Appends blocks to a WAV journal. Used by one thread, the recorder's writer thread."""

    def __init__(self, path: str | Path, *, samplerate: int, channels: int, dtype: str) -> None:
        self.path = Path(path)
        self._format = dict(samplerate=int(samplerate), channels=int(channels), format="WAV",
                            subtype=_JOURNAL_SUBTYPES[np.dtype(dtype).name])
        self._file = sf.SoundFile(self.path, "x", **self._format)
        self.frames = 0
        # a second, read-only hold on the same file: if the file is deleted (its folder removed
        # while recording), its audio can still be read through it
        try:
            self._watch = os.open(self.path, os.O_RDONLY)
        except OSError:
            self._file.close()
            raise

    def deleted(self) -> bool:
        """True when the journal is no longer on disk under its name (its folder removed while
        recording); what was written is still readable through this writer.
        """
        return not os.path.exists(self.path)

    @property
    def seconds(self) -> float:
        return self.frames / float(self._format["samplerate"])

    def restore(self) -> None:
        """After :meth:`deleted`: make the folder again and write everything recorded so far to
        a new journal at the same path, then go on appending there. Raises OSError (or
        RecordingError) when that cannot be done.
        """
        self._file.flush()
        info = read_journal(Path(f"/dev/fd/{self._watch}"))  # the deleted file, still open
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = sf.SoundFile(self.path, "x", **self._format)
        try:
            for block in iter_journal(info):
                fresh.write(block)
            fresh.flush()
            watch = os.open(self.path, os.O_RDONLY)
        except BaseException:
            fresh.close()
            self.path.unlink(missing_ok=True)  # never a half copy taken for the whole recording
            raise
        old, self._file = self._file, fresh
        old_watch, self._watch = self._watch, watch
        self.frames = info.frames
        for release in (old.close, lambda: os.close(old_watch)):
            try:
                release()
            except OSError:
                pass

    def write(self, block: np.ndarray) -> None:
        """Append a block; it reaches the operating system before this returns."""
        self._file.write(block)
        self.frames += len(block)

    def flush(self) -> None:
        """Force what was written onto the disk (survives a power cut, not only a kill)."""
        self._file.flush()  # libsndfile's sf_write_sync: an fsync of the file

    def close(self) -> None:
        """Write the final header (correct lengths) and close."""
        if self._watch >= 0:
            os.close(self._watch)
            self._watch = -1
        if not self._file.closed:
            self._file.close()


# what read_journal finds in a journal, however its writer ended (path, samplerate, channels,
# dtype, data_offset, frames, seconds)
JournalInfo = WavLayout


def read_journal(path: str | Path) -> JournalInfo:
    """Parse a WAV journal whose header may be stale (its writer killed before closing): the
    core's :func:`~audiofuse_core.wav_layout.read_wav_layout`, its failures as RecordingError.
    """
    path = Path(path)
    try:
        return read_wav_layout(path)
    except WavLayoutError as exc:
        raise RecordingError(f"{path.name}: not a WAV journal ({exc}).") from None
    except OSError as exc:
        raise RecordingError(f"{path.name}: the journal cannot be read ({exc.strerror}).") \
            from None


def iter_journal(info: JournalInfo, *, block_frames: int = 1 << 16) -> Iterator[np.ndarray]:
    """The journal's audio in blocks of shape (frames, channels), in the stream's sample type."""
    native = info.dtype.newbyteorder("=")
    with open(info.path, "rb") as f:
        f.seek(info.data_offset)
        left = info.frames
        while left > 0:
            n = min(block_frames, left)
            raw = np.fromfile(f, dtype=info.dtype, count=n * info.channels)
            if raw.size < n * info.channels:
                raise RecordingError(f"{info.path.name}: the journal shrank while being read.")
            yield raw.astype(native, copy=False).reshape(n, info.channels)
            left -= n


def convert_journal(journal: str | Path, out_path: str | Path, *, bit_depth: int = 16) -> int:
    """Write the journal's audio to ``out_path`` (FLAC or WAV, by suffix); return its frames.

    The file appears complete or not at all: it is written under a temporary name in the same
    folder, flushed to disk, checked (frame count) and then renamed. The journal is left as it
    is; the caller removes it once the sidecar is written too.
    """
    out_path = Path(out_path)
    fmt = FORMATS.get(out_path.suffix.lower())
    if fmt is None:
        raise RecordingError(
            f'{out_path.name}: recordings are saved as {" or ".join(FORMATS)} (lossless).')
    info = read_journal(journal)
    if info.frames == 0:
        raise RecordingError(f"{Path(journal).name}: nothing was recorded.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.stem}.", suffix=out_path.suffix,
                                    dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with sf.SoundFile(tmp, "w", samplerate=info.samplerate, channels=info.channels,
                          format=fmt, subtype=final_subtype(bit_depth)) as f:
            for block in iter_journal(info):
                f.write(block)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        written = sf.info(str(tmp)).frames
        if written != info.frames:
            raise RecordingError(
                f"{out_path.name}: {written} frames were saved instead of {info.frames}.")
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(out_path.parent)
    return info.frames
