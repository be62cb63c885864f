"""Shared fixtures: real recordings, a small real model file, an offscreen Qt platform."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before any Qt import: run every widget offscreen, quietly.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DATA = TESTS / "data"
PHYSIONET = DATA / "physionet2016"
CIRCOR = DATA / "circor2022" / "training_data"
SHARED_SAMPLES = REPO.parent / "shared" / "data" / "samples"
PASCAL = SHARED_SAMPLES / "pascal_chsc2011"
YASEEN = SHARED_SAMPLES / "yaseen2018"


def physionet_files() -> list[Path]:
    return sorted(PHYSIONET.glob("training-*/*.wav"))


@pytest.fixture(scope="session")
def physionet_dir() -> Path:
    return PHYSIONET


@pytest.fixture(scope="session")
def pascal_dir() -> Path:
    if not PASCAL.is_dir():
        pytest.skip(f"PASCAL samples not found at {PASCAL} (they may not be copied into the repo)")
    return PASCAL


@pytest.fixture(scope="session")
def yaseen_dir() -> Path:
    if not YASEEN.is_dir():
        pytest.skip(f"Yaseen samples not found at {YASEEN} (they may not be copied into the repo)")
    return YASEEN


@pytest.fixture(scope="session")
def normal_wav() -> Path:
    return PHYSIONET / "training-a" / "a0238.wav"  # labelled normal (-1)


@pytest.fixture(scope="session")
def abnormal_wav() -> Path:
    return PHYSIONET / "training-a" / "a0336.wav"  # labelled abnormal (1)


@pytest.fixture(scope="session")
def untrained_model_path(tmp_path_factory) -> Path:
    """A real AudioFuse model file (default preset, fusion) with freshly initialised weights:
    everything but the weights is what a trained model has. Fast to make.
    """
    from audiofuse_core.models import build_model, save_model
    from audiofuse_core.presets import get_preset

    model = build_model(get_preset("default"), "fusion", seed=1,
                        metadata={"name": "test-untrained", "version": "test",
                                  "threshold": 0.5})
    return save_model(model, tmp_path_factory.mktemp("models") / "untrained.keras")


@pytest.fixture(scope="session")
def model_path(untrained_model_path) -> Path:
    """The bundled default model when present, else the untrained one (same file format)."""
    from audiofuse_core.resources import default_model_path

    bundled = default_model_path()
    return bundled if bundled.is_file() else untrained_model_path


@pytest.fixture(autouse=True)
def _collect_cycles_between_tests():
    """Where the app's guard has turned automatic collection off (app/gc_guard.py), its timer
    runs only while a test waits on Qt: collect what is due after each test too, on this thread.
    """
    yield
    import gc

    if not gc.isenabled():
        from app.gc_guard import collect_if_due

        collect_if_due()
