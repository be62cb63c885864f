"""A model's card as readable Markdown, from the metadata saved inside the model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .evaluation import fmt, metrics_table


def render_model_card(meta: dict[str, Any]) -> str:
    """Markdown for a clinician or a reviewer: what the model is for, how it was made, how well
    it did on validation, and where it is known to fall short.
    """
    preset = meta.get("preset") or {}
    training = meta.get("training") or {}
    data = meta.get("data") or {}
    validation = meta.get("validation") or {}
    split = meta.get("split") or {}
    coverage = "whole recording" if preset.get("whole_recording") else "first window only"
    lines = [f"# Model card: {meta.get('name', 'unnamed model')}", ""]
    lines.append(f"- Version: {meta.get('version', 'unversioned')} (created "
                 f"{meta.get('created', 'unknown')}, AudioFuse {meta.get('project_version', '?')})")
    lines.append(f"- Model: {meta.get('kind', '?')} on the `{preset.get('name', '?')}` preset "
                 f"({preset.get('sample_rate', '?')} Hz, {preset.get('window_seconds', '?')} s "
                 f"windows, {coverage})")
    if preset.get("waveform_whiten_hz") and meta.get("kind") in ("fusion", "waveform"):
        lines.append(f"- Waveform input whitened: each window's spectral envelope (smoothed over "
                     f"{fmt(preset['waveform_whiten_hz'], 0)} Hz) replaced by one fixed "
                     "heart-sound shape, so a stethoscope's frequency response cancels")
    if preset.get("fusion_rule") == "mean" and meta.get("kind") == "fusion":
        kinds = meta.get("member_kinds") or ["spectrogram", "waveform"]
        if len(kinds) == 2:
            lines.append("- Fusion: the mean of the two experts' calibrated probabilities, each "
                         "expert with its own head (not the paper's single learned fusion head)")
        else:
            lines.append(f"- Fusion: the mean of the calibrated probabilities of "
                         f"{kinds.count('spectrogram')} spectrogram and "
                         f"{kinds.count('waveform')} waveform experts, each branch weighted one "
                         "half, each expert with its own head (not the paper's single learned "
                         "fusion head)")
    expert = meta.get("feature_expert") or {}
    if expert:
        figures = str(expert.get("feature_set", "?"))
        spectrum = "" if "dynamics" in figures else ", the average spectrum"
        shape = (", the median heart cycle's shape in 4 bands" if "profile" in figures else "")
        count, seeds = _expert_seeds(expert)
        who = ("a feature expert" if count == 1 else
               f"a feature expert of {count} small networks ({seeds}, their logits averaged)")
        lines.append(f"- Second opinion: {who} on the whole recording's heart cycle "
                     f"(figures `{figures}`: how systole and diastole "
                     "differ from S1 and S2 band by band, the rhythm, each band's movement over "
                     f"time{spectrum}{shape}); the probability is {meta.get('aggregation', '?')}")
    use = meta.get("intended_use", "Decision support, not a diagnosis.")
    lines.append(f"- Intended use: {use}")
    lines.append(f"- Decision threshold: {fmt(meta.get('threshold'))} "
                 f"({meta.get('threshold_rule', 'not documented')})")
    final = meta.get("final_calibration") or {}
    if expert and final:
        lines.append(f"- Calibration: the network's temperature {fmt(meta.get('temperature'), 2)}"
                     f" and the feature expert's {fmt(expert.get('temperature'), 2)}, then the "
                     f"mean recalibrated (Platt scaling: slope {fmt(final.get('slope'), 2)}, "
                     f"intercept {fmt(final.get('intercept'), 2)}), all fitted on the validation"
                     " recordings; expected calibration error "
                     f"{fmt(final.get('ece_before'))} before the last step, "
                     f"{fmt(validation.get('ece_after_calibration'))} after")
    elif expert:
        lines.append(f"- Calibration: the network's temperature {fmt(meta.get('temperature'), 2)}"
                     f" and the feature expert's {fmt(expert.get('temperature'), 2)}, each fitted "
                     "on the validation recordings; expected calibration error of the mean "
                     f"{fmt(validation.get('ece_after_calibration'))}")
    elif "temperature" in meta:
        lines.append(f"- Calibration: temperature {fmt(meta['temperature'], 2)} fitted on the "
                     "validation recordings; expected calibration error "
                     f"{fmt(validation.get('ece_before_calibration'))} before, "
                     f"{fmt(validation.get('ece_after_calibration'))} after")
    if training:
        lines += ["", "## Training", ""]
        lines.append(f"- Data: {', '.join(data.get('datasets', [])) or '?'}; "
                     f"{data.get('n_train', '?')} training and {data.get('n_validation', '?')} "
                     f"validation recordings ({data.get('skipped', 0)} skipped as unreadable)")
        lines.append(f"- Split: by {split.get('unit', 'recording')}, stratified by "
                     f"{' and '.join(split.get('stratified_by', []))}, "
                     f"validation fraction {split.get('val_fraction')}, seed {split.get('seed')}")
        mean_rule = training.get("fusion_rule") == "mean"
        seed = training.get("seed")
        seed = (f"Seeds {', '.join(str(s) for s in seed)}" if isinstance(seed, list)
                else f"Seed {seed}")
        budget = (f"{training.get('epochs')} epochs at most "
                  f"(best: {meta.get('best_epoch') if not mean_rule else 'see each expert'})")
        members = meta.get("members") or []
        if mean_rule and members and all(m.get("epochs") for m in members):
            budget = " and ".join(f"the {m.get('kind')} expert at most {m['epochs']} epoch"
                                  f"{'' if m['epochs'] == 1 else 's'} (best "
                                  f"{m.get('best_epoch')})" for m in members)
        lines.append(f"- {seed}, {budget}, "
                     f"batch {training.get('batch_size')}, "
                     f"AdamW lr {training.get('learning_rate')}, weight decay "
                     f"{training.get('weight_decay')}, class weighting "
                     f"'{training.get('class_weighting')}', augmentation "
                     f"{'on' if training.get('augment') else 'off'}, model selection on "
                     f"'{training.get('select_on')}'")
        if mean_rule and training.get("branch_models"):
            names = [Path(p).name for p in training["branch_models"]]
            lines.append(f"- Fusion: the mean of the calibrated probabilities of the single-branch "
                         f"models {', '.join(names[:-1])} and {names[-1]}, each whole (its own "
                         "head and temperature); "
                         "no weights were trained to combine them, so neither expert can be "
                         "preferred for recognising the training devices")
        elif training.get("branch_models"):
            spec, wave = (Path(p).name for p in training["branch_models"])
            frozen = "frozen, only the fusion head trained" if training.get("freeze_branches") \
                else "then trained end to end"
            lines.append(f"- Experts started from the single-branch models {spec} and {wave} "
                         f"({frozen}); the training time below is this last step's")
        elif training.get("init_model"):
            lines.append(f"- Fine-tuned from {Path(training['init_model']).name}"
                         + (" (branches frozen, head retrained)"
                            if training.get("freeze_branches") else ""))
            if meta.get("feature_expert_dropped"):
                lines.append(f"- {meta['feature_expert_dropped']}'s heart-cycle feature expert "
                             "was not carried over (fine-tuning retrains the network alone); "
                             "`audiofuse add-feature-expert` adds one trained on this data")
        if training.get("domain_adversarial"):
            lines.append(f"- Domain-adversarial: a classifier of the training subset (device and "
                         f"site) on the features, its gradient reversed with weight "
                         f"{training['domain_adversarial']:g}, so the encoders unlearn the device")
        if training.get("subset_ranking"):
            lines.append(f"- Loss: cross-entropy plus {training['subset_ranking']:g} x a ranking "
                         "loss between abnormal and normal windows of the same subset only")
        if training.get("random_response_db"):
            lines.append("- Augmentation also colours 70 % of the windows with a random smooth "
                         "frequency response (gains at 8 frequencies of 25-800 Hz, standard "
                         f"deviation {training['random_response_db']:g} dB): another stethoscope")
        if training.get("weight_average"):
            lines.append("- Weights: each epoch validated, and the model kept, as a moving "
                         f"average of the trained weights (momentum {training['weight_average']:g} "
                         "per step)")
        if meta.get("training_seconds") is not None:
            lines.append(f"- Training time: {meta['training_seconds'] / 60:.1f} min"
                         f"{' (the experts together)' if mean_rule else ''} "
                         f"({meta.get('backend', '?')} backend)")
        if expert:
            widths = " and ".join(str(h) for h in expert.get("hidden", []))
            count, seeds = _expert_seeds(expert)
            mlps = "an MLP" if count == 1 else f"{count} MLPs, trained apart, logits averaged"
            lines.append(f"- Feature expert: {mlps} ({widths} "
                         f"units, dropout {expert.get('dropout')}), {seeds}, "
                         f"{expert.get('epochs')} epochs on the same training recordings, each "
                         "subset and, within it, each class weighted alike; "
                         f"{fmt(expert.get('training_seconds', 0) / 60, 1)} min")
        counts = data.get("train") or {}
        if counts:
            lines.append("- Devices/sites seen (subsets, training part): " + ", ".join(
                f"{k} ({v.get('normal', 0)} normal / {v.get('abnormal', 0)} abnormal)"
                for k, v in sorted(counts.items())))
    if validation.get("overall"):
        lines += ["", "## Validation (recordings held out of training, same data set)", ""]
        rows = [("all", validation["overall"])] + sorted(validation.get("per_subset", {}).items())
        lines.append(metrics_table(rows))
        parts = [("the network alone", (meta.get("network") or {}).get("validation") or {}),
                 ("the feature expert alone", expert.get("validation") or {})]
        for title, block in parts if expert else ():
            if block.get("overall"):
                lines += ["", f"The same recordings, {title} (at its own threshold):", ""]
                lines.append(metrics_table([("all", block["overall"])]
                                           + sorted(block.get("per_subset", {}).items())))
    for entry in meta.get("site_thresholds", []):
        lines += ["", f"## Threshold refitted for {entry.get('site', '?')}", ""]
        lines.append(f"- {entry.get('date', '?')}: threshold {fmt(entry.get('threshold_before'))}"
                     f" -> {fmt(entry.get('threshold_after'))}, chosen on {entry.get('n', '?')} "
                     f"of the site's recordings ({entry.get('n_abnormal', '?')} abnormal) from "
                     f"{entry.get('source', '?')} (version {entry.get('source_version', '?')}); "
                     "the weights are those of that model")
        if entry.get("before") and entry.get("after"):
            lines.append("- The figures after the refit are measured on the recordings it was "
                         "fitted to (optimistic):")
            lines += ["", metrics_table([("before", entry["before"]), ("after", entry["after"])])]
    lines += ["", "## Known limits", ""]
    lines += [
        "- Not a diagnosis: a result supports, never replaces, a clinician's auscultation.",
        "- The split is by recording: PhysioNet 2016 publishes no patient identifiers, so "
        "recordings of one patient may sit on both sides and validation figures may be "
        "optimistic.",
        "- Validation figures come from the same devices and sites as training; on another "
        "stethoscope, population or setting, performance can be lower.",
    ]
    weak = _weak_subsets(meta)
    if weak:
        lines.append("- Within a single device and site the model separates the classes less well "
                     f"than overall ({weak}): part of the overall figure comes from telling the "
                     "sites apart, whose abnormal rates differ.")
    if expert:
        lines.append("- The feature expert needs heart cycles: where none is found its figures "
                     "are filled with the training medians, and the quality gate usually refuses "
                     "such a recording. Part of what it reads (the average spectrum, each band's "
                     "spread) a new stethoscope changes: on another device and population it "
                     "helped less than on PhysioNet, or hurt (docs/results.md, \"The feature "
                     "expert\").")
        if "profile" in str(expert.get("feature_set")):
            lines.append("- The heart cycle's shape it reads was learned from PhysioNet's sites: "
                         "with one site left out of training it helped on two (training-a, -b) "
                         "and misled on the third (training-f, to chance); on CirCor it cost "
                         "nothing (docs/results.md, \"The heart cycle's shape\").")
    familiarity = (expert or {}).get("familiarity") or {}
    if familiarity.get("limit") is not None:
        lines.append(
            f"- Unfamiliar recordings: {round(100 * familiarity.get('quantile', 0.99))} % of "
            f"the expert's {familiarity.get('training_records', '?')} training recordings lie "
            f"within a distance of {familiarity['limit']:.2f} of their mean figures (median "
            f"{familiarity.get('training_median', float('nan')):.2f}); a recording further out "
            "is answered with a notice that it is unlike the training recordings and the "
            "answer less reliable. Most recordings from a new device are not caught (none of "
            "CirCor's): a recording without the notice may still come from a device the model "
            "never heard (docs/results.md, \"Unfamiliar recordings\").")
    for limit in meta.get("known_limits", []):
        lines.append(f"- {limit}")
    return "\n".join(lines) + "\n"


def _weak_subsets(meta: dict[str, Any]) -> str:
    """The subsets (with at least 5 recordings of each class) scored under 0.80 ROC-AUC."""
    validation = meta.get("validation") or {}
    weak = []
    for name, m in sorted((validation.get("per_subset") or {}).items()):
        n_abnormal = m.get("n_abnormal", 0)
        if n_abnormal >= 5 and m.get("n", 0) - n_abnormal >= 5 and m.get("roc_auc", 1) < 0.8:
            weak.append(f"{name} {m['roc_auc']:.2f}")
    if not weak:
        return ""
    return "ROC-AUC " + ", ".join(weak) + f" against {validation['overall']['roc_auc']:.2f}"


def _expert_seeds(expert: dict[str, Any]) -> tuple[int, str]:
    """The feature expert's member count and its seeds as the card words them."""
    count, seed = int(expert.get("members", 1)), int(expert.get("seed", 0))
    return count, f"seed {seed}" if count == 1 else f"seeds {seed}-{seed + count - 1}"
