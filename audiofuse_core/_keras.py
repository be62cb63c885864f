"""Import Keras (and its TensorFlow backend) once, quietly.

TensorFlow's C++ runtime writes start-up chatter (oneDNN, CUDA probing) straight to file
descriptor 2 before any Python logging setting can reach it; ``TF_CPP_MIN_LOG_LEVEL`` no longer
silences all of it. We point descriptor 2 at /dev/null for the duration of the import only.
Python exceptions are unaffected: an import error still propagates with its message.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def _quiet_stderr_fd():
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_keras():
    """Return the ``keras`` module, importing it (and TensorFlow) without console noise."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_stderr_fd():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow  # noqa: F401 - finish TF's noisy initialisation while silenced
    return keras
