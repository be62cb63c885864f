"""A second opinion from the whole recording: an expert on figures of the heart cycle.

The network hears 5 s windows one at a time and averages them; it never sees the recording's
heart cycle as a whole. This expert does: :mod:`audiofuse_core.cycle_features` segments the
recording into S1, systole, S2 and diastole and describes it by how each phase differs from the
others band by band (a murmur fills systole or diastole), by its rhythm, and by how each
frequency band's level moves over time. A stethoscope multiplies every phase by the same
response, so those differences are largely free of its colouring (docs/results.md measures what
that is worth on new devices).

:func:`add_feature_expert` trains a small MLP
(:class:`~audiofuse_core.models.RecordingFeatureExpert`) on the recordings a trained model was
trained on, with the classes balanced within each subset as training does, and writes a copy of
the model that carries it: at prediction the two opinions are averaged
(:class:`~audiofuse_core.inference.Classifier`). The threshold is chosen again on the model's
own validation recordings. The model given is never changed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .audio import load_audio, resample
from .datasets import Record
from .errors import AudioFuseError, DatasetError, ModelError, TrainingError

# Each set: (with the heart cycle's shape, with the average spectrum). cycle+mel+profile is the
# default since 2026-12-03 (chosen on cross-validation within the training split:
# bench/cycle_profile.py, docs/results.md "The heart cycle's shape"); the older sets stay
# readable so that model files made with them keep working.
_SET_PARTS = {"cycle+mel+profile/1": (True, True), "cycle+mel/1": (False, True),
              "cycle+mel-dynamics/1": (False, False)}
FEATURE_SETS = tuple(_SET_PARTS)
DEFAULT_FEATURE_SET = FEATURE_SETS[0]
HIDDEN = (64, 64)
DROPOUT = 0.3
MEMBERS = 5  # MLPs from seeds seed..seed+4, their logits averaged (docs/results.md)
# a recording whose figures lie further from the training recordings' than this share of those
# recordings' own does is "unfamiliar" (docs/results.md, "Unfamiliar recordings"); chosen before
# it was measured, not tuned
FAMILIAR_QUANTILE = 0.99
ProgressFn = Callable[[str, int, int], None]
StopFn = Callable[[], bool]


def feature_count(feature_set: str) -> int:
    from .cycle_features import N_CYCLE, N_MELS, N_PROFILE, N_SPECTRAL

    profile, spectrum = _parts(feature_set)
    return N_CYCLE + N_SPECTRAL - (0 if spectrum else N_MELS) + (N_PROFILE if profile else 0)


def feature_vector(samples: np.ndarray, rate: int,
                   feature_set: str = DEFAULT_FEATURE_SET) -> np.ndarray:
    """The expert's input for one recording (any rate; NaN where no heart cycle is found).

    ``cycle+mel+profile/1`` (the default): the heart-cycle figures, the log-Mel summary and the
    median cycle's shape in 4 bands (cycle_features).
    ``cycle+mel/1``: the heart-cycle figures and the log-Mel summary.
    ``cycle+mel-dynamics/1``: the same without the summary's average spectrum (its first
    :data:`~audiofuse_core.cycle_features.N_MELS` values), the one part a stethoscope's
    frequency response shifts directly.
    """
    from .cycle_features import N_CYCLE, N_MELS, RATE, recording_features

    profile, spectrum = _parts(feature_set)
    x = np.asarray(samples, dtype=np.float64)
    if int(rate) != RATE:
        x = resample(x, int(rate), RATE)
    values = recording_features(x, RATE, profile=profile)
    if not spectrum:
        values = np.concatenate([values[:N_CYCLE], values[N_CYCLE + N_MELS:]])
    return values


def _parts(feature_set: str) -> tuple[bool, bool]:
    """(with the heart cycle's shape, with the average spectrum); ModelError for an unknown set."""
    if feature_set not in _SET_PARTS:
        raise ModelError(f"unknown feature set {feature_set!r}; this version knows "
                         f"{', '.join(FEATURE_SETS)}")
    return _SET_PARTS[feature_set]


def record_features(records: Sequence[Record], feature_set: str = DEFAULT_FEATURE_SET, *,
                    cache_dir: str | Path | None = None, progress: ProgressFn | None = None,
                    should_stop: StopFn | None = None) -> np.ndarray:
    """[len(records), feature_count] for labelled recordings, cached in ``cache_dir`` by the
    recordings' paths, sizes and times and the feature set.
    """
    from .cycle_features import RATE

    cache = None
    if cache_dir is not None:
        digest = hashlib.sha256(feature_set.encode())
        for r in records:
            stat = Path(r.path).stat()
            digest.update(f"{r.path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        cache = Path(cache_dir) / f"features-{digest.hexdigest()[:20]}.npy"
        if cache.is_file():
            try:
                stored = np.load(cache, allow_pickle=False)
                if stored.shape == (len(records), feature_count(feature_set)):
                    return stored
            except (OSError, ValueError):
                pass  # a damaged cache is recomputed
    rows = []
    for i, record in enumerate(records):
        if should_stop is not None and should_stop():
            raise TrainingError("cancelled while describing the recordings")
        if progress is not None:
            progress("describing the recordings", i, len(records))
        audio = load_audio(record.path, sample_rate=RATE)
        rows.append(feature_vector(audio.samples, audio.sample_rate, feature_set))
    values = np.stack(rows) if rows else np.zeros((0, feature_count(feature_set)))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, values)
        tmp.replace(cache)
    return values


def subset_balanced_weights(labels: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Sample weights (mean 1) under which each subset weighs the same and, within it, each
    class: a subset's abnormal rate is then no cue (training's sampling does the same).
    """
    labels, subsets = np.asarray(labels), np.asarray(subsets)
    weights = np.zeros(len(labels))
    for subset in np.unique(subsets):
        for label in (0, 1):
            mask = (subsets == subset) & (labels == label)
            if mask.any():
                weights[mask] = 1.0 / mask.sum()
    return weights / weights.mean()


def fit_expert(features: np.ndarray, labels: np.ndarray, subsets: np.ndarray, *,
               seed: int = 42, epochs: int = 60, hidden: Sequence[int] = HIDDEN,
               dropout: float = DROPOUT, l2: float = 1e-3, members: int = 1,
               progress: ProgressFn | None = None, should_stop: StopFn | None = None):
    """A trained :class:`~audiofuse_core.models.RecordingFeatureExpert` (weights set, missing
    values filled with the training medians, figures standardised with the training spread).
    With ``members`` > 1, that many MLPs trained apart from seeds ``seed``, ``seed + 1``, ...
    on the same figures; the layer gives the mean of their logits.
    """
    import keras

    from .models import RecordingFeatureExpert

    x = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float32)
    if len(np.unique(labels)) < 2:
        raise TrainingError("the feature expert needs normal and abnormal training recordings")
    if int(members) < 1:
        raise TrainingError(f"the feature expert needs at least one member, not {members}")
    fill = np.nanmedian(x, axis=0)
    if np.isnan(fill).any():
        raise TrainingError("no training recording has a measurable heart cycle")
    x = np.where(np.isnan(x), fill, x)
    centre, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    weights = subset_balanced_weights(labels, subsets)

    def new_expert(count: int, seed: int | None = None):
        if seed is not None:  # before the weights are drawn
            keras.utils.set_random_seed(seed)
        expert = RecordingFeatureExpert(inputs=x.shape[1], hidden=hidden, dropout=dropout,
                                        l2=l2, members=count, name="feature_expert")
        expert.build((None, x.shape[1]))
        for weight, value in ((expert.fill, fill), (expert.centre, centre),
                              (expert.scale, scale)):
            weight.assign(value.astype("float32"))
        return expert

    count = int(members)
    ensemble = new_expert(count) if count > 1 else None  # the members' weights are copied in
    for member in range(count):
        if progress is not None:
            progress("training the feature expert", member, count)
        single = new_expert(1, seed + member)
        _train_member(single, x, labels, weights, epochs, should_stop)
        if ensemble is None:
            return single
        for target, source in zip(ensemble.member_layers(member), single.member_layers(0)):
            target.set_weights(source.get_weights())
    return ensemble


def familiarity_reference(expert, training_features: np.ndarray) -> dict[str, Any]:
    """What the model file keeps to tell an unfamiliar recording: the distance
    (:meth:`~audiofuse_core.models.RecordingFeatureExpert.numpy_distance`) below which
    :data:`FAMILIAR_QUANTILE` of the expert's own training recordings lie.
    """
    distances = expert.numpy_distance()(training_features)
    if not len(distances):
        raise TrainingError("no training recordings to measure familiarity against")
    return {"limit": float(np.quantile(distances, FAMILIAR_QUANTILE)),
            "quantile": FAMILIAR_QUANTILE,
            "training_median": float(np.median(distances)),
            "training_records": int(len(distances)),
            "measure": "root-mean-square of the recording's standardised heart-cycle figures "
                       "(each squared value capped at 100)"}


def _train_member(expert, x: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                  epochs: int, should_stop: StopFn | None) -> None:
    """Train a one-member expert in place (its standardisation already set)."""
    import keras

    trainer = keras.Sequential([keras.Input((x.shape[1],)), expert])
    trainer.compile(keras.optimizers.AdamW(1e-3),
                    keras.losses.BinaryCrossentropy(from_logits=True))

    class _Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if should_stop is not None and should_stop():
                self.model.stop_training = True

    trainer.fit(x.astype("float32"), labels, sample_weight=weights, epochs=epochs,
                batch_size=64, verbose=0, shuffle=True, callbacks=[_Stop()])
    if should_stop is not None and should_stop():
        raise TrainingError("cancelled while training the feature expert: nothing was written")


def add_feature_expert(model_path: str | Path, records: Sequence[Record], out: str | Path, *,
                       feature_set: str = DEFAULT_FEATURE_SET, weight: float = 0.5,
                       seed: int = 42, epochs: int = 60, members: int = MEMBERS,
                       cache_dir: str | Path | None = None, max_windows: int = 24,
                       progress: ProgressFn | None = None,
                       should_stop: StopFn | None = None) -> Path:
    """Write to ``out`` a copy of the model at ``model_path`` that carries a feature expert
    trained on the model's own training recordings; its opinion gets ``weight`` (0-1) in the
    mean. ``records`` must hold the model's training and validation recordings (the data folder
    it was trained on). The expert is ``members`` MLPs from seeds ``seed``, ``seed + 1``, ...
    whose logits are averaged. Raises an AudioFuseError, writing nothing, when they are missing,
    the model has no recorded split or already carries an expert, or ``out`` exists.
    """
    from .metrics import (
        best_threshold,
        binary_metrics,
        expected_calibration_error,
        fit_platt,
        platt,
    )
    from .models import build_model, copy_weights, load_model, save_model
    from .training import _project_version, _validation_windows, fit_temperature, load_signals

    out = Path(out)
    if out.suffix != ".keras":
        raise ModelError(f"{out}: model files must end in .keras")
    if out.exists():
        raise ModelError(f"{out} exists already: choose another name (nothing is overwritten)")
    if not 0.0 < float(weight) < 1.0:
        raise ModelError(f"the feature expert's weight must lie between 0 and 1, not {weight}")
    if not 1 <= int(members) <= 20:
        raise ModelError(f"the feature expert takes 1 to 20 members, not {members}")
    _parts(feature_set)  # an unknown set is refused before any work
    base = load_model(model_path)
    if base.feature_expert is not None:
        raise ModelError(f"{Path(model_path).name} carries a feature expert already")
    split = base.metadata.get("split") or {}
    train_names = list(split.get("training_records") or [])
    val_names = list(split.get("validation_records") or [])
    if not train_names or not val_names:
        raise ModelError(f"{Path(model_path).name} does not record the recordings it was "
                         "trained and validated on: a feature expert needs them")
    by_name = {r.name: r for r in records}
    missing = sorted((set(train_names) | set(val_names)) - set(by_name))
    if missing:
        raise DatasetError(f"{len(missing)} of the model's {len(train_names) + len(val_names)} "
                           f"recordings are not in the data given (first: {missing[0]}): give "
                           "the folder it was trained on")
    train_records = [by_name[n] for n in sorted(train_names)]
    val_records = [by_name[n] for n in sorted(val_names)]

    started = time.monotonic()
    x_train = record_features(train_records, feature_set, cache_dir=cache_dir,
                              progress=progress, should_stop=should_stop)
    x_val = record_features(val_records, feature_set, cache_dir=cache_dir,
                            progress=progress, should_stop=should_stop)
    y_train = np.array([r.label for r in train_records])
    y_val = np.array([r.label for r in val_records])
    if progress is not None:
        progress("training the feature expert", 0, int(members))
    expert = fit_expert(x_train, y_train, np.array([r.subset for r in train_records]),
                        seed=seed, epochs=epochs, members=members, progress=progress,
                        should_stop=should_stop)
    feature_logits = expert.numpy_forward()(x_val)
    feature_temperature = fit_temperature(y_val, [np.array([v]) for v in feature_logits])
    p_feature = 1.0 / (1.0 + np.exp(-feature_logits / feature_temperature))
    trained_seconds = time.monotonic() - started

    # the network's own opinion on the same recordings, as the Classifier forms it
    if progress is not None:
        progress("scoring the validation recordings", 0, 1)
    data = load_signals(val_records, base.preset, cache_dir=cache_dir, should_stop=should_stop)
    if len(data.records) != len(val_records):
        raise DatasetError(f"{len(val_records) - len(data.records)} validation recordings "
                           "could not be read: nothing was written")
    windows, owner = _validation_windows(data.signals, base.preset, max_windows)
    logits = np.concatenate([np.asarray(base(windows[i:i + 64], training=False))[:, 0]
                             for i in range(0, len(windows), 64)])
    temperature = float(base.metadata.get("temperature", 1.0))
    p_network = np.array([np.mean(1.0 / (1.0 + np.exp(-logits[owner == i] / temperature)))
                          for i in range(len(val_records))])
    mean = (1.0 - weight) * p_network + weight * p_feature
    # the mean of two calibrated opinions is not calibrated itself (it leans to the middle):
    # one last Platt scaling, fitted on the same recordings, when it keeps the order
    slope, intercept = fit_platt(y_val, mean)
    final_calibration = None
    combined = mean
    if slope > 0:
        combined = platt(mean, slope, intercept)
        final_calibration = {"slope": slope, "intercept": intercept,
                             "ece_before": expected_calibration_error(y_val, mean)}
    threshold = best_threshold(y_val, combined)
    subsets = np.array([r.subset for r in val_records])

    def figures(scores: np.ndarray, at: float) -> dict[str, Any]:
        per_subset = {s: binary_metrics(y_val[subsets == s], scores[subsets == s], at,
                                        seed=0).to_dict()
                      for s in sorted(set(subsets)) if len(set(y_val[subsets == s])) == 2}
        return {"overall": binary_metrics(y_val, scores, at, seed=0).to_dict(),
                "per_subset": per_subset}

    validation = figures(combined, threshold)
    validation["ece_after_calibration"] = expected_calibration_error(y_val, combined)
    spec = {"inputs": int(x_train.shape[1]), "hidden": list(HIDDEN), "dropout": DROPOUT,
            "feature_set": feature_set, "weight": float(weight),
            "temperature": float(feature_temperature), "seed": int(seed), "epochs": int(epochs),
            "members": int(members),
            "familiarity": familiarity_reference(expert, x_train),
            "training_seconds": round(trained_seconds, 1),
            "validation": figures(p_feature, best_threshold(y_val, p_feature))}
    metadata = dict(base.metadata)
    metadata.update({
        "name": out.stem,
        "version": datetime.now(UTC).strftime("%Y.%m.%d-%H%M"),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "threshold": float(threshold),
        "feature_expert": spec,
        "network": {"file": Path(model_path).name, "version": base.metadata.get("version"),
                    "threshold": base.metadata.get("threshold"),
                    "validation": base.metadata.get("validation")},
        "aggregation": f"{1 - weight:g} x the network's probability (the mean over the "
                       f"recording's windows) + {weight:g} x the feature expert's (the whole "
                       "recording's heart-cycle figures)"
                       + (", recalibrated (Platt scaling)" if final_calibration else ""),
        "final_calibration": final_calibration,
        "validation": validation,
        "training_seconds": float(base.metadata.get("training_seconds") or 0.0)
        + trained_seconds,
        "project_version": _project_version(),
    })
    model = build_model(base.preset, base.kind, metadata=metadata)
    copy_weights(base, model, every="source")
    model.feature_expert.set_weights(expert.get_weights())
    if should_stop is not None and should_stop():
        raise AudioFuseError("stopped: no model was written")
    if out.exists():
        raise ModelError(f"{out} exists already: choose another name (nothing is overwritten)")
    return save_model(model, out)
