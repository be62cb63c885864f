"""The model library: every model the user trained or imported, in the user's data folder.

Layout of the data folder (``AUDIOFUSE_DATA_DIR``, else Qt's ``AppDataLocation``)::

    models/<name>.keras    trained and imported models (each carries its model card)
    runs/<name>/           a training run: job.json, checkpoints, state.json (resumable)
    library.json           {"active": <id>, "history": [<id>, ...]}

The bundled model (id ``bundled``) is always listed and cannot be deleted. Activation and
rollback rewrite ``library.json`` atomically (write a temporary file, fsync, ``os.replace``), so
a crash at any moment leaves either the old or the new choice, and a restart reads the same one.

Qt-free on purpose except for the default folder, so the training child process and tests can
use it without a display.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audiofuse_core.errors import ModelError
from audiofuse_core.modelfile import read_model_metadata
from audiofuse_core.resources import default_model_path

BUNDLED_ID = "bundled"
DATA_DIR_ENV = "AUDIOFUSE_DATA_DIR"
STATE_FILE = "library.json"
MAX_HISTORY = 20


def default_data_dir() -> Path:
    """``AUDIOFUSE_DATA_DIR`` if set, else Qt's per-user application data folder."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    from PySide6.QtCore import QStandardPaths

    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".local" / "share" / "AudioFuse")


@dataclass
class LibraryModel:
    """One model of the library, as read from its file's metadata (no Keras)."""

    id: str
    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)
    bundled: bool = False
    error: str | None = None  # why the file cannot be used (damaged since it was added...)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.path.stem)

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind") or "?")

    @property
    def created(self) -> str:
        return str(self.metadata.get("created") or "")

    @property
    def validation_auc(self) -> float | None:
        overall = (self.metadata.get("validation") or {}).get("overall") or {}
        value = overall.get("roc_auc")
        return float(value) if isinstance(value, (int, float)) else None

    def describe(self) -> str:
        if self.error:
            return f"{self.id}: unusable ({self.error})"
        auc = self.validation_auc
        auc_text = f", validation ROC-AUC {auc:.3f}" if auc is not None else ""
        origin = "bundled" if self.bundled else (self.created[:16].replace("T", " ") or "?")
        return f"{self.name} ({self.kind}, {origin}{auc_text})"


def check_model_file(path: str | Path) -> dict[str, Any]:
    """Load ``path`` the safe way and return its metadata, or raise :class:`ModelError` with the
    reason (missing, corrupt, not an AudioFuse model, or needing unsafe deserialisation).

    Imports Keras (seconds the first time): call it off the GUI thread.
    """
    from audiofuse_core.models import load_model

    model = load_model(path)  # refuses code (Lambda layers) before anything else
    meta = dict(model.metadata)
    meta.setdefault("kind", model.kind)
    return meta


class ModelLibrary:
    """The models folder and the active choice; see the module docstring."""

    def __init__(self, root: str | Path | None = None, *,
                 bundled_path: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_data_dir()
        self.models_dir = self.root / "models"
        self.runs_dir = self.root / "runs"
        self.bundled_path = Path(bundled_path) if bundled_path else default_model_path()
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.runs_dir.mkdir(parents=True, exist_ok=True)

    # -- listing ----------------------------------------------------------------------------
    def models(self) -> list[LibraryModel]:
        """The bundled model first, then the library's models, newest first."""
        found = [self._entry(BUNDLED_ID, self.bundled_path, bundled=True)]
        others = [self._entry(p.stem, p) for p in self.models_dir.glob("*.keras")
                  if not p.name.startswith(".")]
        others.sort(key=lambda m: (m.created, m.id), reverse=True)
        return found + others

    def get(self, model_id: str) -> LibraryModel:
        if model_id == BUNDLED_ID:
            return self._entry(BUNDLED_ID, self.bundled_path, bundled=True)
        path = self.models_dir / f"{model_id}.keras"
        if not path.is_file():
            raise ModelError(f"{model_id}: no such model in the library")
        return self._entry(model_id, path)

    def _entry(self, model_id: str, path: Path, *, bundled: bool = False) -> LibraryModel:
        try:
            meta = read_model_metadata(path)
        except ModelError as exc:
            return LibraryModel(model_id, path, {}, bundled, str(exc))
        return LibraryModel(model_id, path, meta, bundled)

    # -- adding and removing ------------------------------------------------------------------
    def new_model_path(self, stem: str) -> Path:
        """A free ``models/<stem>.keras`` path (a number appended when taken)."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "model"
        candidate, n = self.models_dir / f"{stem}.keras", 2
        while candidate.exists() or (self.runs_dir / candidate.stem).exists():
            candidate, n = self.models_dir / f"{stem}-{n}.keras", n + 1
        return candidate

    def import_model(self, source: str | Path) -> LibraryModel:
        """Check ``source`` (see :func:`check_model_file`) and copy it in atomically."""
        source = Path(source)
        check_model_file(source)
        target = self.new_model_path(source.stem)
        handle, tmp = tempfile.mkstemp(dir=self.models_dir, prefix=".import-", suffix=".keras")
        os.close(handle)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return self.get(target.stem)

    def delete(self, model_id: str) -> None:
        """Remove a library model. The bundled model and the active one cannot be deleted."""
        if model_id == BUNDLED_ID:
            raise ModelError("the bundled model cannot be deleted")
        if model_id == self.active_id():
            raise ModelError(f"{model_id} is the active model: activate another one first")
        entry = self.get(model_id)
        entry.path.unlink()
        state = self._read_state()
        state["history"] = [h for h in state.get("history", []) if h != model_id]
        self._write_state(state)

    # -- the active model ---------------------------------------------------------------------
    def active_id(self) -> str:
        """The active model's id; the bundled model when none was chosen or the chosen file is
        gone.
        """
        chosen = str(self._read_state().get("active") or BUNDLED_ID)
        if chosen != BUNDLED_ID and not (self.models_dir / f"{chosen}.keras").is_file():
            return BUNDLED_ID
        return chosen

    def active(self) -> LibraryModel:
        return self.get(self.active_id())

    def active_path(self) -> Path:
        return self.active().path

    def activate(self, model_id: str) -> LibraryModel:
        """Make ``model_id`` the active model (the current one is remembered for rollback)."""
        entry = self.get(model_id)
        if entry.error:
            raise ModelError(entry.error)
        current = self.active_id()
        if model_id == current:
            return entry
        state = self._read_state()
        history = [current, *[h for h in state.get("history", []) if h != current]]
        self._write_state({"active": model_id, "history": history[:MAX_HISTORY],
                           "changed": datetime.now(UTC).isoformat(timespec="seconds")})
        return entry

    def can_roll_back(self) -> bool:
        return self._rollback_target() is not None

    def _rollback_target(self) -> str | None:
        for model_id in self._read_state().get("history", []):
            if model_id == BUNDLED_ID or (self.models_dir / f"{model_id}.keras").is_file():
                return str(model_id)
        return None

    def roll_back(self) -> LibraryModel:
        """Make the previously active model active again."""
        target = self._rollback_target()
        if target is None:
            raise ModelError("there is no earlier model to roll back to")
        state = self._read_state()
        history = list(state.get("history", []))
        history = history[history.index(target) + 1:]
        self._write_state({"active": target, "history": history,
                           "changed": datetime.now(UTC).isoformat(timespec="seconds")})
        return self.get(target)

    # -- state file ------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / STATE_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_state(self, state: dict[str, Any]) -> None:
        write_json_atomic(self.root / STATE_FILE, state)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` so that a reader sees either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=1)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
