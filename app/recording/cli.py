"""``audiofuse record``: record from an input device to a lossless file, without a window.

``audiofuse_core.cli`` (which never imports sounddevice) forwards every argument after
``record`` to :func:`record_main`. Exit codes, as for the rest of the command line: 0 saved as
asked; 1 the recording ended early (device lost, stream failure...) but what was recorded is
saved, or a partial recording could not be recovered; 2 the recording could not be made (no
PortAudio, no device, bad options, unwritable folder).

Threads: the main thread starts the recorder, prints progress twice a second and stops it on
Ctrl+C or SIGTERM (the file is then saved normally); the recorder's own threads do the rest
(see :mod:`.recorder`). A SIGKILL leaves a partial recording that ``--recover`` finishes.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import RecordingError
from .sidecar import SITES, RecordingInfo


def build_parser() -> argparse.ArgumentParser:
    """The options of ``audiofuse record``."""
    p = argparse.ArgumentParser(
        prog="audiofuse record",
        description="Record heart sounds from an input device (a digital stethoscope) to a "
                    "lossless file (FLAC or WAV) with a JSON sidecar, without a window.")
    p.add_argument("--seconds", type=float, metavar="N", help="how long to record (seconds)")
    p.add_argument("--out", metavar="FILE", help="the recording to write (.flac or .wav)")
    p.add_argument("--device", metavar="NAME",
                   help="input device name, or a unique part of it (default: the system's "
                        "default input); see --list-devices")
    p.add_argument("--rate", type=int, metavar="HZ",
                   help="sample rate (default: the device's own rate)")
    p.add_argument("--channels", type=int, default=1, help="input channels (default 1)")
    p.add_argument("--bit-depth", type=int, choices=(16, 24), default=16)
    p.add_argument("--id", default=None, metavar="ID",
                   help="patient or recording identifier (default: the file's name)")
    p.add_argument("--site", choices=SITES, default="other", help="auscultation site")
    p.add_argument("--note", default="", metavar="TEXT", help="a free-text note")
    p.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--list-devices", action="store_true",
                   help="list the input devices and exit")
    p.add_argument("--recover", metavar="FOLDER",
                   help="finish the interrupted recordings in FOLDER and exit")
    return p


def record_main(argv: Sequence[str] | None = None) -> int:
    """Run ``audiofuse record`` with ``argv`` (the arguments after ``record``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.list_devices:
            return _list_devices()
        if args.recover:
            return _recover(Path(args.recover))
        if args.seconds is None or args.out is None:
            parser.error("--seconds and --out are needed to record")
        if not args.seconds > 0:
            parser.error("--seconds must be above 0")
        return _record(args)
    except RecordingError as exc:
        print(f"audiofuse record: {exc}", file=sys.stderr)
        return 2


def _list_devices() -> int:
    from .devices import list_input_devices

    devices = list_input_devices()
    if not devices:
        print("No input device found.", file=sys.stderr)
        return 2
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.name}  [{d.hostapi}, {d.max_channels} ch, "
              f"{d.default_samplerate:g} Hz]")
    return 0


def _recover(folder: Path) -> int:
    from .recovery import find_partial_recordings, recover

    if not folder.is_dir():
        raise RecordingError(f"{folder} is not a folder.")
    status = 0
    partials = find_partial_recordings(folder)
    if not partials:
        print(f"No interrupted recording in {folder}.")
    for partial in partials:
        try:
            done = recover(partial)
        except RecordingError as exc:
            print(f"audiofuse record: {exc}", file=sys.stderr)
            status = 1
            continue
        if done is None:
            print(f"{partial.name}: nothing had been recorded; removed.")
        else:
            print(f"recovered {done.path} ({done.info.duration_s:.1f} s)")
    return status


def _record(args: argparse.Namespace) -> int:
    from .recorder import Recorder

    out = Path(args.out)
    info = RecordingInfo(recording_id=args.id if args.id is not None else out.stem,
                         site=args.site, note=args.note)
    recorder = Recorder(out, device=args.device, samplerate=args.rate, channels=args.channels,
                        bit_depth=args.bit_depth, info=info, max_seconds=args.seconds,
                        overwrite=args.overwrite)
    recorder.start()
    try:  # SIGTERM stops and saves, like Ctrl+C (main thread only)
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:
        previous = None
    progress = not args.quiet and sys.stderr.isatty()
    try:
        if not args.quiet:
            print(f'recording {out.name} from "{recorder.device_name}" at '
                  f"{recorder.samplerate} Hz for {args.seconds:g} s (Ctrl+C stops and saves)",
                  file=sys.stderr)
        while recorder.wait(0.5) is None:
            if progress:
                level = recorder.level()
                print(f"\r  {recorder.elapsed_s:6.1f} / {args.seconds:g} s   level "
                      f"{level.rms_dbfs:6.1f} dBFS   overflows {recorder.overflows}   ",
                      end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        result = recorder.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if progress:
            print(file=sys.stderr)
    assert result is not None
    for warning in result.warnings:
        print(f"audiofuse record: warning: {warning}", file=sys.stderr)
    if result.message:
        print(f"audiofuse record: {result.message}", file=sys.stderr)
    if result.path is None:
        return 2
    print(f"saved {result.path} ({result.info.duration_s:.1f} s at {result.info.samplerate} Hz, "
          f"{result.info.overflows} input overflows) and {result.sidecar}")
    return 0 if result.end_reason in ("duration", "stopped") else 1


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(record_main())
