"""The ``audiofuse`` command line: predict, train, evaluate, reproduce, info, gui, record.

Exit codes: 0 success; 1 some inputs failed (every other input was still processed);
2 the command could not run (bad arguments, missing model, unusable data folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .audio import is_audio_path
from .errors import AudioFuseError
from .feature_expert import FEATURE_SETS, MEMBERS


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["record"]:
        # argparse's REMAINDER drops leading options ("record --device X"): pass them on untouched.
        args = argparse.Namespace(func=cmd_record, rest=argv[1:])
    else:
        args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return int(args.func(args) or 0)
    except AudioFuseError as exc:
        print(f"audiofuse: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\naudiofuse: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audiofuse",
        description="Classify heart-sound recordings as normal or abnormal (decision support, "
                    "not a diagnosis).")
    parser.add_argument("--version", action="version", version=f"audiofuse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("predict", help="classify recordings (files or folders)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files, or folders of them")
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument("--json", action="store_true", help="one JSON object per input and line")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("train", help="train a model on labelled folders")
    p.add_argument("data", nargs="+", metavar="DATA",
                   help="data-set folders (PhysioNet 2016, PASCAL or generic layout)")
    p.add_argument("--preset", default="default", metavar="{default,paper,FILE.json}",
                   help="preset name, or a JSON file with a full preset (research use)")
    p.add_argument("--model", choices=("fusion", "spectrogram", "waveform"), default="fusion")
    p.add_argument("--out", required=True, help="output model file (.keras)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--split-seed", type=int, default=42)
    p.add_argument("--windows-per-record", type=int, default=4)
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--class-weighting", choices=("subset", "global", "none"), default="subset")
    p.add_argument("--select-on", choices=("subset_auc", "auc"), default="subset_auc")
    p.add_argument("--subset-balance", type=float, default=0.0,
                   help="draw subset s in proportion to its size ** this (0 equal, 1 by size)")
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")
    p.add_argument("--fine-tune", metavar="MODEL", help="start from this model's weights")
    p.add_argument("--branch-models", nargs=2, metavar=("SPECTROGRAM", "WAVEFORM"),
                   help="fusion only: start the two experts from these trained single-branch "
                        "models")
    p.add_argument("--freeze-branches", action="store_true",
                   help="with --fine-tune: retrain the head only (the paper's transfer "
                        "protocol); with --branch-models: train only the fusion head")
    p.add_argument("--branch-dropout", type=float, metavar="P",
                   help="fusion only: in training, zero one branch's features (chosen at random) "
                        "for this share of the windows, so the head uses both experts")
    p.add_argument("--domain-adversarial", type=float, default=0.0, metavar="W",
                   help="also train a classifier of each recording's subset (device and site) on "
                        "the features, with its gradient reversed and weighted W, so that the "
                        "encoders unlearn the device (experimental; 0: off)")
    p.add_argument("--subset-ranking", type=float, default=0.0, metavar="W",
                   help="add W times a ranking loss that compares abnormal with normal windows "
                        "of the same subset only, so a device's offset earns nothing "
                        "(experimental; 0: off)")
    p.add_argument("--random-response", type=float, default=0.0, metavar="DB",
                   help="also colour 70 %% of the training windows with a random smooth "
                        "frequency response whose gains (8 frequencies of 25-800 Hz) spread by DB "
                        "dB: another stethoscope for every window (experimental; 0: off)")
    p.add_argument("--weight-average", type=float, default=0.0, metavar="M",
                   help="validate each epoch, and keep the chosen model, with a moving average "
                        "of the weights (momentum M per step, e.g. 0.998); training goes on "
                        "from the raw weights (experimental; 0: off)")
    p.add_argument("--artifact-as-abnormal", action="store_true",
                   help="PASCAL: count 'artifact' recordings as abnormal (the paper's choice)")
    p.add_argument("--run-dir", help="checkpoint folder (default: OUT's name + .run)")
    p.add_argument("--cache-dir", help="cache the prepared recordings here")
    p.add_argument("--resume", action="store_true", help="resume an interrupted run")
    p.add_argument("--no-xla", action="store_true",
                   help="TensorFlow: do not compile the validation pass with XLA (slower; for "
                        "comparison, or a platform where XLA fails)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing OUT and discard an interrupted run of it")
    p.add_argument("--steps-per-epoch", type=int, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a model on labelled folders")
    p.add_argument("model", metavar="MODEL", help="model file")
    p.add_argument("data", nargs="+", metavar="DATA", help="labelled data-set folders")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--report", metavar="DIR", help="write report.json/.md and predictions.csv")
    p.add_argument("--artifact-as-abnormal", action="store_true")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CI")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("refit-threshold",
                       help="copy a model with its threshold refitted on a site's labelled "
                            "recordings")
    p.add_argument("model", metavar="MODEL", help="model file (never changed)")
    p.add_argument("data", nargs="+", metavar="DATA", help="the site's labelled data-set folders")
    p.add_argument("--out", required=True, help="the new model file (.keras; must not exist)")
    p.add_argument("--site", help="the site's name for the model card (default: the folder's)")
    p.add_argument("--artifact-as-abnormal", action="store_true")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CI")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--min-per-class", type=int, default=None, help=argparse.SUPPRESS)  # tests
    p.set_defaults(func=cmd_refit_threshold)

    p = sub.add_parser("combine",
                       help="fuse spectrogram and waveform models by the mean of their "
                            "probabilities",
                       usage="audiofuse combine MODEL.keras [MODEL.keras ...] DATA [DATA ...] "
                             "--out OUT [--cache-dir DIR]")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="the trained single-branch model files (at least one spectrogram and "
                        "one waveform model; several of each make an ensemble of seeds), then "
                        "the data-set folders they were trained on (for the threshold)")
    p.add_argument("--out", required=True, help="the new model file (.keras; must not exist)")
    p.add_argument("--cache-dir", help="cache the prepared recordings here")
    p.set_defaults(func=cmd_combine)

    p = sub.add_parser("add-feature-expert",
                       help="copy a model with a second opinion from the whole recording's "
                            "heart-cycle figures",
                       usage="audiofuse add-feature-expert MODEL.keras DATA [DATA ...] --out OUT "
                             "[--weight W] [--seed S] [--members N] [--cache-dir DIR]")
    p.add_argument("model", metavar="MODEL", help="a trained model file (never changed)")
    p.add_argument("data", nargs="+", metavar="DATA",
                   help="the data-set folders the model was trained on (its training and "
                        "validation recordings)")
    p.add_argument("--out", required=True, help="the new model file (.keras; must not exist)")
    p.add_argument("--weight", type=float, default=0.5,
                   help="the feature expert's share of the probability (0-1; default 0.5)")
    p.add_argument("--feature-set", default=None, choices=FEATURE_SETS,
                   help="the figures the expert reads (default: the first)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--members", type=int, default=MEMBERS,
                   help=f"how many expert MLPs (seeds S, S+1, ...) to average (default {MEMBERS})")
    p.add_argument("--cache-dir", help="cache the recordings' figures and signals here")
    p.set_defaults(func=cmd_add_feature_expert)

    p = sub.add_parser("reproduce", help="the paper's tables for our three models")
    p.add_argument("--physionet", required=True, metavar="DIR",
                   help="PhysioNet 2016 folder (training-a..f, or one of them)")
    p.add_argument("--pascal", metavar="DIR", help="PASCAL CHSC 2011 folder (set_a, set_b)")
    p.add_argument("--models", metavar="DIR",
                   help="folder with audiofuse-{default,spectrogram,waveform}.keras "
                        "(default: the bundled models)")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("info", help="show a model's card")
    p.add_argument("model", nargs="?", help="model file (default: the bundled model)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("gui", help="open the desktop program")
    p.add_argument("files", nargs="*", metavar="FILE", help="recordings to open")
    p.add_argument("--model", metavar="MODEL",
                   help="model file to classify with (default: the active model)")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("record", add_help=False,
                       help="record from an input device (stethoscope) to a file, headless")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_record)
    return parser


# -- predict ------------------------------------------------------------------------------------

def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files as given; folders as the audio files in them (recursively, sorted)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_audio_path(p)))
        else:
            out.append(path)
    return out


def cmd_predict(args: argparse.Namespace) -> int:
    from .inference import Classifier

    inputs = expand_paths(args.paths)
    if not inputs:
        print("audiofuse: no audio files found in the given folder(s)", file=sys.stderr)
        return 2  # nothing to classify: the command could not run (exit codes above)
    classifier = Classifier(args.model)
    failed = 0
    if not args.json:
        print(f"model: {classifier.name} ({classifier.version}), threshold "
              f"{classifier.threshold:.3f}. Decision support only: not a diagnosis.")
    for path in inputs:
        try:
            prediction = classifier.predict_file(path)
        except AudioFuseError as exc:
            failed += 1
            reason = str(exc)
            if args.json:
                print(json.dumps({"path": str(path), "probability": None, "label": None,
                                  "error": reason}), flush=True)
            else:
                print(f"{path}: ERROR {reason}", flush=True)
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file never stops a batch
            failed += 1
            reason = f"unexpected error: {type(exc).__name__}: {exc}".splitlines()[0]
            if args.json:
                print(json.dumps({"path": str(path), "probability": None, "label": None,
                                  "error": reason}), flush=True)
            else:
                print(f"{path}: ERROR {reason}", flush=True)
            continue
        if args.json:
            data = prediction.to_dict()
            data["path"] = str(path)
            data["error"] = None
            print(json.dumps(data), flush=True)
        else:
            print(describe(path, prediction), flush=True)
    return 1 if failed else 0


def describe(path: Path, prediction) -> str:
    """One line for a person: the answer (or why there is none), the rate, the recording."""
    rate = prediction.heart_rate_bpm
    heart = f", heart rate {rate:.0f} bpm" if rate is not None else ""
    where = f"{prediction.duration:.1f} s at {prediction.original_rate} Hz"
    if prediction.label == "poor-quality":
        reason = prediction.quality.reason if prediction.quality is not None else ""
        return f"{path}: POOR QUALITY, please re-record: {reason} ({where}{heart})"
    from .inference import unfamiliar_notice

    notice = unfamiliar_notice(prediction)
    return (f"{path}: {prediction.label.upper()} (p = {prediction.probability:.3f}, "
            f"threshold {prediction.threshold:.3f}; {where}{heart})"
            + (f"\n  NOTE: {notice}" if notice else ""))


# -- train ----------------------------------------------------------------------------------------

def _read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cmd_train(args: argparse.Namespace) -> int:
    from .datasets import scan_many
    from .training import TrainConfig, run_dir_for, train, unfinished_run

    out, run_dir = Path(args.out), run_dir_for(args.out, args.run_dir)
    interrupted = unfinished_run(run_dir)
    if interrupted is not None and not (args.resume or args.overwrite):
        raise AudioFuseError(
            f"{run_dir} holds an interrupted run of {out.name} ({interrupted.get('epoch', 0)} "
            f"epochs done): add --resume to go on with it, or --overwrite to discard it and "
            f"start again")
    if args.resume and args.overwrite:
        raise AudioFuseError("--resume goes on with an interrupted run, --overwrite starts "
                             "again from nothing: choose one")
    if args.resume and interrupted is None:
        # a finished run has nothing to resume: going on would train past its end and replace
        # the model it wrote
        state = run_dir / "state.json"
        why = ("no interrupted run there" if not state.is_file()
               else f"its run finished and wrote {out.name}" if _read_state(state) is not None
               else "its state.json cannot be read")
        raise AudioFuseError(f"{run_dir}: nothing to resume ({why}): leave out --resume, or "
                             "use --overwrite to train again")
    if out.exists() and not (args.resume or args.overwrite):
        raise AudioFuseError(f"{out} exists: choose another --out, or add --overwrite to "
                             f"replace it")
    data = scan_many(args.data, artifact_as_abnormal=args.artifact_as_abnormal)
    print(data.summary(), file=sys.stderr)
    for skipped in data.skipped[:10]:
        print(f"  skipped {skipped.path.name}: {skipped.reason}", file=sys.stderr)
    if len(data.skipped) > 10:
        print(f"  ... and {len(data.skipped) - 10} more skipped", file=sys.stderr)
    data.check_trainable()
    preset: str | dict = args.preset
    if args.preset.endswith(".json"):
        try:
            preset = json.loads(Path(args.preset).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise AudioFuseError(f"{args.preset}: cannot read the preset ({exc})") from None
    config = TrainConfig(
        out=args.out, preset=preset, kind=args.model, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay, val_fraction=args.val_fraction, seed=args.seed,
        split_seed=args.split_seed, windows_per_record=args.windows_per_record,
        patience=args.patience, class_weighting=args.class_weighting, select_on=args.select_on,
        subset_balance=args.subset_balance,
        augment=not args.no_augment, init_model=args.fine_tune,
        freeze_branches=args.freeze_branches, branch_models=args.branch_models,
        branch_dropout=args.branch_dropout, domain_adversarial=args.domain_adversarial,
        subset_ranking=args.subset_ranking, random_response_db=args.random_response,
        weight_average=args.weight_average,
        run_dir=args.run_dir, cache_dir=args.cache_dir,
        resume=args.resume, steps_per_epoch=args.steps_per_epoch, xla=not args.no_xla,
    )
    bar = ProgressBar()
    result = train(config, data.records, progress=bar.update)
    bar.close()
    overall = result.metadata["validation"]["overall"]
    print(f"saved {result.model_path} (best epoch {result.best_epoch}, "
          f"{result.seconds / 60:.1f} min): validation ROC-AUC {_f(overall['roc_auc'])} "
          f"[{_f(overall['roc_auc_low'])}, {_f(overall['roc_auc_high'])}], "
          f"MCC {_f(overall['mcc'])}, threshold {result.metadata['threshold']:.3f}")
    return 0


class ProgressBar:
    """A one-line progress bar on stderr, with epoch results on their own lines."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.epochs_printed = 0
        self.last = 0.0
        # A log file gets one line per epoch; only a terminal gets the live progress bar.
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, p) -> None:
        for row in p.history[self.epochs_printed:]:
            self._line(f"epoch {row['epoch']:>3}: loss {row['loss']:.4f}  val ROC-AUC "
                       f"{_f(row['val_auc'])}  within-subset {_f(row['val_subset_auc'])}  "
                       f"({row['seconds']:.0f} s)\n")
            self.epochs_printed += 1
        now = time.monotonic()
        if not self.live or (now - self.last < 0.2 and p.phase == "training"):
            return
        self.last = now
        if p.phase == "loading":
            self._line(f"\rloading recordings {p.loaded}/{p.to_load}")
        elif p.phase == "training" and p.batches:
            width = 30
            done = int(width * p.batch / p.batches)
            eta = f"  about {p.eta / 60:.0f} min left" if p.eta else ""
            loss = f"  loss {p.loss:.4f}" if p.loss is not None else ""
            self._line(f"\repoch {p.epoch}/{p.epochs} [{'#' * done}{'.' * (width - done)}] "
                       f"{p.batch}/{p.batches}{loss}{eta}   ")
        elif p.phase == "validating":
            self._line(f"\rvalidating epoch {p.epoch}...{' ' * 40}")

    def _line(self, text: str) -> None:
        if text.endswith("\n") and self.live:
            text = "\r" + " " * 100 + "\r" + text
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")


# -- evaluate / info ------------------------------------------------------------------------------

def cmd_evaluate(args: argparse.Namespace) -> int:
    from .datasets import scan_many
    from .evaluation import check_report_folder, evaluate
    from .inference import Classifier

    if args.report:
        check_report_folder(args.report)  # before the scoring, which it would otherwise waste
    data = scan_many(args.data, artifact_as_abnormal=args.artifact_as_abnormal)
    if not data.records:
        raise AudioFuseError(f"no labelled recordings found in {', '.join(args.data)}")
    classifier = Classifier(args.model)

    def tick(i: int, n: int, _result) -> None:
        if not args.json:
            print(f"\rscoring {i}/{n}", end="", file=sys.stderr, flush=True)

    report = evaluate(classifier, data.records, bootstrap=args.bootstrap, progress=tick)
    if not args.json:
        print(file=sys.stderr)
    print(report.to_json() if args.json else report.to_markdown(), flush=True)  # first: kept
    if args.report:
        for path in report.write(args.report):
            print(f"wrote {path}", file=sys.stderr)
    return 1 if report.failed else 0


def cmd_refit_threshold(args: argparse.Namespace) -> int:
    from .datasets import scan_many
    from .site_threshold import MIN_PER_CLASS, refit_threshold

    data = scan_many(args.data, artifact_as_abnormal=args.artifact_as_abnormal)
    if not data.records:
        raise AudioFuseError(f"no labelled recordings found in {', '.join(args.data)}")
    site = args.site or ", ".join(Path(d).resolve().name for d in args.data)

    def tick(i: int, n: int, _result) -> None:
        print(f"\rscoring {i}/{n}", end="", file=sys.stderr, flush=True)

    done = refit_threshold(args.model, data.records, args.out, site=site,
                           bootstrap=args.bootstrap, progress=tick,
                           min_per_class=args.min_per_class or MIN_PER_CLASS)
    print(file=sys.stderr)
    if args.json:
        print(json.dumps({"model": str(done.source), "out": str(done.out), "site": done.site,
                          "threshold_before": done.threshold_before,
                          "threshold_after": done.threshold_after, "before": done.before,
                          "after": done.after}))
    else:
        print(done.to_markdown())
    return 0


def cmd_combine(args: argparse.Namespace) -> int:
    from .datasets import scan_many
    from .ensemble import combine_experts
    from .model_card import render_model_card
    from .modelfile import read_model_metadata

    models = [p for p in args.paths if p.endswith(".keras")]
    folders = [p for p in args.paths if not p.endswith(".keras")]
    if not folders:
        raise AudioFuseError("give the data-set folder the experts were trained on after the "
                             "model files (their validation recordings set the threshold)")
    data = scan_many(folders)
    if not data.records:
        raise AudioFuseError(f"no labelled recordings found in {', '.join(folders)}")
    print("scoring the experts' validation recordings...", file=sys.stderr, flush=True)
    out = combine_experts(models, data.records, args.out, cache_dir=args.cache_dir)
    print(f"wrote {out}", file=sys.stderr)
    print(render_model_card(read_model_metadata(out)))
    return 0


def cmd_add_feature_expert(args: argparse.Namespace) -> int:
    from .datasets import scan_many
    from .feature_expert import DEFAULT_FEATURE_SET, add_feature_expert
    from .model_card import render_model_card
    from .modelfile import read_model_metadata

    data = scan_many(args.data)
    if not data.records:
        raise AudioFuseError(f"no labelled recordings found in {', '.join(args.data)}")

    def tick(what: str, i: int, n: int) -> None:
        print(f"\r{what}: {i}/{n}   ", end="", file=sys.stderr, flush=True)

    out = add_feature_expert(args.model, data.records, args.out,
                             feature_set=args.feature_set or DEFAULT_FEATURE_SET,
                             weight=args.weight, seed=args.seed, epochs=args.epochs,
                             members=args.members, cache_dir=args.cache_dir,
                             progress=tick)
    print(f"\nwrote {out}", file=sys.stderr)
    print(render_model_card(read_model_metadata(out)))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import MODEL_FILES, reproduce

    models = None
    if args.models:
        models = {kind: Path(args.models) / name for kind, name in MODEL_FILES.items()}

    def tick(what: str, i: int, n: int) -> None:
        print(f"\r{what}: {i}/{n}   ", end="", file=sys.stderr, flush=True)

    result = reproduce(args.physionet, args.pascal, models=models, bootstrap=args.bootstrap,
                       progress=tick)
    print(file=sys.stderr)
    print(result.to_markdown())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .model_card import render_model_card
    from .modelfile import read_model_metadata
    from .resources import default_model_path

    path = Path(args.model) if args.model else default_model_path()
    if not path.is_file():
        raise AudioFuseError(f"{path}: model file not found")
    meta = read_model_metadata(path)
    print(json.dumps(meta, indent=1) if args.json else render_model_card(meta))
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    # The desktop program lives in the `app` package, which the core never imports statically
    # (see the import-linter contract): this subcommand is only a launcher.
    from importlib import import_module

    try:
        gui = import_module("app.main")
    except ImportError as exc:
        raise AudioFuseError(f"the desktop program is not installed ({exc})") from None
    argv = list(args.files) + (["--model", args.model] if args.model else [])
    return int(gui.main(argv) or 0)


def cmd_record(args: argparse.Namespace) -> int:
    # Recording needs PortAudio (sounddevice), which the core never imports: the recording
    # engine lives in the app package and parses its own options (--seconds, --out, --device...).
    from importlib import import_module

    try:
        recording = import_module("app.recording.cli")
    except ImportError as exc:
        raise AudioFuseError(f"recording is not available ({exc})") from None
    return int(recording.record_main(list(args.rest)) or 0)


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
