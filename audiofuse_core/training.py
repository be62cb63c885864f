"""Training: recording-level split, window sampling, augmentation, checkpoints that survive a kill.

``train(config, records, progress=..., should_stop=...)`` is the one entry point, used by the
command line and the app alike. What it does, in order:

1. load every recording once (resampled to the preset's rate), skipping unreadable
   ones with a reason; a cache file makes the next run start in seconds;
2. split by recording, stratified by subset and label, with a fixed seed (or reuse a model's
   split when fine-tuning);
3. each epoch draws ``windows_per_record`` x (number of recordings) random windows, choosing the
   recordings so that the classes are balanced within each subset and small subsets are not
   drowned by large ones (a subset's abnormal rate, which differs wildly between PhysioNet's
   devices and sites, is then no shortcut), and augments them;
4. after each epoch it scores every validation recording on all its windows (mean probability),
   computes the ROC-AUC overall and within each subset, keeps the best model by the chosen
   criterion, and stops after ``patience`` epochs without progress;
5. writes ``last.keras`` (with optimizer state), ``best.keras`` and ``state.json`` atomically in
   the run folder at every epoch end: a run killed at any moment resumes from its last epoch;
6. at the end, sets the decision threshold on validation (Youden's J), fits a temperature for
   calibrated probabilities, and saves the best model, with its model card, to ``out``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .audio import load_audio
from .datasets import Record
from .errors import AudioFuseError, TrainingError
from .features import filter_windows, model_windows, prepare_signal
from .metrics import best_threshold, binary_metrics, expected_calibration_error, roc_auc
from .presets import MODEL_KINDS, Preset, get_preset, merge_expert_presets


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the model's card)."""

    out: str
    preset: str | dict[str, Any] = "default"  # a preset name, or a full preset as a dict
    kind: str = "fusion"
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 5e-4
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    seed: int = 42
    split_seed: int = 42
    class_weighting: str = "subset"  # "subset", "global" or "none"
    subset_balance: float = 0.0  # subset s is drawn in proportion to n_s ** this (1: its size)
    augment: bool = True
    windows_per_record: int = 4
    patience: int = 8
    select_on: str = "subset_auc"  # "subset_auc" (mean within-subset ROC-AUC) or "auc"
    run_dir: str | None = None  # checkpoints; default: <out>.run beside the output
    resume: bool = False
    init_model: str | None = None  # fine-tune from this model (its preset is used)
    freeze_branches: bool = False  # with init_model: train the head only (the paper's transfer)
    # A fusion model whose two experts start from trained single-branch models
    # (spectrogram model, waveform model) of the same preset; with freeze_branches only the
    # fusion head learns.
    branch_models: list[str] | None = None
    branch_dropout: float | None = None  # fusion: override the preset's branch dropout
    # Domain-adversarial training: the weight of the reversed gradient from a classifier that
    # tells the training recording's subset (device and site) from the features; 0: off.
    domain_adversarial: float = 0.0
    # The weight of a ranking loss between abnormal and normal windows of the same subset, added
    # to the cross-entropy (models.WithinSubsetRanking); 0: off.
    subset_ranking: float = 0.0
    # The spread in dB of a random smooth frequency response added to the augmentation of
    # each training window (augment.random_response: another stethoscope's colouring); 0: off.
    random_response_db: float = 0.0
    # The momentum per step of an exponential moving average of the trained weights (Keras's
    # optimizer EMA): each epoch is validated, and the chosen model saved, with the averaged
    # weights, while training goes on from the raw ones; 0: off.
    weight_average: float = 0.0
    cache_dir: str | None = None
    validation_records: list[str] | None = None  # explicit validation names (stems)
    max_validation_windows: int = 24  # per recording, evenly spaced, to bound validation time
    steps_per_epoch: int | None = None  # cap (tests, smoke runs)
    devices: list[str] | None = None  # tf.distribute devices, e.g. ["/cpu:0", "/cpu:1"]
    # TensorFlow on one device: compile the validation pass of every epoch with XLA (the same
    # logits to 1e-5, about twice as fast; docs/benchmarks.md) when it has at least
    # XLA_MIN_WINDOWS windows; off: the plain call. The
    # training step stays TensorFlow's plain graph (XLA gained nothing certain there).
    xla: bool = True

    def check(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise TrainingError(f"unknown model {self.kind!r}; choose one of {MODEL_KINDS}")
        if self.class_weighting not in ("subset", "global", "none"):
            raise TrainingError(f"unknown class weighting {self.class_weighting!r}")
        if self.select_on not in ("subset_auc", "auc"):
            raise TrainingError(f"unknown selection criterion {self.select_on!r}")
        if self.branch_dropout is not None and not 0.0 <= self.branch_dropout < 1.0:
            raise TrainingError("the branch dropout must be at least 0 and below 1")
        if not 0.0 <= self.domain_adversarial <= 10.0:
            raise TrainingError("the domain-adversarial weight must be between 0 and 10")
        if self.domain_adversarial and (self.freeze_branches or self.kind == "fusion"
                                        and self.branch_models):
            raise TrainingError("domain-adversarial training changes the encoders: it cannot "
                                "train a head on frozen or given experts")
        if not 0.0 <= self.subset_ranking <= 10.0:
            raise TrainingError("the within-subset ranking weight must be between 0 and 10")
        if not 0.0 <= self.random_response_db <= 12.0:
            raise TrainingError("the random response's spread must be between 0 and 12 dB")
        if self.weight_average and not 0.9 <= self.weight_average < 1.0:
            raise TrainingError("the weight average's momentum must be at least 0.9 and below 1 "
                                "(0: off)")
        if self.random_response_db and not self.augment:
            raise TrainingError("a random frequency response is part of the augmentation: "
                                "it needs augmentation on")
        if self.subset_ranking and self.domain_adversarial:
            raise TrainingError("choose one of within-subset ranking and domain-adversarial "
                                "training, not both")
        if not 0.0 < self.val_fraction < 0.9:
            raise TrainingError("the validation fraction must be between 0 and 0.9")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise TrainingError("epochs, batch size and learning rate must be positive")
        if not str(self.out).endswith(".keras"):
            raise TrainingError(f"{self.out}: the output model file must end in .keras")


@dataclass
class TrainingProgress:
    """What a progress callable receives, at most every few tenths of a second and at each epoch."""

    phase: str  # "loading", "training", "validating", "finished"
    epoch: int = 0  # 1-based
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    loaded: int = 0
    to_load: int = 0
    loss: float | None = None
    elapsed: float = 0.0
    eta: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    message: str = ""


@dataclass
class TrainResult:
    model_path: Path
    run_dir: Path
    metadata: dict[str, Any]
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    seconds: float
    skipped: list[tuple[str, str]]


ProgressFn = Callable[[TrainingProgress], None]
StopFn = Callable[[], bool]


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

@dataclass
class LoadedData:
    records: list[Record]
    signals: list[np.ndarray]
    skipped: list[tuple[str, str]]


def load_signals(records: Sequence[Record], preset: Preset, *, cache_dir: str | Path | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 should_stop: StopFn | None = None) -> LoadedData:
    """Read and prepare every recording (whole, or its first window for the paper preset)."""
    cache = _cache_path(records, preset, cache_dir)
    if cache is not None and cache.is_file():
        with contextlib.suppress(Exception):
            return _read_cache(cache, records)
    kept, signals, skipped = [], [], []
    limit = None if preset.whole_recording else preset.window_samples
    for i, record in enumerate(records):
        if should_stop is not None and should_stop():
            raise TrainingError("cancelled while loading the recordings")
        try:
            audio = load_audio(record.path, sample_rate=None, min_seconds=preset.min_seconds)
            signal = prepare_signal(audio.samples, audio.sample_rate, preset)
        except AudioFuseError as exc:
            skipped.append((str(record.path), str(exc)))
        else:
            kept.append(record)
            signals.append(signal[:limit] if limit else signal)
        if progress is not None:
            progress(i + 1, len(records))
    data = LoadedData(kept, signals, skipped)
    if cache is not None:
        with contextlib.suppress(OSError):
            _write_cache(cache, data)
    return data


def _cache_path(records: Sequence[Record], preset: Preset, cache_dir: str | Path | None):
    if cache_dir is None:
        return None
    digest = hashlib.sha256()
    signal_keys = ("sample_rate", "whole_recording", "window_seconds", "min_seconds")
    digest.update(b"unfiltered-v2")
    digest.update(json.dumps({k: preset.to_dict()[k] for k in signal_keys}).encode())
    for record in records:
        stat = record.path.stat() if record.path.exists() else None
        digest.update(f"{record.path}|{stat.st_size if stat else 0}|"
                      f"{stat.st_mtime_ns if stat else 0}\n".encode())
    return Path(cache_dir) / f"signals-{digest.hexdigest()[:16]}.npz"


def _write_cache(path: Path, data: LoadedData) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(s) for s in data.signals], dtype=np.int64)
    joined = np.concatenate(data.signals) if data.signals else np.zeros(0, np.float32)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(handle)
    np.savez(tmp, signal=joined, lengths=lengths,
             kept=np.array([str(r.path) for r in data.records]),
             skipped=np.array([json.dumps(s) for s in data.skipped]))
    os.replace(tmp, path)


def _read_cache(path: Path, records: Sequence[Record]) -> LoadedData:
    with np.load(path) as archive:
        joined, lengths = archive["signal"], archive["lengths"]
        kept_paths = [str(p) for p in archive["kept"]]
        skipped = [tuple(json.loads(s)) for s in archive["skipped"]]
    by_path = {str(r.path): r for r in records}
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    signals = [joined[offsets[i]:offsets[i + 1]] for i in range(len(lengths))]
    return LoadedData([by_path[p] for p in kept_paths], signals, skipped)  # type: ignore[misc]


def split_records(records: Sequence[Record], val_fraction: float, seed: int,
                  *, validation_names: Sequence[str] | None = None) -> tuple[list[int], list[int]]:
    """Indices (train, validation), stratified by (subset, label), by recording.

    Each stratum of at least two recordings gives at least one to validation.
    """
    if validation_names is not None:
        wanted = set(validation_names)
        val = [i for i, r in enumerate(records) if r.name in wanted]
        train = [i for i, r in enumerate(records) if r.name not in wanted]
        return train, val
    rng = np.random.default_rng(seed)
    strata: dict[tuple[str, int], list[int]] = {}
    for i, record in enumerate(records):
        strata.setdefault((record.subset, record.label), []).append(i)
    train, val = [], []
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda i: records[i].name)
        rng.shuffle(members)
        n_val = int(round(len(members) * val_fraction))
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        else:
            n_val = 0
        val.extend(members[:n_val])
        train.extend(members[n_val:])
    return sorted(train), sorted(val)


def _load_experts(config: TrainConfig):
    """The (spectrogram, waveform) single-branch models a fusion model starts from."""
    from .models import load_model

    if config.kind != "fusion" or config.init_model:
        raise TrainingError("branch models build a fusion model from scratch: use them with "
                            "--model fusion and without --fine-tune")
    if len(config.branch_models) != 2:
        raise TrainingError("give two branch models: a spectrogram model, then a waveform model")
    experts = [load_model(path) for path in config.branch_models]
    for expert, kind, path in zip(experts, ("spectrogram", "waveform"), config.branch_models):
        if expert.kind != kind:
            raise TrainingError(f"{path}: a {expert.kind} model where a {kind} model is needed")
    try:
        preset = merge_expert_presets(experts[0].preset, experts[1].preset)
    except AudioFuseError as error:
        raise TrainingError(str(error)) from None
    return experts, preset


def class_weights(records: Sequence[Record], scheme: str,
                  subset_balance: float = 1.0) -> np.ndarray:
    """How often each recording is drawn (mean 1).

    ``subset``: the classes are balanced within each subset, and each subset's total is
    proportional to ``n_subset ** subset_balance`` (1 keeps subsets at their size, 0 makes them
    equal); ``global``: the classes are balanced over all records; ``none``: uniform.
    """
    n = len(records)
    weights = np.ones(n, dtype=np.float64)
    if scheme == "none" or n == 0:
        return weights.astype(np.float32)
    groups: dict[Any, list[int]] = {}
    for i, record in enumerate(records):
        key = record.subset if scheme == "subset" else "all"
        groups.setdefault(key, []).append(i)
    for members in groups.values():
        labels = np.array([records[i].label for i in members])
        present = len(set(labels.tolist()))
        mass = len(members) ** (subset_balance if scheme == "subset" else 1.0)
        for label in (0, 1):
            count = int((labels == label).sum())
            if count:
                weights[np.array(members)[labels == label]] = mass / (present * count)
    return (weights / weights.mean()).astype(np.float32)


def _validation_windows(signals: list[np.ndarray], preset: Preset, cap: int):
    """All (up to ``cap`` evenly spaced) windows of each validation recording, and their owner."""
    windows, owners = [], []
    for i, signal in enumerate(signals):
        w, _ = model_windows(signal, preset)
        if cap and len(w) > cap:
            w = w[np.linspace(0, len(w) - 1, cap).round().astype(int)]
        windows.append(w)
        owners.append(np.full(len(w), i))
    return np.concatenate(windows), np.concatenate(owners)


def _make_sequence(signals, labels, weights, preset: Preset, config: TrainConfig,
                   domains: np.ndarray | None = None):
    import keras

    from .augment import augment_window

    class WindowSequence(keras.utils.PyDataset):
        """Random windows of every training recording; deterministic for (seed, epoch, batch)."""

        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self.size = len(signals) * config.windows_per_record
            self.probabilities = weights / weights.sum()
            self._order = self._permutation()

        def _permutation(self) -> np.ndarray:
            """Draw the recordings of this epoch in proportion to their balancing weights (so a
            rare class or a small subset yields more distinct windows, not heavier ones).
            """
            rng = np.random.default_rng([config.seed, self.epoch])
            return rng.choice(len(signals), size=self.size, p=self.probabilities)

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch
            self._order = self._permutation()

        def __len__(self) -> int:
            full = math.ceil(self.size / config.batch_size)
            return min(full, config.steps_per_epoch) if config.steps_per_epoch else full

        def __getitem__(self, index: int):
            chosen = self._order[index * config.batch_size:(index + 1) * config.batch_size]
            rng = np.random.default_rng([config.seed, self.epoch, index])
            n = preset.window_samples
            batch = np.zeros((len(chosen), n), dtype=np.float32)
            for row, item in enumerate(chosen):
                signal = signals[item]
                start = int(rng.integers(0, max(1, len(signal) - n + 1)))
                if config.augment:
                    batch[row] = augment_window(
                        signal, start, n, preset.sample_rate, rng,
                        response_db=config.random_response_db)
                else:
                    piece = signal[start:start + n]
                    batch[row, :len(piece)] = piece
            y = labels[chosen].astype(np.float32)[:, None]
            if domains is not None:  # [label, subset]: DomainAdversarial, WithinSubsetRanking
                y = np.concatenate([y, domains[chosen].astype(np.float32)[:, None]], axis=1)
            return filter_windows(batch, preset), y

        def on_epoch_end(self) -> None:
            self.set_epoch(self.epoch + 1)

    return WindowSequence()


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------

def get_strategy(devices: Sequence[str] | None = None):
    """A ``tf.distribute`` strategy: several workers via ``TF_CONFIG``, several GPUs, or the
    given devices; the default (one device) otherwise. ``None`` on a non-TensorFlow backend.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices:
        return tf.distribute.MirroredStrategy(list(devices))
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def run_dir_for(out: str | Path, run_dir: str | Path | None = None) -> Path:
    """The checkpoint folder of a run writing ``out``: ``run_dir``, else OUT's name + ``.run``."""
    out = Path(out)
    return Path(run_dir) if run_dir else out.with_name(out.stem + ".run")


def unfinished_run(run_dir: str | Path) -> dict[str, Any] | None:
    """The saved state of an interrupted run in ``run_dir`` (None when there is none, or the
    run there finished).
    """
    state = _read_json(Path(run_dir) / "state.json")
    return state if state is not None and not state.get("finished") else None


def train(config: TrainConfig, records: Sequence[Record], *, progress: ProgressFn | None = None,
          should_stop: StopFn | None = None) -> TrainResult:
    """Train one model on ``records``; see the module docstring for what happens."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    config.check()
    started = time.monotonic()
    out = Path(config.out)
    run_dir = run_dir_for(out, config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    state = _read_json(state_path) if (config.resume and state_path.is_file()) else None
    if config.resume and state is None:
        raise TrainingError(f"{run_dir}: nothing to resume (no state.json)")
    if state is None and state_path.exists():
        state_path.unlink()  # a fresh run never mixes with an older one's checkpoints

    import keras

    from .models import (
        AudioFuseModel,
        DomainAdversarial,
        WithinSubsetRanking,
        build_model,
        class_and_domain_loss,
        copy_weights,
        load_model,
        save_model,
    )

    base_model = load_model(config.init_model) if config.init_model else None
    experts, expert_preset = _load_experts(config) if config.branch_models else (None, None)
    if base_model is not None:
        preset = base_model.preset
    elif experts is not None:
        preset = expert_preset
        config.preset = preset.name
    elif isinstance(config.preset, dict):
        preset = Preset.from_dict(config.preset)
    else:
        preset = get_preset(config.preset)
    if base_model is not None:
        config.preset = preset.name
        if config.kind != base_model.kind:
            config.kind = base_model.kind
    if config.kind == "fusion" and preset.fusion_rule == "mean" and base_model is None:
        raise TrainingError("a mean-of-experts fusion is not trained from scratch: train a "
                            "spectrogram and a waveform model, then combine them (audiofuse "
                            "combine); an existing one can be fine-tuned")
    if config.branch_dropout is not None:
        if config.kind != "fusion":
            raise TrainingError("branch dropout needs a fusion model: it drops one of two branches")
        preset = preset.replace(branch_dropout=float(config.branch_dropout))

    def report(p: TrainingProgress) -> None:
        if progress is not None:
            p.elapsed = time.monotonic() - started
            progress(p)

    # 1. data
    data = load_signals(records, preset, cache_dir=config.cache_dir, should_stop=should_stop,
                        progress=lambda i, n: report(TrainingProgress("loading", loaded=i,
                                                                      to_load=n)))
    validation_names = config.validation_records
    train_idx, val_idx = split_records(data.records, config.val_fraction, config.split_seed,
                                       validation_names=validation_names)
    train_records = [data.records[i] for i in train_idx]
    val_records = [data.records[i] for i in val_idx]
    for name, part in (("training", train_records), ("validation", val_records)):
        if len({r.label for r in part}) < 2:
            raise TrainingError(
                f"the {name} part needs both normal and abnormal recordings; "
                f"found {len(part)} recording(s) of one class (use more data)")
    train_signals = [data.signals[i] for i in train_idx]
    val_signals = [data.signals[i] for i in val_idx]
    train_labels = np.array([r.label for r in train_records])
    val_labels = np.array([r.label for r in val_records])
    weights = class_weights(train_records, config.class_weighting, config.subset_balance)
    val_windows, val_owner = _validation_windows(val_signals, preset,
                                                 config.max_validation_windows)

    # 2. model, under a distribution strategy
    strategy = get_strategy(config.devices)
    xla = (config.xla and strategy is not None and strategy.num_replicas_in_sync == 1
           and len(val_windows) >= XLA_MIN_WINDOWS)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    domain_names = sorted({r.subset for r in train_records})
    if config.domain_adversarial and (len(domain_names) < 2 or preset.fusion_rule == "mean"):
        raise TrainingError(
            "domain-adversarial training needs recordings of at least two subsets (devices or "
            "sites) in the training part" if len(domain_names) < 2 else
            "domain-adversarial training needs a model with one feature vector, not a "
            "mean-of-experts fusion: train its experts that way, then combine them")
    domains = (np.array([domain_names.index(r.subset) for r in train_records])
               if config.domain_adversarial or config.subset_ranking else None)
    sequence = _make_sequence(train_signals, train_labels, weights, preset, config, domains)
    initial_epoch = 0
    history: list[dict[str, float]] = []
    best = {"epoch": 0, "score": -np.inf}
    with scope:
        if state is not None and config.domain_adversarial:
            model = keras.saving.load_model(str(run_dir / "last.keras"), compile=True,
                                             safe_mode=True)
            initial_epoch = int(state["epoch"])
            history = list(state["history"])
            best = dict(state["best"])
        elif state is not None:
            model = load_model(run_dir / "last.keras", compile=True)
            initial_epoch = int(state["epoch"])
            history = list(state["history"])
            best = dict(state["best"])
        else:
            if base_model is not None:
                model = AudioFuseModel.from_config(_without_feature_expert(
                    base_model.get_config(), Path(config.init_model).name))
                model.build((None, preset.window_samples))
                copy_weights(base_model, model, every="target")
            else:
                model = build_model(preset, config.kind, seed=config.seed)
            if experts is not None:
                model.spectrogram_encoder.set_weights(experts[0].spectrogram_encoder.get_weights())
                model.waveform_encoder.set_weights(experts[1].waveform_encoder.get_weights())
            if config.freeze_branches:
                members = model.members or [model]  # a mean-of-experts fusion: each member's
                for member in members:  # encoder is frozen, its own head learns
                    for encoder in (member.spectrogram_encoder, member.waveform_encoder):
                        if encoder is not None:
                            encoder.trainable = False
            loss = keras.losses.BinaryCrossentropy(from_logits=True)
            if config.subset_ranking:
                loss = WithinSubsetRanking(config.subset_ranking)
            if config.domain_adversarial:
                model = DomainAdversarial(model, len(domain_names), config.domain_adversarial,
                                          name="domain_adversarial")
                model.build((None, preset.window_samples))
                loss = class_and_domain_loss
            model.compile(
                optimizer=keras.optimizers.AdamW(
                    learning_rate=config.learning_rate, weight_decay=config.weight_decay,
                    clipnorm=1.0, use_ema=bool(config.weight_average),
                    ema_momentum=config.weight_average),
                loss=loss,
            )
    # the model proper; a DomainAdversarial wrapper only trains it
    core = model.base if isinstance(model, DomainAdversarial) else model
    keras.utils.set_random_seed(config.seed + initial_epoch)
    sequence.set_epoch(initial_epoch)
    if initial_epoch >= config.epochs or (
            state is not None and state.get("finished")):
        initial_epoch = config.epochs

    forwards: dict[int, Callable] = {}  # a compiled validation pass per model of this run

    def score_validation(m, *, interruptible: bool = False) -> tuple[dict[str, float], np.ndarray]:
        if id(m) not in forwards:
            forwards[id(m)] = _forward(m, preset.window_samples, xla)
        forward = forwards[id(m)]
        logits = _predict_windows(m, val_windows, config.batch_size * 2, forward=forward,
                                  should_stop=should_stop if interruptible else None)
        probs = 1.0 / (1.0 + np.exp(-logits))
        per_record = np.array([probs[val_owner == i].mean() for i in range(len(val_records))])
        if not np.isfinite(per_record).all():  # the weights diverged: this epoch has no score
            nan = float("nan")
            return {"val_loss": nan, "val_auc": nan, "val_subset_auc": nan}, per_record
        eps = 1e-7
        bce = -np.mean(val_labels * np.log(per_record + eps)
                       + (1 - val_labels) * np.log(1 - per_record + eps))
        subsets = _subset_aucs(val_records, per_record)
        values = {"val_loss": float(bce), "val_auc": roc_auc(val_labels, per_record),
                  "val_subset_auc": float(np.mean(list(subsets.values()))) if subsets
                  else roc_auc(val_labels, per_record)}
        values.update({f"val_auc_{k}": v for k, v in subsets.items()})
        return values, per_record

    class EpochEnd(keras.callbacks.Callback):
        """Validate, checkpoint atomically, early-stop, report; honour should_stop per batch."""

        def __init__(self) -> None:
            super().__init__()
            self.batch_started = time.monotonic()
            self.last_report = 0.0
            self.stopped_by_user = False
            self.epoch_started = time.monotonic()
            self.wait = 0 if state is None else int(state.get("wait", 0))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            if should_stop is not None and should_stop():
                self.stopped_by_user = True
                self.model.stop_training = True
            now = time.monotonic()
            if progress is not None and (now - self.last_report > 0.25 or batch == 0):
                self.last_report = now
                done = (batch + 1) / max(1, len(sequence))
                per_epoch = (now - self.epoch_started) / max(done, 1e-6)
                epoch_index = len(history)
                remaining = per_epoch * (1 - done) + per_epoch * (config.epochs - epoch_index - 1)
                report(TrainingProgress("training", epoch=epoch_index + 1, epochs=config.epochs,
                                        batch=batch + 1, batches=len(sequence),
                                        loss=float((logs or {}).get("loss", float("nan"))),
                                        eta=remaining, history=list(history),
                                        best_epoch=best["epoch"] or None))

        def on_epoch_end(self, epoch, logs=None):
            if self.stopped_by_user and len(history) > 0:
                return  # a partial epoch is not scored; the best so far stands
            report(TrainingProgress("validating", epoch=epoch + 1, epochs=config.epochs,
                                    history=list(history)))
            with _averaged_weights(self.model):  # the weight average, where there is one
                try:
                    values, _ = score_validation(core, interruptible=True)
                except _StopRequested:
                    # a stop during validation: this epoch is not scored, the best so far stands
                    self.stopped_by_user = True
                    self.model.stop_training = True
                    return
                row = {"epoch": epoch + 1, "loss": float((logs or {}).get("loss", float("nan"))),
                       "seconds": time.monotonic() - self.epoch_started, **values}
                history.append(row)
                score = values["val_subset_auc" if config.select_on == "subset_auc"
                               else "val_auc"]
                if np.isfinite(score) and score > best["score"] + 1e-4:
                    best.update(epoch=epoch + 1, score=float(score))
                    save_model(core, run_dir / "best.keras")
                    self.wait = 0
                else:
                    self.wait += 1
            save_model(self.model, run_dir / "last.keras", include_optimizer=True)
            _write_json(state_path, {"epoch": epoch + 1, "history": history, "best": best,
                                     "wait": self.wait, "config": asdict(config),
                                     "finished": False, "seconds": elapsed_in_all()})
            if self.wait >= config.patience:
                self.model.stop_training = True
            report(TrainingProgress("training", epoch=epoch + 1, epochs=config.epochs,
                                    batch=len(sequence), batches=len(sequence),
                                    history=list(history), best_epoch=best["epoch"] or None,
                                    loss=row["loss"]))

    def elapsed_in_all() -> float:
        """Seconds of training so far: this run and the runs it resumes (state.json)."""
        return time.monotonic() - started + float(state.get("seconds", 0.0) if state else 0.0)

    callback = EpochEnd()
    if initial_epoch < config.epochs and callback.wait < config.patience:
        model.fit(sequence, epochs=config.epochs, initial_epoch=initial_epoch, verbose=0,
                  callbacks=[callback], shuffle=False)
    if not (run_dir / "best.keras").is_file():
        if not callback.stopped_by_user:
            raise TrainingError("training ended without a validated model")
        # stopped during the first epoch: validate what there is, so "stop early" keeps a model
        values, _ = score_validation(core)
        if not np.isfinite(values["val_auc"]):
            raise TrainingError("the model's weights diverged before it was stopped (its output "
                                "is not a number): there is nothing to keep; train again with "
                                "a lower learning rate")
        history.append({"epoch": 1, "loss": float("nan"), "seconds": 0.0, **values})
        best.update(epoch=1, score=float(values["val_auc"]))
        save_model(core, run_dir / "best.keras")

    # 3. finish: threshold and temperature on validation, model card, atomic save
    report(TrainingProgress("validating", epoch=len(history), epochs=config.epochs,
                            history=list(history), message="choosing the threshold"))
    best_model = load_model(run_dir / "best.keras")
    logits = _predict_windows(best_model, val_windows, config.batch_size * 2,
                              forward=_forward(best_model, preset.window_samples, xla))
    forwards.clear()
    calibration = calibrate(val_records, logits, val_owner, seed=config.seed)
    seconds = elapsed_in_all()
    metadata = dict(best_model.metadata)
    metadata.update({
        "name": out.stem,
        "version": datetime.now(UTC).strftime("%Y.%m.%d-%H%M"),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "threshold": calibration.threshold,
        "threshold_rule": THRESHOLD_RULE,
        "temperature": calibration.temperature,
        "aggregation": "mean of window probabilities",
        "training": {k: v for k, v in asdict(config).items()
                     if k not in ("validation_records", "devices", "cache_dir")},
        "data": _describe_data(train_records, val_records, data.skipped),
        "split": {"unit": "recording", "stratified_by": ["subset", "label"],
                  "val_fraction": config.val_fraction, "seed": config.split_seed,
                  "validation_records": sorted(r.name for r in val_records),
                  "training_records": sorted(r.name for r in train_records)},
        "validation": calibration.validation,
        "history": history,
        "best_epoch": int(best["epoch"]),
        "training_seconds": round(seconds, 1),
        "intended_use": "Decision support for heart-sound auscultation, not a diagnosis.",
        "project_version": _project_version(),
        "backend": keras.backend.backend(),
    })
    best_model.metadata = metadata
    save_model(best_model, out)
    state_now = _read_json(state_path) or {}
    state_now.update(finished=True, seconds=seconds, out=str(out))
    _write_json(state_path, state_now)
    report(TrainingProgress("finished", epoch=len(history), epochs=config.epochs,
                            history=list(history), best_epoch=int(best["epoch"])))
    return TrainResult(model_path=out, run_dir=run_dir, metadata=metadata, history=history,
                       best_epoch=int(best["epoch"]), stopped_early=callback.stopped_by_user,
                       seconds=seconds, skipped=data.skipped)


THRESHOLD_RULE = ("maximises Youden's J (sensitivity + specificity - 1) on the validation "
                  "recordings")


@dataclass
class Calibration:
    """A model's temperature and threshold fitted on its validation recordings, and its figures
    there (``validation`` is the model card's block).
    """

    temperature: float
    threshold: float
    validation: dict[str, Any]


@contextlib.contextmanager
def _averaged_weights(model):
    """Within the block, ``model``'s trainable weights are its optimizer's moving average
    (nothing changes without one); afterwards the raw weights training goes on from.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        yield
        return
    variables = model.trainable_variables
    raw = [v.numpy() for v in variables]
    optimizer.finalize_variable_values(variables)
    try:
        yield
    finally:
        for variable, value in zip(variables, raw, strict=True):
            variable.assign(value)


def calibrate(records: Sequence[Record], logits: np.ndarray, owner: np.ndarray, *,
              seed: int = 0) -> Calibration:
    """Fit the temperature (recording-level log-loss) and the threshold (Youden's J) on the
    window ``logits`` of ``records`` (``owner[k]``: the record of window k), and measure the
    result overall and within each subset that holds both classes.
    """
    labels = np.array([r.label for r in records])
    by_record = val_windows_logits_by_record(logits, owner, len(records))
    temperature = fit_temperature(labels, by_record)
    raw = np.array([(1 / (1 + np.exp(-x))).mean() for x in by_record])
    probs = np.array([(1 / (1 + np.exp(-x / temperature))).mean() for x in by_record])
    threshold = best_threshold(labels, probs)
    subsets = {}
    for subset in sorted({r.subset for r in records}):
        mask = np.array([r.subset == subset for r in records])
        if len(set(labels[mask])) == 2:
            subsets[subset] = binary_metrics(labels[mask], probs[mask], threshold,
                                             seed=seed).to_dict()
    return Calibration(float(temperature), float(threshold), {
        "overall": binary_metrics(labels, probs, threshold, seed=seed).to_dict(),
        "per_subset": subsets,
        "ece_before_calibration": expected_calibration_error(labels, raw),
        "ece_after_calibration": expected_calibration_error(labels, probs),
    })


def val_windows_logits_by_record(logits: np.ndarray, owner: np.ndarray, n: int) -> list[np.ndarray]:
    return [logits[owner == i] for i in range(n)]


def fit_temperature(labels: np.ndarray, window_logits: list[np.ndarray]) -> float:
    """Temperature scaling: the T minimising the recording-level negative log-likelihood of
    mean(sigmoid(logit / T)), searched on a log grid (robust, no optimiser state).
    """
    labels = np.asarray(labels, dtype=np.float64)
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 121)):
        p = np.array([np.mean(1 / (1 + np.exp(-w / t))) for w in window_logits])
        p = np.clip(p, 1e-6, 1 - 1e-6)
        nll = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


class _StopRequested(Exception):
    """``should_stop`` became true while the validation recordings were being scored."""


# Below this many validation windows, compiling the pass (a few seconds per batch shape) costs
# more than it saves: a tiny run (a test, a small folder) keeps the plain call.
XLA_MIN_WINDOWS = 1024


def _forward(model, window_samples: int, xla: bool) -> Callable:
    """The model's inference pass, compiled with XLA when ``xla`` (TensorFlow, one device; it
    compiles once per batch shape and reads the current weights at every call), else the plain
    call. A direct call, not predict_on_batch: under a MirroredStrategy the latter returns each
    replica's copy of a plain numpy batch.
    """
    if not xla:
        return lambda x: model(x, training=False)
    import tensorflow as tf

    signature = [tf.TensorSpec([None, window_samples], tf.float32)]
    return tf.function(lambda x: model(x, training=False), input_signature=signature,
                       jit_compile=True)


def _predict_windows(model, windows: np.ndarray, batch_size: int, *,
                     forward: Callable | None = None,
                     should_stop: StopFn | None = None) -> np.ndarray:
    import keras

    forward = forward or (lambda x: model(x, training=False))
    out = []
    for start in range(0, len(windows), batch_size):
        if should_stop is not None and should_stop():
            raise _StopRequested()
        logits = forward(windows[start:start + batch_size])
        out.append(keras.ops.convert_to_numpy(logits).reshape(-1))
    return np.concatenate(out).astype(np.float64)


def _subset_aucs(records: Sequence[Record], scores: np.ndarray, minimum: int = 5) -> dict:
    """ROC-AUC within each subset that has at least ``minimum`` recordings of each class."""
    result = {}
    for subset in sorted({r.subset for r in records}):
        mask = np.array([r.subset == subset for r in records])
        labels = np.array([r.label for r in records])[mask]
        if min((labels == 0).sum(), (labels == 1).sum()) >= minimum:
            result[subset] = roc_auc(labels, scores[mask])
    return result


def _without_feature_expert(config: dict[str, Any], source: str) -> dict[str, Any]:
    """A model config without its heart-cycle feature expert: fine-tuning retrains the network,
    whose threshold and calibration then no longer suit the expert's mean with it.
    """
    metadata = dict(config.get("metadata") or {})
    if metadata.pop("feature_expert", None) is None:
        return config
    metadata.pop("network", None)
    metadata["feature_expert_dropped"] = source
    return {**config, "metadata": metadata}


def _describe_data(train_records, val_records, skipped) -> dict[str, Any]:
    def counts(part):
        table: dict[str, dict[str, int]] = {}
        for r in part:
            row = table.setdefault(r.subset, {"normal": 0, "abnormal": 0})
            row["abnormal" if r.label else "normal"] += 1
        return table

    datasets = sorted({r.dataset for r in [*train_records, *val_records]})
    return {"datasets": datasets, "train": counts(train_records),
            "validation": counts(val_records), "skipped": len(skipped),
            "n_train": len(train_records), "n_validation": len(val_records)}


def _project_version() -> str:
    from . import __version__

    return __version__


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_json(path: Path, data: dict) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(handle, "w") as stream:
        json.dump(data, stream, indent=1, default=_json_default)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")
