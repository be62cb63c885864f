"""Replacing a file so that a crash or a full disk leaves the old file or the new one, never
half of one: a temporary file in the same folder, flushed to disk, then renamed over it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: str | Path, text: str, *, newline: str | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8; ``newline`` as for :func:`open`)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows: folders cannot be opened this way; renames are journalled
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
