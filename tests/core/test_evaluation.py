"""Evaluation as the program answers: the quality gate's refusals are marked and the figures on
the recordings it accepts are reported beside those on all of them (real recordings, real model
file).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from audiofuse_core.audio import load_audio
from audiofuse_core.datasets import scan
from audiofuse_core.evaluation import evaluate
from audiofuse_core.inference import Classifier
from audiofuse_core.metrics import roc_auc
from audiofuse_core.quality import analyse_recording


@pytest.fixture(scope="module")
def records(physionet_dir):
    return scan(physionet_dir).records


def _gate_refuses(record) -> bool:
    audio = load_audio(record.path, sample_rate=2000)
    return not analyse_recording(audio.samples, audio.sample_rate)[0].ok


def test_refused_recordings_are_marked_and_the_accepted_ones_scored_apart(
        untrained_model_path, records, tmp_path):
    refused_by_gate = {r.name for r in records if _gate_refuses(r)}
    assert refused_by_gate, "the samples hold recordings the gate refuses (b0033, d0004)"
    report = evaluate(Classifier(untrained_model_path), records, bootstrap=20)

    marked = {r.record.name for r in report.results if r.refused}
    assert marked == refused_by_gate
    assert all(r.refused and "\n" not in r.refused for r in report.results
               if r.record.name in marked)
    # every readable recording stays in the main figures; the accepted ones are scored apart
    assert report.overall["n"] == len(records)
    accepted = report.accepted
    assert accepted["refused"] == len(marked)
    assert accepted["overall"]["n"] == len(records) - len(marked)
    kept = [r for r in report.results if not r.refused]
    assert accepted["overall"]["roc_auc"] == pytest.approx(roc_auc(
        np.array([r.record.label for r in kept]), np.array([r.probability for r in kept])))
    assert sum(m["n"] for m in accepted["per_subset"].values()) == len(kept)

    report.write(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert f"The quality gate refused {len(marked)} of {len(records)} recordings" in text
    assert f"| accepted | {len(kept)} (" in text
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["accepted_by_quality_gate"]["refused"] == len(marked)
    assert {row["path"].rsplit("/", 1)[-1].split(".")[0] for row in data["recordings"]
            if row["refused_by_quality_gate"]} == marked
    with (tmp_path / "predictions.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert {row["path"].rsplit("/", 1)[-1].split(".")[0] for row in rows
            if row["refused_by_quality_gate"]} == marked


def test_without_the_gate_nothing_is_refused(untrained_model_path, records):
    report = evaluate(Classifier(untrained_model_path, quality_gate=False), records,
                      bootstrap=20)
    assert report.accepted is None and not any(r.refused for r in report.results)
    assert "quality gate refused" not in report.to_markdown()
