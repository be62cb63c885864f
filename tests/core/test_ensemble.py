"""The mean-of-experts fusion: what it computes, how it is built from two trained experts, and
what it refuses.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from audiofuse_core.datasets import scan
from audiofuse_core.errors import AudioFuseError, ModelError, TrainingError
from tests.core.test_models import TINY

keras = pytest.importorskip("keras")

from audiofuse_core.ensemble import combine_experts  # noqa: E402
from audiofuse_core.models import build_model, load_model, save_model  # noqa: E402
from audiofuse_core.training import train  # noqa: E402
from tests.core.test_training import REPO, _config  # noqa: E402


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_mean_model_outputs_the_mean_of_its_members_calibrated_probabilities(tmp_path):
    model = build_model(TINY.replace(fusion_rule="mean"), "fusion",
                        metadata={"member_temperatures": [2.0, 0.5]})
    assert model.spectrogram_encoder is None and len(model.members) == 2
    x = np.random.default_rng(0).standard_normal((5, TINY.window_samples)).astype("float32")
    spectrogram, waveform = (np.asarray(m(x))[:, 0] for m in model.members)
    expected = 0.5 * (_sigmoid(spectrogram / 2.0) + _sigmoid(waveform / 0.5))
    np.testing.assert_allclose(_sigmoid(np.asarray(model(x))[:, 0]), expected, atol=1e-5)
    loaded = load_model(save_model(model, tmp_path / "m.keras"))
    assert loaded.member_temperatures == [2.0, 0.5]
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-5)


def test_an_ensemble_gives_each_branch_half_the_weight(tmp_path):
    kinds = ["spectrogram", "spectrogram", "spectrogram", "waveform"]
    model = build_model(TINY.replace(fusion_rule="mean"), "fusion",
                        metadata={"member_kinds": kinds, "member_temperatures": [1, 2, 3, 4]})
    assert [m.kind for m in model.members] == kinds
    x = np.random.default_rng(1).standard_normal((4, TINY.window_samples)).astype("float32")
    p = [_sigmoid(np.asarray(m(x))[:, 0] / t) for m, t in zip(model.members, [1, 2, 3, 4])]
    expected = (p[0] + p[1] + p[2]) / 6.0 + p[3] / 2.0
    np.testing.assert_allclose(_sigmoid(np.asarray(model(x))[:, 0]), expected, atol=1e-5)
    loaded = load_model(save_model(model, tmp_path / "e.keras"))
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-5)
    with pytest.raises(ValueError, match="needs spectrogram and waveform members"):
        build_model(TINY.replace(fusion_rule="mean"), "fusion",
                    metadata={"member_kinds": ["waveform", "waveform"]})


@pytest.fixture(scope="module")
def experts(tmp_path_factory, physionet_dir):
    records = scan(physionet_dir).records
    folder = tmp_path_factory.mktemp("experts")
    spec = train(_config(folder / "s", epochs=1, kind="spectrogram"), records).model_path
    wave = train(_config(folder / "w", epochs=1, kind="waveform"), records).model_path
    return records, spec, wave


def test_combine_builds_a_calibrated_model_with_its_card(tmp_path, experts):
    from audiofuse_core.model_card import render_model_card

    records, spec, wave = experts
    out = combine_experts([spec, wave], records, tmp_path / "mean.keras")
    model = load_model(out)
    assert model.kind == "fusion" and model.preset.fusion_rule == "mean"
    for member, path in zip(model.members, (spec, wave)):
        for a, b in zip(member.get_weights(), load_model(path).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    meta = model.metadata
    validation = set(load_model(spec).metadata["split"]["validation_records"])
    assert meta["validation"]["overall"]["n"] == len(validation)
    assert 0.0 < meta["threshold"] < 1.0 and meta["temperature"] > 0
    assert meta["training"]["fusion_rule"] == "mean"
    card = render_model_card(meta)
    assert "the mean of the calibrated probabilities" in card
    # each expert's own budget and best epoch: the experts may have been trained for different
    # numbers of epochs
    assert [(m["kind"], m["epochs"]) for m in meta["members"]] == [("spectrogram", 1),
                                                                   ("waveform", 1)]
    assert "the spectrogram expert at most 1 epoch (best 1) and the waveform expert" in card
    with pytest.raises(ModelError, match="exists already"):
        combine_experts([spec, wave], records, out)
    with pytest.raises(TrainingError, match="not trained from scratch"):
        train(_config(tmp_path / "t", preset=TINY.replace(fusion_rule="mean").to_dict()),
              records)


def test_combine_refuses_what_cannot_be_combined(tmp_path, experts):
    records, spec, wave = experts
    with pytest.raises(ModelError, match="no spectrogram model among the experts"):
        combine_experts([wave], records, tmp_path / "a.keras")
    with pytest.raises(ModelError, match="the same model file is given twice"):
        combine_experts([spec, wave, spec], records, tmp_path / "a.keras")
    fused = combine_experts([spec, wave], records, tmp_path / "fused.keras")
    with pytest.raises(ModelError, match="a fusion model; combine single-branch models"):
        combine_experts([fused, wave], records, tmp_path / "a.keras")
    with pytest.raises(AudioFuseError, match="validation recordings are not in the data"):
        combine_experts([spec, wave], records[:3], tmp_path / "b.keras")
    names = [r.name for r in records if r.subset in ("training-a", "training-e")]
    other = train(_config(tmp_path / "o", epochs=1, kind="waveform", validation_records=names),
                  records).model_path
    with pytest.raises(ModelError, match="not validated on the same recordings"):
        combine_experts([spec, other], records, tmp_path / "c.keras")
    assert not list(tmp_path.glob("[abc].keras"))  # nothing written


def test_combine_command_line(tmp_path, experts, physionet_dir):
    _, spec, wave = experts
    out = tmp_path / "cli.keras"
    run = subprocess.run([sys.executable, "-m", "audiofuse_core.cli", "combine", str(spec),
                          str(wave), str(physionet_dir), "--out", str(out)],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stderr
    assert out.is_file() and "# Model card: cli" in run.stdout
    again = subprocess.run([sys.executable, "-m", "audiofuse_core.cli", "combine", str(spec),
                            str(wave), str(physionet_dir), "--out", str(out)],
                           capture_output=True, text=True, cwd=REPO, timeout=300)
    assert again.returncode == 2 and "exists already" in again.stderr
    no_data = subprocess.run([sys.executable, "-m", "audiofuse_core.cli", "combine", str(spec),
                              str(wave), "--out", str(tmp_path / "x.keras")],
                             capture_output=True, text=True, cwd=REPO, timeout=300)
    assert no_data.returncode == 2 and "give the data-set folder" in no_data.stderr
    info = json.loads(subprocess.run(
        [sys.executable, "-m", "audiofuse_core.cli", "predict", "--json", "--model", str(out),
         str(next(physionet_dir.rglob("*.wav")))],
        capture_output=True, text=True, cwd=REPO, timeout=300).stdout.splitlines()[0])
    assert 0.0 <= info["probability"] <= 1.0 or info["label"] == "poor-quality"


def test_a_mean_of_experts_model_can_be_fine_tuned_head_only(tmp_path, experts):
    """The panel's "fine-tune the active model" and the paper's transfer protocol must work on
    the bundled default, which is a mean-of-experts fusion.
    """
    records, spec, wave = experts
    base = combine_experts([wave, spec], records, tmp_path / "base.keras")
    result = train(_config(tmp_path / "ft", epochs=1, init_model=str(base),
                           freeze_branches=True), records)
    before, after = load_model(base), load_model(result.model_path)
    assert after.preset.fusion_rule == "mean"
    from audiofuse_core.model_card import render_model_card
    from audiofuse_core.modelfile import read_model_metadata

    card = render_model_card(read_model_metadata(result.model_path))  # what `info` shows
    assert "Fusion: the mean of the two experts' calibrated probabilities" in card
    assert "Fine-tuned from base.keras (branches frozen, head retrained)" in card
    assert after.member_temperatures == before.member_temperatures
    for old, new in zip(before.members, after.members):
        encoder = old.spectrogram_encoder or old.waveform_encoder
        tuned = new.spectrogram_encoder or new.waveform_encoder
        for a, b in zip(encoder.get_weights(), tuned.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)  # frozen
    assert any(not np.allclose(old.head_logit.get_weights()[0], new.head_logit.get_weights()[0])
               for old, new in zip(before.members, after.members))  # the heads learned


def test_combine_makes_an_ensemble_of_seeds_and_refuses_mismatched_settings(tmp_path, experts):
    from audiofuse_core.model_card import render_model_card

    records, spec, wave = experts
    other_seed = train(_config(tmp_path / "s7", epochs=1, kind="spectrogram", seed=7),
                       records).model_path
    from audiofuse_core.modelfile import read_model_metadata

    out = combine_experts([wave, other_seed, spec], records, tmp_path / "e.keras")
    model = load_model(out)
    assert model.member_kinds == ["spectrogram", "spectrogram", "waveform"]
    assert model.member_weights == [0.25, 0.25, 0.5]
    for member, path in zip(model.members, (other_seed, spec, wave)):
        np.testing.assert_array_equal(member.get_weights()[0], load_model(path).get_weights()[0])
    assert sorted(model.metadata["training"]["seed"]) == [7, 42]
    card = render_model_card(read_model_metadata(out))
    assert "2 spectrogram and 1 waveform experts, each branch weighted one half" in card
    assert "Seeds 7, 42" in card
    coarse = train(_config(tmp_path / "m", epochs=1, kind="spectrogram",
                           preset=TINY.replace(n_mels=32).to_dict()), records).model_path
    with pytest.raises(ModelError, match="differ in n_mels"):
        combine_experts([spec, coarse, wave], records, tmp_path / "x.keras")
    assert not (tmp_path / "x.keras").exists()
