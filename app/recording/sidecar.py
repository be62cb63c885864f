"""What is saved with a recording: who, where on the chest, which device, how it went.

A recording ``X.flac`` (or ``X.wav``) has a JSON sidecar ``X.json`` beside it holding a
:class:`RecordingInfo`. The sidecar is written atomically (a temporary file in the same folder,
flushed to disk, then renamed over the old one), so a crash leaves either the old sidecar or the
new one, never half a file.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from audiofuse_core.atomic import atomic_write_text

from .errors import RecordingError

#: The auscultation sites a recording can be labelled with.
SITES = ("aortic", "pulmonic", "tricuspid", "mitral", "other")
#: Audio formats a recording can be saved in (lossless only), by file suffix.
FORMATS = {".flac": "FLAC", ".wav": "WAV"}
SIDECAR_FORMAT = "audiofuse-recording/1"


@dataclass
class RecordingInfo:
    """The facts saved beside one recording.

    The clinician gives ``recording_id`` (a patient or recording identifier), ``site`` and
    ``note``; the recorder fills in the rest. ``problem`` holds, in plain words, what went wrong
    when the recording ended abnormally (device unplugged, program killed and recovered...).
    """

    recording_id: str = ""
    site: str = "other"
    note: str = ""
    device: str = ""
    samplerate: int = 0
    channels: int = 1
    bit_depth: int = 16
    started_at: str = ""  # ISO 8601, local time with its UTC offset
    duration_s: float = 0.0
    frames: int = 0
    overflows: int = 0  # input overflows counted; -1 when not known (a recovered recording)
    end_reason: str = ""  # stopped, duration, device_lost, stream_error, writer_error, recovered
    problem: str = ""
    recovered: bool = False
    software: str = ""

    def __post_init__(self) -> None:
        site = str(self.site).strip().lower()
        if site not in SITES:
            raise RecordingError(
                f'The auscultation site "{self.site}" is not one of {", ".join(SITES)}.')
        self.site = site
        if self.bit_depth not in (16, 24):
            raise RecordingError(f"A bit depth of {self.bit_depth} is not supported (16 or 24).")

    def to_dict(self) -> dict[str, Any]:
        """The sidecar's JSON object."""
        return {"format": SIDECAR_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordingInfo:
        """Read a sidecar's object; unknown keys (from a newer version) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def now_iso() -> str:
    """The current local time as ISO 8601 with its offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def sidecar_path(audio_path: str | Path) -> Path:
    """Where the sidecar of ``audio_path`` lives: the same name with ``.json``."""
    return Path(audio_path).with_suffix(".json")


def write_sidecar(audio_path: str | Path, info: RecordingInfo) -> Path:
    """Write ``info`` beside ``audio_path``, atomically; return the sidecar's path."""
    path = sidecar_path(audio_path)
    atomic_write_text(path, json.dumps(info.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return path


def read_sidecar(audio_path: str | Path) -> RecordingInfo | None:
    """The sidecar of ``audio_path``; None when there is none or it cannot be read."""
    path = sidecar_path(audio_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RecordingInfo.from_dict(data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError, RecordingError):
        return None


def new_recording_path(folder: str | Path, info: RecordingInfo, *, suffix: str = ".flac",
                       when: datetime | None = None) -> Path:
    """A fresh file name in ``folder``: ``<id>_<site>_<YYYYmmdd-HHMMSS><suffix>``.

    Characters that are unsafe in file names are replaced; ``-2``, ``-3``... is added when the
    name (or a partial recording of that name) is taken.
    """
    if suffix not in FORMATS:
        raise RecordingError(f'"{suffix}" is not a lossless format ({", ".join(FORMATS)}).')
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    ident = re.sub(r"[^\w.-]+", "-", info.recording_id.strip(), flags=re.UNICODE).strip(".-")
    stem = "_".join(p for p in (ident[:64], info.site, stamp) if p)
    folder = Path(folder)
    candidate = folder / f"{stem}{suffix}"
    n = 2
    while candidate.exists() or (folder / f"{candidate.stem}.partial.json").exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate
