"""``audiofuse reproduce``: the paper's two tables for our three models, beside the paper's figures.

In-domain (PhysioNet 2016) and under domain shift (PASCAL, zero-shot: the PhysioNet models,
untouched). A model is never scored on recordings it was trained on: recordings listed in a
model's ``split.training_records`` are left out (for every model alike, so the three are compared
on the same recordings). On our development set that leaves exactly the validation split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .datasets import Record, scan, scan_pascal
from .errors import AudioFuseError
from .evaluation import EvaluationReport, evaluate, fmt
from .modelfile import read_model_metadata
from .resources import models_dir

MODEL_FILES = {
    "spectrogram": "audiofuse-spectrogram.keras",
    "waveform": "audiofuse-waveform.keras",
    "fusion": "audiofuse-default.keras",
}
TITLES = {"spectrogram": "spectrogram ViT", "waveform": "waveform 1D CNN",
          "fusion": "AudioFuse fusion"}
# The paper's Tables (arXiv 2509.23454): ROC-AUC, MCC, F1 (abnormal), accuracy; PASCAL ROC-AUC.
PAPER_IN_DOMAIN = {
    "spectrogram": (0.8066, 0.4444, 0.7383, 0.7193),
    "waveform": (0.8223, 0.4884, 0.7057, 0.7376),
    "fusion": (0.8608, 0.5508, 0.7664, 0.7741),
}
PAPER_PASCAL = {"spectrogram": 0.4873, "waveform": 0.6782, "fusion": 0.7181}


@dataclass
class Reproduction:
    in_domain: dict[str, EvaluationReport]
    pascal: dict[str, EvaluationReport]
    n_excluded: int
    models: dict[str, Path]

    def to_markdown(self) -> str:
        lines = ["## In-domain: PhysioNet 2016", ""]
        first = next(iter(self.in_domain.values()))
        labels, _ = first.scored()
        lines.append(f"{len(labels)} recordings ({int(labels.sum())} abnormal) that none of the "
                     f"models was trained on; {self.n_excluded} training recordings left out. "
                     "Ours: recording-level, whole recording, each model's own threshold; "
                     "ROC-AUC with a 95 % bootstrap interval.")
        lines += ["", "| model | ROC-AUC (ours) [95 % CI] | paper | MCC (ours) | paper | "
                  "F1 abnormal (ours) | paper | accuracy (ours) | paper |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for kind, report in self.in_domain.items():
            m = report.overall
            p = PAPER_IN_DOMAIN[kind]
            lines.append(f"| {TITLES[kind]} | {fmt(m['roc_auc'])} [{fmt(m['roc_auc_low'])}, "
                         f"{fmt(m['roc_auc_high'])}] | {p[0]:.4f} | {fmt(m['mcc'])} | {p[1]:.4f} "
                         f"| {fmt(m['f1_abnormal'])} | {p[2]:.4f} | {fmt(m['accuracy'])} | "
                         f"{p[3]:.4f} |")
        subsets = sorted({s for r in self.in_domain.values() for s in r.per_subset})
        lines += ["", "Within each subset (one device and site each; ROC-AUC, n abnormal / n):",
                  "", "| model | " + " | ".join(subsets) + " |",
                  "|---|" + "---|" * len(subsets)]
        for kind, report in self.in_domain.items():
            cells = []
            for s in subsets:
                m = report.per_subset.get(s)
                cells.append("n/a" if m is None else
                             f"{fmt(m['roc_auc'])} ({m['n_abnormal']}/{m['n']})")
            lines.append(f"| {TITLES[kind]} | " + " | ".join(cells) + " |")
        lines += self._accepted_lines(subsets)
        if self.pascal:
            lines += ["", "## Domain shift: PASCAL CHSC 2011, zero-shot", ""]
            first = next(iter(self.pascal.values()))
            labels, _ = first.scored()
            lines.append(f"{len(labels)} labelled recordings ({int(labels.sum())} abnormal: "
                         "murmur, extra heart sound, extrasystole and artifact, as in the paper), "
                         f"{len(first.failed)} unreadable or too short. Our models are applied "
                         "untouched (the paper retrained a small head on PASCAL and scored a "
                         "15 % hold-out).")
            lines += ["", "| model | ROC-AUC (ours) [95 % CI] | change vs in-domain (ours) | "
                      "paper | change (paper) | set_a (phone) | set_b (clinic) |",
                      "|---|---|---|---|---|---|---|"]
            paper_change = {k: PAPER_PASCAL[k] / PAPER_IN_DOMAIN[k][0] - 1 for k in PAPER_PASCAL}
            for kind, report in self.pascal.items():
                m = report.overall
                base = self.in_domain.get(kind)
                change = "n/a"
                if base and base.overall["roc_auc"] and m["roc_auc"] is not None:
                    change = f"{100 * (m['roc_auc'] / base.overall['roc_auc'] - 1):+.1f} %"
                sets = [fmt((report.per_subset.get(s) or {}).get("roc_auc"))
                        for s in ("set_a", "set_b")]
                lines.append(f"| {TITLES[kind]} | {fmt(m['roc_auc'])} [{fmt(m['roc_auc_low'])}, "
                             f"{fmt(m['roc_auc_high'])}] | {change} | {PAPER_PASCAL[kind]:.4f} | "
                             f"{100 * paper_change[kind]:+.1f} % | {sets[0]} | {sets[1]} |")
        return "\n".join(lines) + "\n"

    def _accepted_lines(self, subsets: list[str]) -> list[str]:
        """The in-domain figures on the recordings the quality gate accepts: the answers the
        program gives (a refused recording gets no normal/abnormal answer, only the reason).
        """
        reports = {k: r for k, r in self.in_domain.items() if r.accepted is not None}
        if not reports:
            return []
        lines = ["", "As the program answers: on the recordings the quality gate accepts "
                 "(refused: no normal/abnormal answer, only the reason; ROC-AUC, n abnormal / n "
                 "within each subset):", "",
                 "| model | refused | ROC-AUC [95 % CI] | MCC | " + " | ".join(subsets) + " |",
                 "|---|---|---|---|" + "---|" * len(subsets)]
        for kind, report in reports.items():
            m, parts = report.accepted["overall"], report.accepted["per_subset"]
            cells = ["n/a" if s not in parts else
                     f"{fmt(parts[s]['roc_auc'])} ({parts[s]['n_abnormal']}/{parts[s]['n']})"
                     for s in subsets]
            lines.append(f"| {TITLES[kind]} | {report.accepted['refused']} of "
                         f"{len(report.scored()[0])} | {fmt(m['roc_auc'])} "
                         f"[{fmt(m['roc_auc_low'])}, {fmt(m['roc_auc_high'])}] | "
                         f"{fmt(m['mcc'])} | " + " | ".join(cells) + " |")
        return lines


def reproduce(physionet: str | Path, pascal: str | Path | None = None, *,
              models: dict[str, Path] | None = None, bootstrap: int = 1000,
              progress: Callable[[str, int, int], None] | None = None) -> Reproduction:
    """Evaluate the three models; see the module docstring."""
    models = models or {kind: models_dir() / name for kind, name in MODEL_FILES.items()}
    missing = [str(p) for p in models.values() if not Path(p).is_file()]
    if missing:
        raise AudioFuseError(f"model file(s) not found: {', '.join(missing)}")
    seen: set[str] = set()
    for path in models.values():
        split: dict[str, Any] = read_model_metadata(path).get("split") or {}
        seen.update(split.get("training_records") or [])
    physionet_scan = scan(physionet)
    if physionet_scan.layout != "physionet":
        raise AudioFuseError(f"{physionet}: not a PhysioNet 2016 folder (no REFERENCE.csv)")
    held_out = [r for r in physionet_scan.records if r.name not in seen]
    if not held_out:
        raise AudioFuseError(f"{physionet}: every recording was used to train the models; "
                             "nothing is left to evaluate")
    in_domain = {kind: _run(kind, path, held_out, bootstrap, progress, "PhysioNet")
                 for kind, path in models.items()}
    pascal_reports: dict[str, EvaluationReport] = {}
    if pascal is not None:
        pascal_records = scan_pascal(pascal, artifact_as_abnormal=True).records
        if not pascal_records:
            raise AudioFuseError(f"{pascal}: no labelled PASCAL recordings found")
        pascal_reports = {kind: _run(kind, path, pascal_records, bootstrap, progress, "PASCAL")
                          for kind, path in models.items()}
    return Reproduction(in_domain, pascal_reports, len(physionet_scan.records) - len(held_out),
                        {k: Path(v) for k, v in models.items()})


def _run(kind: str, path: Path, records: Sequence[Record], bootstrap: int, progress,
         label: str) -> EvaluationReport:
    from .inference import Classifier

    classifier = Classifier(path)

    def tick(i: int, n: int, _result) -> None:
        if progress is not None:
            progress(f"{label}: {TITLES[kind]}", i, n)

    return evaluate(classifier, records, bootstrap=bootstrap, progress=tick)
