"""Refitting a model's threshold on a site's labelled recordings (audiofuse_core.site_threshold)
with a real model file and the real PhysioNet recordings of tests/data.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from audiofuse_core.cli import main
from audiofuse_core.datasets import scan
from audiofuse_core.errors import AudioFuseError, DatasetError
from audiofuse_core.inference import Classifier
from audiofuse_core.metrics import best_threshold
from audiofuse_core.model_card import render_model_card
from audiofuse_core.modelfile import read_model_metadata
from audiofuse_core.site_threshold import refit_threshold


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def records(physionet_dir):
    found = scan(physionet_dir).records
    assert sum(r.label for r in found) == 7 and len(found) == 14
    return found


def test_the_copy_gets_the_site_s_threshold_and_the_original_is_untouched(
        untrained_model_path, records, tmp_path):
    before = _digest(untrained_model_path)
    out = tmp_path / "clinic.keras"
    done = refit_threshold(untrained_model_path, records, out, site="Clinic X", bootstrap=50,
                           min_per_class=3)
    assert _digest(untrained_model_path) == before
    labels, scores = done.report.scored()
    assert len(labels) == 14
    assert done.threshold_after == pytest.approx(best_threshold(labels, scores))
    assert done.threshold_before == pytest.approx(Classifier(untrained_model_path).threshold)
    # Youden's J at the new threshold is at least the old one's, on these recordings.
    j = lambda m: m["sensitivity"] + m["specificity"] - 1  # noqa: E731
    assert j(done.after) >= j(done.before) - 1e-9
    assert done.after["roc_auc"] == pytest.approx(done.before["roc_auc"])

    meta = read_model_metadata(out)
    assert meta["threshold"] == pytest.approx(done.threshold_after)
    assert meta["version"].endswith(tuple("0123456789")) and "+site-" in meta["version"]
    entry = meta["site_thresholds"][-1]
    assert (entry["site"], entry["n"], entry["n_abnormal"]) == ("Clinic X", 14, 7)
    assert entry["source"] == untrained_model_path.name
    assert "refitted for Clinic X" in meta["threshold_rule"]
    card = render_model_card(meta)
    assert "## Threshold refitted for Clinic X" in card and "(optimistic)" in card
    assert "Threshold refitted for Clinic X" in done.to_markdown()

    # Same weights: the same probability, now judged against the new threshold.
    original, copy = Classifier(untrained_model_path), Classifier(out)
    a, b = original.predict_file(records[0].path), copy.predict_file(records[0].path)
    assert np.isclose(a.probability, b.probability, atol=1e-6)
    assert b.threshold == pytest.approx(done.threshold_after)


def test_nothing_is_overwritten(untrained_model_path, records, tmp_path):
    existing = tmp_path / "taken.keras"
    existing.write_bytes(b"a clinic's earlier model")
    with pytest.raises(AudioFuseError, match="already exists"):
        refit_threshold(untrained_model_path, records, existing, site="X", min_per_class=3)
    assert existing.read_bytes() == b"a clinic's earlier model"
    before = _digest(untrained_model_path)
    with pytest.raises(AudioFuseError, match="already exists"):
        refit_threshold(untrained_model_path, records, untrained_model_path, site="X",
                        min_per_class=3)
    assert _digest(untrained_model_path) == before


def test_too_few_recordings_of_a_class_write_nothing(untrained_model_path, records, tmp_path):
    out = tmp_path / "clinic.keras"
    with pytest.raises(DatasetError, match="7 normal and 7 abnormal.*at least 10 of each"):
        refit_threshold(untrained_model_path, records, out, site="Clinic X", bootstrap=10)
    assert not out.exists()


def test_command_line_refuses_with_the_reason(untrained_model_path, physionet_dir, tmp_path,
                                              capsys):
    out = tmp_path / "clinic.keras"
    code = main(["refit-threshold", str(untrained_model_path), str(physionet_dir), "--out",
                 str(out), "--site", "Clinic X", "--bootstrap", "10"])
    assert code == 2 and not out.exists()
    assert "at least 10 of each are needed" in capsys.readouterr().err
    code = main(["refit-threshold", str(untrained_model_path), str(physionet_dir), "--out",
                 str(tmp_path / "clinic.txt")])
    assert code == 2 and "must end in .keras" in capsys.readouterr().err


def test_command_line_writes_the_copy_and_prints_the_figures(untrained_model_path,
                                                             physionet_dir, tmp_path, capsys):
    out = tmp_path / "clinic.keras"
    args = ["refit-threshold", str(untrained_model_path), str(physionet_dir), "--out", str(out),
            "--bootstrap", "10", "--min-per-class", "3"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "# Threshold refitted for physionet2016" in text
    assert "(the original is unchanged)" in text
    assert read_model_metadata(out)["site_thresholds"][-1]["site"] == "physionet2016"
    assert main([*args[:4], str(tmp_path / "again.keras"), *args[5:], "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["before"]["n"] == 14 and figures["threshold_after"] == pytest.approx(
        read_model_metadata(tmp_path / "again.keras")["threshold"])
