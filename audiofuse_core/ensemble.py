"""A fusion that cannot learn which expert to trust: the mean of the two experts' probabilities.

The paper's fusion concatenates the spectrogram and waveform experts' features into one learned
head. On PhysioNet that head leans on the waveform CNN, the expert that best recognises
PhysioNet's own devices and transfers worst to others (docs/results.md). A ``fusion_rule="mean"``
model keeps each single-branch model whole, head and calibration included, and outputs the mean
of their temperature-scaled probabilities: nothing is trained, so nothing can learn to prefer the
device-bound expert.

:func:`combine_experts` builds it from two trained single-branch models of one preset and
validation split, chooses its threshold on that split's recordings (Youden's J, as training
does), and writes it with its model card. It never overwrites a file.
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


def combine_experts(spectrogram: str | Path, waveform: str | Path, records: Sequence[Record],
                    out: str | Path, *, cache_dir: str | Path | None = None,
                    max_windows: int = 24,
                    should_stop: Callable[[], bool] | None = None) -> Path:
    """Write to ``out`` the mean-of-experts fusion of two single-branch model files.

    ``records`` must hold the experts' validation recordings (their model cards name them; the
    data folder they were trained on has them). Raises an AudioFuseError with the reason, and
    writes nothing, when a file is of the wrong kind, the two differ in a setting both branches
    read or in their validation split, a validation recording is missing, or ``out`` exists.
    """
    from .models import build_model, load_model, save_model
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
    experts = [load_model(path) for path in (spectrogram, waveform)]
    for expert, kind, path in zip(experts, ("spectrogram", "waveform"), (spectrogram, waveform)):
        if expert.kind != kind:
            raise ModelError(f"{path}: a {expert.kind} model where a {kind} model is needed")
    preset = merge_expert_presets(experts[0].preset, experts[1].preset)
    splits = [set((e.metadata.get("split") or {}).get("validation_records") or [])
              for e in experts]
    if not splits[0] or splits[0] != splits[1]:
        raise ModelError("the two models were not validated on the same recordings: combine "
                         "experts trained on one data set with one split seed")
    by_name = {r.name: r for r in records}
    missing = sorted(splits[0] - set(by_name))
    if missing:
        raise DatasetError(f"{len(missing)} of the experts' {len(splits[0])} validation "
                           f"recordings are not in the data given (first: {missing[0]}): give "
                           "the folder they were trained on")
    val_records = [by_name[name] for name in sorted(splits[0])]
    temperatures = [float(e.metadata.get("temperature", 1.0)) for e in experts]
    model = build_model(preset.replace(fusion_rule="mean"), "fusion",
                        metadata={"member_temperatures": temperatures})
    for member, expert in zip(model.members, experts):
        member.set_weights(expert.get_weights())

    data = load_signals(val_records, preset, cache_dir=cache_dir, should_stop=should_stop)
    if should_stop is not None and should_stop():
        raise AudioFuseError("stopped: no model was written")
    windows, owner = _validation_windows(data.signals, preset, max_windows)
    logits = np.concatenate([np.asarray(model(windows[i:i + 64]))[:, 0]
                             for i in range(0, len(windows), 64)])
    # the mean of two calibrated probabilities is not calibrated itself: one more temperature
    calibration = calibrate(data.records, logits, owner)

    metas = [e.metadata for e in experts]
    training = dict(metas[1].get("training") or {})
    training.update(kind="fusion", fusion_rule="mean",
                    branch_models=[str(spectrogram), str(waveform)], freeze_branches=True)
    train_names = set((metas[1].get("split") or {}).get("training_records") or [])
    metadata: dict[str, Any] = dict(metas[1])
    metadata.update({
        "name": out.stem,
        "version": datetime.now(UTC).strftime("%Y.%m.%d-%H%M"),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": "fusion",
        "threshold": calibration.threshold,
        "threshold_rule": THRESHOLD_RULE,
        "temperature": calibration.temperature,
        "member_temperatures": temperatures,
        "aggregation": "mean of window probabilities (each window: the mean of the two "
                       "experts' temperature-scaled probabilities, scaled once more)",
        "training": training,
        "members": [{"file": Path(p).name, "kind": m.get("kind"), "version": m.get("version"),
                     "temperature": t, "validation_roc_auc": (m.get("validation") or {})
                     .get("overall", {}).get("roc_auc")}
                    for p, m, t in zip((spectrogram, waveform), metas, temperatures)],
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
