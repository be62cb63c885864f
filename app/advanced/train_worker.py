"""The training child process: ``python -m app.advanced.train_worker JOB.json [--resume]``.

The app starts this module in a separate process (see :mod:`app.advanced.training_process`) so a
training can never freeze the window or, by crashing, take the app down. It imports no Qt.

Protocol, one JSON object per line:

- **stdout** (child to app): ``{"event": "started"|"progress"|"finished"|"cancelled"|"error",
  ...}``. ``progress`` carries the core's :class:`~audiofuse_core.training.TrainingProgress`
  fields (phase, epoch, batch, loss, elapsed, eta, best_epoch) and the per-epoch history (loss,
  val_loss, val_auc...). Anything a library prints goes to stderr: the protocol owns fd 1.
- **stdin** (app to child): ``stop`` (stop early, keep the best model so far), ``cancel`` (stop,
  discard the run). Both are seen after the current batch: the core checks its ``should_stop``
  after every batch. End of input (the app died) ends the child at once; the run's checkpoints
  are atomic, so the run can be resumed.

Two threads: the main thread trains; a daemon thread reads stdin and only sets flags.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import threading
import time
import traceback
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TextIO

LOADING_EVERY_S = 0.1
NICENESS = 10  # added to the app's own priority
EXIT_OK, EXIT_ERROR, EXIT_CANCELLED, EXIT_ORPHANED = 0, 1, 2, 3


class Cancelled(Exception):
    """Raised from ``should_stop`` to abandon a run at the next batch."""


class _Control:
    """Flags set by the stdin reader thread, read by the training thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.cancel = threading.Event()

    def read(self, stream: TextIO) -> None:
        # NB: runs on the reader thread; it only sets events.
        for line in stream:
            command = line.strip().lower()
            if command == "stop":
                self.stop.set()
            elif command == "cancel":
                self.cancel.set()
                self.stop.set()
        # stdin closed: the app is gone. Leave the checkpoints for a resume, and go.
        os._exit(EXIT_ORPHANED)

    def should_stop(self) -> bool:
        if self.cancel.is_set():
            raise Cancelled()
        return self.stop.is_set()


class _Emitter:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, event: str, **data: Any) -> None:
        line = json.dumps({"event": event, **data}, default=_json_default)
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _clean(value: Any) -> Any:
    """NaN and infinities as null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def read_job(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def run(job: dict[str, Any], *, resume: bool, emit: _Emitter, control: _Control) -> int:
    from audiofuse_core.datasets import scan_many
    from audiofuse_core.errors import AudioFuseError
    from audiofuse_core.training import TrainConfig, train

    known = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in job["config"].items() if k in known})
    config.resume = resume
    emit("started", out=config.out, run_dir=config.run_dir, resume=resume, pid=os.getpid())

    last = [0.0]

    def progress(p) -> None:
        # The core reports every recording loaded (thousands in a few seconds): ten a second
        # are plenty for the window, and each line costs it a parse and a redraw.
        now = time.monotonic()
        if p.phase == "loading" and p.loaded < p.to_load and now - last[0] < LOADING_EVERY_S:
            return
        last[0] = now
        emit("progress", **_clean(asdict(p)))

    try:
        data = scan_many(job["folders"], artifact_as_abnormal=bool(job.get("artifact_as_abnormal")))
        data.check_trainable()
        result = train(config, data.records, progress=progress, should_stop=control.should_stop)
    except Cancelled:
        _discard(config)
        emit("cancelled")
        return EXIT_CANCELLED
    except AudioFuseError as exc:
        if control.cancel.is_set():
            _discard(config)
            emit("cancelled")
            return EXIT_CANCELLED
        if config.run_dir and not (Path(config.run_dir) / "state.json").is_file():
            _discard(config)  # failed before its first epoch: nothing to resume, nothing kept
        emit("error", message=str(exc))
        return EXIT_ERROR
    if control.cancel.is_set():  # cancel pressed while the model was being finished
        _discard(config)
        emit("cancelled")
        return EXIT_CANCELLED
    overall = result.metadata.get("validation", {}).get("overall", {})
    emit("finished", model_path=str(result.model_path), run_dir=str(result.run_dir),
         best_epoch=result.best_epoch, stopped_early=result.stopped_early,
         seconds=result.seconds, history=_clean(result.history), validation=_clean(overall),
         skipped=len(result.skipped))
    return EXIT_OK


def _discard(config) -> None:
    """Cancel: nothing of the run is kept."""
    out = Path(config.out)
    if out.is_file():
        out.unlink()
    if config.run_dir and Path(config.run_dir).is_dir():
        shutil.rmtree(config.run_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.advanced.train_worker")
    parser.add_argument("job", help="job.json written by the app")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    # Training takes every core it can; below the window's priority, the window stays smooth.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICENESS)
    # The protocol owns fd 1; whatever TensorFlow or Keras print goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    emit = _Emitter(protocol)
    control = _Control()
    threading.Thread(target=control.read, args=(sys.stdin,), name="control",
                     daemon=True).start()
    try:
        return run(read_job(args.job), resume=args.resume, emit=emit, control=control)
    except Exception as exc:  # noqa: BLE001 - a crash is reported, the app decides what next
        traceback.print_exc()
        emit("error", message=f"training crashed: {type(exc).__name__}: {exc}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
