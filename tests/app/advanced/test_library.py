"""The model library: bundled model always there, atomic activation and rollback that survive a
restart, and refusal of bad model files with the reason. Real model files throughout.
"""

from __future__ import annotations

import json
import shutil

import pytest

from app.advanced.library import BUNDLED_ID, ModelLibrary
from audiofuse_core.errors import ModelError


def _add(library, source, name):
    target = library.models_dir / f"{name}.keras"
    shutil.copyfile(source, target)
    return name


def test_bundled_model_is_always_listed_and_undeletable(library, model_path):
    models = library.models()
    assert models[0].id == BUNDLED_ID and models[0].bundled and models[0].error is None
    assert library.active_id() == BUNDLED_ID
    with pytest.raises(ModelError, match="cannot be deleted"):
        library.delete(BUNDLED_ID)


def test_activate_and_roll_back_survive_a_restart(library, untrained_model_path):
    first = _add(library, untrained_model_path, "first")
    second = _add(library, untrained_model_path, "second")
    assert not library.can_roll_back()
    library.activate(first)
    library.activate(second)
    restarted = ModelLibrary(library.root)  # a new session reads the same choice
    assert restarted.active_id() == second
    assert restarted.active_path().name == "second.keras"
    assert restarted.roll_back().id == first
    assert ModelLibrary(library.root).active_id() == first
    assert restarted.roll_back().id == BUNDLED_ID
    assert not restarted.can_roll_back()
    state = json.loads((library.root / "library.json").read_text())
    assert state["active"] == BUNDLED_ID
    assert not list(library.root.glob(".library.json-*"))  # no temporary file left behind


def test_active_model_cannot_be_deleted_and_a_deleted_one_leaves_history(library,
                                                                         untrained_model_path):
    model_id = _add(library, untrained_model_path, "mine")
    library.activate(model_id)
    with pytest.raises(ModelError, match="active model"):
        library.delete(model_id)
    library.roll_back()
    library.delete(model_id)
    assert [m.id for m in library.models()] == [BUNDLED_ID]
    assert library.active_id() == BUNDLED_ID


def test_a_vanished_active_model_falls_back_to_the_bundled_one(library, untrained_model_path):
    model_id = _add(library, untrained_model_path, "gone")
    library.activate(model_id)
    (library.models_dir / "gone.keras").unlink()
    assert library.active_id() == BUNDLED_ID


def test_import_copies_a_real_model_with_its_card(library, untrained_model_path):
    entry = library.import_model(untrained_model_path)
    assert entry.path.parent == library.models_dir and entry.error is None
    assert entry.name == "test-untrained" and entry.kind == "fusion"
    again = library.import_model(untrained_model_path)  # never overwrites
    assert again.path != entry.path


def test_import_refuses_corrupt_foreign_and_unsafe_files(library, tmp_path):
    import keras

    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model at all" * 50)
    with pytest.raises(ModelError, match="not a Keras model file"):
        library.import_model(junk)
    plain = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
    plain.save(tmp_path / "other.keras")
    with pytest.raises(ModelError, match="not an AudioFuse model"):
        library.import_model(tmp_path / "other.keras")
    unsafe = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2)])
    unsafe.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelError, match="unsafe"):
        library.import_model(tmp_path / "lambda.keras")
    assert [m.id for m in library.models()] == [BUNDLED_ID]  # nothing was copied in


def test_a_damaged_library_file_is_listed_with_its_reason(library):
    (library.models_dir / "broken.keras").write_bytes(b"\x00" * 100)
    broken = [m for m in library.models() if m.id == "broken"][0]
    assert "not a Keras model file" in broken.error
    with pytest.raises(ModelError):
        library.activate("broken")


def test_the_main_window_reads_the_active_model_at_start_up(library, untrained_model_path):
    from app.advanced import active_model_path

    assert active_model_path(library.root) == library.bundled_path
    library.activate(_add(library, untrained_model_path, "site-b"))
    assert active_model_path() == library.models_dir / "site-b.keras"  # AUDIOFUSE_DATA_DIR
