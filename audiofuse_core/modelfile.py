"""Read what a saved model file says about itself, without importing Keras (fast, safe).

A ``.keras`` file is a zip archive; its ``config.json`` holds our model's config: the preset, the
kind and the metadata (threshold, model card...). Reading it builds nothing and runs no code.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

from .errors import ModelError

MODEL_FORMAT = "audiofuse-model/1"


def read_model_config(path: str | Path) -> dict[str, Any]:
    """The model's saved Keras config, without building it."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError, UnicodeDecodeError,
            zlib.error, EOFError, NotImplementedError):
        raise ModelError(f"{path.name}: not a Keras model file, or a damaged one") from None
    if not isinstance(config, dict):
        raise ModelError(f"{path.name}: not a Keras model file")
    check_format(config, path)
    return config


def check_format(config: dict[str, Any], path: str | Path) -> None:
    """ModelError when an AudioFuse model file says it was written in another format than
    :data:`MODEL_FORMAT` (by a newer AudioFuse): it would be misread, not merely refused.
    """
    metadata = ((config.get("config") or {}).get("metadata") or {}) \
        if isinstance(config.get("config"), dict) else {}
    found = metadata.get("format") if isinstance(metadata, dict) else None
    if found is None or found == MODEL_FORMAT:
        return  # files from before the format was written are format 1
    raise ModelError(f"{Path(path).name}: written in model format {found!r}, which this "
                     f"AudioFuse does not read (it reads {MODEL_FORMAT!r}): a newer AudioFuse "
                     f"made it; update AudioFuse to use it")


def read_model_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata dict of an AudioFuse model file, plus ``kind`` and ``preset``."""
    config = read_model_config(path)
    inner = config.get("config") or {}
    if config.get("class_name") != "AudioFuseModel" or "preset" not in inner:
        raise ModelError(f"{Path(path).name}: not an AudioFuse model "
                         f"(it holds a {config.get('class_name') or 'unknown object'})")
    meta = dict(inner.get("metadata") or {})
    meta["kind"] = inner.get("kind")
    meta["preset"] = inner.get("preset")
    return meta
