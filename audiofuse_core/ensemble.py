"""A fusion that cannot learn which expert to trust: the mean of the two experts' probabilities.

The paper's fusion concatenates the spectrogram and waveform experts' features into one learned
head. On PhysioNet that head leans on the waveform CNN, the expert that best recognises
PhysioNet's own devices and transfers worst to others (docs/results.md). A ``fusion_rule="mean"``
model keeps each single-branch model whole, head and calibration included, and outputs the mean
of their temperature-scaled probabilities: nothing is trained, so nothing can learn to prefer the
device-bound expert.

:func:`combine_experts` builds it from trained single-branch models of one preset and
validation split (one of each branch, or several of each: an ensemble of training seeds, each
branch keeping half the weight), chooses its threshold on that split's recordings (Youden's J,
as training does), and writes it with its model card. It never overwrites a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import Record
from .errors import AudioFuseError, DatasetError, ModelError
from .presets import merge_expert_presets


def combine_experts(experts: Sequence[str | Path], records: Sequence[Record],
                    out: str | Path, *, cache_dir: str | Path | None = None,
                    max_windows: int = 24,
                    should_stop: Callable[[], bool] | None = None) -> Path:
    """Write to ``out`` the mean-of-experts fusion of single-branch model files.

    ``experts``: at least one spectrogram and one waveform model, in any order (several of a
    kind, for instance one per training seed, make an ensemble: each branch keeps half the
    weight). ``records`` must hold the experts' validation recordings (their model cards name
    them; the data folder they were trained on has them). Raises an AudioFuseError with the
    reason, and writes nothing, when a file is not a single-branch model, a branch is missing,
    experts differ in a setting they share or in their validation split, a validation recording
    is missing, or ``out`` exists.
    """
    from .models import MEMBER_KINDS, build_model, load_model, save_model
    from .training import (
        THRESHOLD_RULE,
        _describe_data,
        _project_version,
        _validation_windows,
        calibrate,
        load_signals,
    )

    out = Path(out)
    if out.suffix != ".keras":
        raise ModelError(f"{out}: model files must end in .keras")
    if out.exists():
        raise ModelError(f"{out} exists already: choose another name (nothing is overwritten)")
    paths = [Path(p) for p in experts]
    if len(set(p.resolve() for p in paths)) != len(paths):
        raise ModelError("the same model file is given twice: each expert once")
    loaded = [load_model(path) for path in paths]
    for expert, path in zip(loaded, paths):
        if expert.kind not in MEMBER_KINDS:
            raise ModelError(f"{path}: a {expert.kind} model; combine single-branch models "
                             "(spectrogram or waveform)")
    order = sorted(range(len(paths)), key=lambda i: MEMBER_KINDS.index(loaded[i].kind))
    paths, loaded = [paths[i] for i in order], [loaded[i] for i in order]
    kinds = [e.kind for e in loaded]
    for kind in MEMBER_KINDS:
        if kind not in kinds:
            raise ModelError(f"no {kind} model among the experts: give at least one spectrogram "
                             "and one waveform model")
    preset = merge_expert_presets(loaded[0].preset, loaded[-1].preset)
    settings = preset.to_dict()
    for expert, path in zip(loaded, paths):  # the members of a branch share its settings
        pair = ((expert.preset, loaded[-1].preset) if expert.kind == "spectrogram"
                else (loaded[0].preset, expert.preset))
        differ = sorted(k for k, v in merge_expert_presets(*pair).to_dict().items()
                        if k != "name" and v != settings[k])
        if differ:
            raise ModelError(f"{path} was trained with other settings than {paths[0]} "
                             f"(they differ in {', '.join(differ)})")
    splits = [set((e.metadata.get("split") or {}).get("validation_records") or [])
              for e in loaded]
    if not splits[0] or any(s != splits[0] for s in splits):
        raise ModelError("the models were not validated on the same recordings: combine "
                         "experts trained on one data set with one split seed")
    by_name = {r.name: r for r in records}
    missing = sorted(splits[0] - set(by_name))
    if missing:
        raise DatasetError(f"{len(missing)} of the experts' {len(splits[0])} validation "
                           f"recordings are not in the data given (first: {missing[0]}): give "
                           "the folder they were trained on")
    val_records = [by_name[name] for name in sorted(splits[0])]
    temperatures = [float(e.metadata.get("temperature", 1.0)) for e in loaded]
    model = build_model(preset.replace(fusion_rule="mean"), "fusion",
                        metadata={"member_kinds": kinds, "member_temperatures": temperatures})
    for member, expert in zip(model.members, loaded):
        member.set_weights(expert.get_weights())

    data = load_signals(val_records, preset, cache_dir=cache_dir, should_stop=should_stop)
    if should_stop is not None and should_stop():
        raise AudioFuseError("stopped: no model was written")
    windows, owner = _validation_windows(data.signals, preset, max_windows)
    logits = np.concatenate([np.asarray(model(windows[i:i + 64]))[:, 0]
                             for i in range(0, len(windows), 64)])
    # a mean of calibrated probabilities is not calibrated itself: one more temperature
    calibration = calibrate(data.records, logits, owner)

    metas = [e.metadata for e in loaded]
    seeds = sorted({(m.get("training") or {}).get("seed") for m in metas} - {None})
    training = dict(metas[-1].get("training") or {})
    training.update(kind="fusion", fusion_rule="mean", branch_models=[str(p) for p in paths],
                    freeze_branches=True)
    if len(seeds) > 1:
        training["seed"] = seeds
    train_names = set((metas[-1].get("split") or {}).get("training_records") or [])
    metadata: dict[str, Any] = dict(metas[-1])
    metadata.update({
        "name": out.stem,
        "version": datetime.now(UTC).strftime("%Y.%m.%d-%H%M"),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": "fusion",
        "threshold": calibration.threshold,
        "threshold_rule": THRESHOLD_RULE,
        "temperature": calibration.temperature,
        "member_kinds": kinds,
        "member_temperatures": temperatures,
        "aggregation": "mean of window probabilities (each window: the mean of the experts' "
                       "temperature-scaled probabilities, each branch weighted one half, "
                       "scaled once more)",
        "training": training,
        "members": [{"file": p.name, "kind": k, "version": m.get("version"),
                     "seed": (m.get("training") or {}).get("seed"), "temperature": t,
                     "epochs": (m.get("training") or {}).get("epochs"),
                     "best_epoch": m.get("best_epoch"),
                     "validation_roc_auc": (m.get("validation") or {})
                     .get("overall", {}).get("roc_auc")}
                    for p, m, t, k in zip(paths, metas, temperatures, kinds, strict=True)],
        "validation": calibration.validation,
        "history": [],
        "best_epoch": None,
        "training_seconds": sum(float(m.get("training_seconds") or 0.0) for m in metas),
        "project_version": _project_version(),
    })
    if train_names:
        metadata["data"] = _describe_data([r for r in records if r.name in train_names],
                                          data.records, data.skipped)
    model.metadata = metadata
    if out.exists():
        raise ModelError(f"{out} exists already: choose another name (nothing is overwritten)")
    return save_model(model, out)
