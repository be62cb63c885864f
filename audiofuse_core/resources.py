"""Where the bundled files are: models, example recordings, icons.

Looked up beside the package in a source checkout, inside a PyInstaller bundle (``sys._MEIPASS``),
or wherever ``AUDIOFUSE_RESOURCES`` points.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_MODEL_NAME = "audiofuse-default.keras"
AUDIO_SUFFIXES = (".wav", ".flac")


def resources_dir() -> Path:
    override = os.environ.get("AUDIOFUSE_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def models_dir() -> Path:
    return resources_dir() / "models"


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL_NAME


def examples_dir() -> Path:
    return resources_dir() / "examples"


def example_recordings() -> list[Path]:
    """The bundled example recordings (one normal, one abnormal heart), sorted by name.

    Their names start with the reference label (``normal-…``, ``abnormal-…``); their source and
    licence are in ``resources/examples/README.md``. Empty when the folder is missing.
    """
    folder = examples_dir()
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES)


def icons_dir() -> Path:
    return resources_dir() / "icons"


def icon_path(size: int = 256) -> Path:
    """The program's icon as a PNG of ``size`` pixels (16, 24, 32, 48, 64, 128, 256 or 512)."""
    return icons_dir() / f"audiofuse-{size}.png"
