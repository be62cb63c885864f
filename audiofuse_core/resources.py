"""Where the bundled files are: models, example recordings, icons.

Looked up beside the package in a source checkout, inside a PyInstaller bundle (``sys._MEIPASS``),
or wherever ``AUDIOFUSE_RESOURCES`` points.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_MODEL_NAME = "audiofuse-default.keras"


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
