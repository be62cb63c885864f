"""Which files to open from what the user gave: file names, folders, dropped URLs. Qt-free."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from audiofuse_core.audio import AUDIO_EXTENSIONS, is_audio_path

FILE_FILTER = ("Recordings (" + " ".join(f"*{ext}" for ext in AUDIO_EXTENSIONS) + ");;"
               "All files (*)")


def is_partial_recording(path: Path) -> bool:
    """A recording still being made, or interrupted (``X.partial.wav``, see docs/recording.md):
    not a recording to classify from a folder.
    """
    return path.name.lower().endswith(".partial.wav")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given (even with an unknown extension: the reader then says why it fails);
    folders as the audio files inside them, recursively, sorted; hidden files and recordings in
    progress (``*.partial.wav``) skipped;
    each file once, in the order given.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found.extend(sorted(
                p for p in path.rglob("*")
                if p.is_file() and is_audio_path(p) and not is_partial_recording(p)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        else:
            found.append(path)
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.absolute(), None)
    return list(unique)
