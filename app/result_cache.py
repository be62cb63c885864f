"""The answers of this session, by file: an answer is given back only while its file is the one
that was classified (same size and modification time), so a recording replaced on disk under the
same name is classified again, never shown with the answer of the file it replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


class ResultCache:
    """``cache[path] = prediction``; ``cache.get(path)`` is None once the file has changed."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int] | None, Any]] = {}

    def __setitem__(self, path: Path, prediction: Any) -> None:
        self._entries[Path(path)] = (_stamp(Path(path)), prediction)

    def get(self, path: Path | None) -> Any:
        if path is None:
            return None
        entry = self._entries.get(Path(path))
        if entry is None:
            return None
        stamp, prediction = entry
        if stamp is None or stamp != _stamp(Path(path)):
            del self._entries[Path(path)]  # another file now, or gone: classify again
            return None
        return prediction

    def __getitem__(self, path: Path) -> Any:
        prediction = self.get(path)
        if prediction is None:
            raise KeyError(path)
        return prediction

    def __contains__(self, path: object) -> bool:
        return isinstance(path, Path | str) and self.get(Path(path)) is not None

    def items(self) -> list[tuple[Path, Any]]:
        """(path, prediction) for every file whose answer still stands."""
        return [(path, prediction) for path in list(self._entries)
                if (prediction := self.get(path)) is not None]

    def clear(self) -> None:
        self._entries.clear()
