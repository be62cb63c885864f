"""The feature expert: trained on a model's own split, carried in the model file, averaged with
the network at prediction; and what it refuses.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from audiofuse_core.datasets import scan
from audiofuse_core.errors import DatasetError, ModelError, TrainingError
from tests.core.test_models import TINY

keras = pytest.importorskip("keras")

from audiofuse_core.feature_expert import (  # noqa: E402
    MEMBERS,
    add_feature_expert,
    feature_count,
    feature_vector,
    fit_expert,
    record_features,
    subset_balanced_weights,
)
from audiofuse_core.inference import Classifier  # noqa: E402
from audiofuse_core.metrics import platt  # noqa: E402
from audiofuse_core.models import build_model, load_model, save_model  # noqa: E402
from audiofuse_core.training import train  # noqa: E402
from tests.core.test_training import REPO, _config  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory, physionet_dir):
    """A tiny waveform model trained on the real sample recordings, and the same model with a
    feature expert added.
    """
    records = scan(physionet_dir).records
    folder = tmp_path_factory.mktemp("feature-expert")
    base = train(_config(folder / "w", epochs=1, kind="waveform"), records).model_path
    with_expert = add_feature_expert(base, records, folder / "fx.keras", epochs=5,
                                     cache_dir=folder / "cache")
    return records, base, with_expert


def test_the_feature_vector_describes_a_real_recording_at_any_rate(normal_wav):
    from audiofuse_core.audio import load_audio

    at_2k = load_audio(normal_wav, sample_rate=2000)
    values = feature_vector(at_2k.samples, 2000, "cycle+mel/1")
    assert values.shape == (feature_count("cycle+mel/1"),)
    assert np.isfinite(values).all()  # a clean normal recording: every heart-cycle figure
    at_4k = load_audio(normal_wav, sample_rate=4000)
    again = feature_vector(at_4k.samples, 4000, "cycle+mel/1")  # resampled first: the same
    assert np.corrcoef(values, again)[0, 1] > 0.99
    dynamics = feature_vector(at_2k.samples, 2000, "cycle+mel-dynamics/1")
    assert dynamics.shape == (feature_count("cycle+mel-dynamics/1"),)
    # the same figures less the average spectrum (32 log-Mel levels after the cycle figures)
    np.testing.assert_array_equal(dynamics, np.delete(values, np.s_[71:103]))
    # the default set: the same figures, then the median heart cycle's shape
    default = feature_vector(at_2k.samples, 2000)
    assert default.shape == (feature_count("cycle+mel+profile/1"),) == (len(values) + 64,)
    np.testing.assert_array_equal(default[:len(values)], values)
    assert np.isfinite(default).all()
    with pytest.raises(ModelError, match="unknown feature set"):
        feature_vector(at_2k.samples, 2000, "spectral-flux/9")


def test_weights_balance_each_subset_and_each_class_within_it():
    labels = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0])
    subsets = np.array(["a"] * 4 + ["e"] * 5)
    w = subset_balanced_weights(labels, subsets)
    for s in "ae":
        for c in (0, 1):
            m = (subsets == s) & (labels == c)
            assert w[m].sum() == pytest.approx(len(labels) / 4)
    assert w.mean() == pytest.approx(1.0)


def test_the_model_file_carries_the_expert_and_the_network_unchanged(trained):
    from audiofuse_core.model_card import render_model_card

    records, base, with_expert = trained
    old, new = load_model(base), load_model(with_expert)
    assert old.feature_expert is None and new.feature_expert is not None
    for a, b in zip(old.get_weights(), [w.numpy() for w in new.weights
                                        if not w.path.split("/")[1] == "feature_expert"],
                    strict=True):
        np.testing.assert_array_equal(a, b)
    meta = new.metadata
    spec = meta["feature_expert"]
    assert spec["inputs"] == feature_count(spec["feature_set"]) and spec["temperature"] > 0
    assert spec["members"] == MEMBERS == new.feature_expert.members
    n_val = len(old.metadata["split"]["validation_records"])
    assert meta["validation"]["overall"]["n"] == n_val
    assert 0.0 < meta["threshold"] < 1.0
    assert meta["network"]["threshold"] == pytest.approx(old.metadata["threshold"])
    card = render_model_card(meta)
    assert "Second opinion: a feature expert" in card and "the feature expert alone" in card
    assert f"{MEMBERS} small networks (seeds 42-{41 + MEMBERS}" in card
    # the Keras layer and the numpy forward pass the Classifier uses agree, missing values too
    x = record_features(records[:4])
    x[0, :5] = np.nan
    np.testing.assert_allclose(new.feature_expert.numpy_forward()(x),
                               np.asarray(new.feature_expert(x.astype("float32")))[:, 0],
                               rtol=1e-4, atol=1e-4)


def test_an_expert_of_several_members_is_the_mean_of_their_logits(trained):
    """Each member is the expert one seed alone would have trained; the layer, its numpy twin and
    a saved and reloaded layer give the mean of their logits.
    """
    records, _, _ = trained
    x = record_features(records)
    y = np.array([r.label for r in records])
    subsets = np.array([r.subset for r in records])
    three = fit_expert(x, y, subsets, seed=7, epochs=4, members=3)
    singles = [fit_expert(x, y, subsets, seed=seed, epochs=4) for seed in (7, 8, 9)]
    x[0, :5] = np.nan
    each = np.stack([s.numpy_forward()(x) for s in singles])
    assert np.ptp(each, axis=0).max() > 1e-3  # the seeds differ, so the mean means something
    np.testing.assert_allclose(three.numpy_forward()(x), each.mean(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(three(x.astype("float32")))[:, 0], each.mean(axis=0),
                               rtol=1e-4, atol=1e-4)
    # member 1 keeps a single expert's layer names: files made before ensembles load as before
    assert [d.name for d in three.member_layers(0)] == ["hidden_1", "hidden_2", "logit"]
    assert [d.name for d in three.member_layers(2)] == ["m3_hidden_1", "m3_hidden_2", "m3_logit"]
    with pytest.raises(TrainingError, match="at least one member"):
        fit_expert(x, y, subsets, members=0)


def test_prediction_is_the_weighted_mean_of_the_network_and_the_expert(trained, abnormal_wav):
    _, base, with_expert = trained
    network = Classifier(base).predict_file(abnormal_wav)
    both = Classifier(with_expert)
    prediction = both.predict_file(abnormal_wav)
    extra = prediction.to_dict()
    assert extra["network_probability"] == pytest.approx(network.probability, abs=1e-5)
    weight = both.metadata["feature_expert"]["weight"]
    expected = ((1 - weight) * extra["network_probability"]
                + weight * extra["feature_expert_probability"])
    final = both.metadata["final_calibration"]
    if final is None:  # the mean's order was not kept by any positive slope: used as it is
        assert "mean_probability" not in extra
    else:  # the mean, then the last Platt scaling fitted on the validation recordings
        assert extra["mean_probability"] == pytest.approx(expected, abs=1e-5)
        expected = float(platt(expected, final["slope"], final["intercept"]))
        assert final["slope"] > 0
    assert prediction.probability == pytest.approx(expected, abs=1e-5)
    assert prediction.threshold == pytest.approx(both.metadata["threshold"])
    assert extra["window_threshold"] == pytest.approx(both.metadata["network"]["threshold"])
    assert prediction.label == ("abnormal" if prediction.probability >= prediction.threshold
                                else "normal") or prediction.label == "poor-quality"
    with pytest.raises(ModelError, match="carries no feature expert"):
        Classifier(base).feature_probability(both.load(abnormal_wav))


def test_refusals_write_nothing(tmp_path, trained, untrained_model_path):
    records, base, with_expert = trained
    with pytest.raises(ModelError, match="exists already"):
        add_feature_expert(base, records, with_expert)
    with pytest.raises(ModelError, match="carries a feature expert already"):
        add_feature_expert(with_expert, records, tmp_path / "a.keras")
    with pytest.raises(ModelError, match="does not record the recordings"):
        add_feature_expert(untrained_model_path, records, tmp_path / "b.keras")
    with pytest.raises(DatasetError, match="are not in the data given"):
        add_feature_expert(base, records[:5], tmp_path / "c.keras")
    with pytest.raises(ModelError, match="between 0 and 1"):
        add_feature_expert(base, records, tmp_path / "d.keras", weight=1.0)
    with pytest.raises(ModelError, match="1 to 20 members"):
        add_feature_expert(base, records, tmp_path / "m.keras", members=0)
    with pytest.raises(TrainingError, match="cancelled"):
        add_feature_expert(base, records, tmp_path / "e.keras", should_stop=lambda: True)
    assert not list(tmp_path.glob("*.keras"))


def test_a_model_without_the_expert_is_unchanged_by_the_new_code(trained):
    model = build_model(TINY, "waveform")
    assert model.feature_expert is None
    _, base, _ = trained
    prediction = Classifier(base).predict_file(trained[0][0].path)
    assert "network_probability" not in prediction.to_dict()


def test_command_line(tmp_path, trained, physionet_dir):
    _, base, _ = trained
    out = tmp_path / "cli.keras"
    run = subprocess.run([sys.executable, "-m", "audiofuse_core.cli", "add-feature-expert",
                          str(base), str(physionet_dir), "--out", str(out), "--epochs", "3",
                          "--members", "2", "--seed", "3"],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stderr
    assert out.is_file() and "Second opinion" in run.stdout
    assert "2 small networks (seeds 3-4" in run.stdout
    assert load_model(out).feature_expert.members == 2
    again = subprocess.run([sys.executable, "-m", "audiofuse_core.cli", "add-feature-expert",
                            str(base), str(physionet_dir), "--out", str(out)],
                           capture_output=True, text=True, cwd=REPO, timeout=300)
    assert again.returncode != 0 and "exists already" in again.stderr


def test_fine_tuning_keeps_the_network_and_leaves_the_expert_behind(tmp_path, trained):
    """The Advanced panel fine-tunes the active model (the bundled default carries an expert):
    the network is retrained and recalibrated alone, so the expert, whose mean with the old
    network set the threshold, is not carried over, and the card says so.
    """
    from audiofuse_core.model_card import render_model_card

    records, _, with_expert = trained
    result = train(_config(tmp_path / "ft", epochs=1, init_model=str(with_expert),
                           freeze_branches=True), records)
    tuned, source = load_model(result.model_path), load_model(with_expert)
    assert tuned.feature_expert is None and "network" not in tuned.metadata
    assert tuned.metadata["feature_expert_dropped"] == "fx.keras"
    encoder = tuned.waveform_encoder
    for a, b in zip(source.waveform_encoder.get_weights(), encoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # frozen, copied from the source's network
    assert "fx.keras's heart-cycle feature expert was not carried over" in \
        render_model_card(tuned.metadata | {"kind": tuned.kind,
                                            "preset": tuned.preset.to_dict()})


def test_a_site_threshold_copy_keeps_the_expert(tmp_path, trained):
    """refit-threshold scores the site with the Classifier (network and expert together) and
    writes a copy: the expert and its weights must come along.
    """
    from audiofuse_core.site_threshold import refit_threshold

    records, _, with_expert = trained
    done = refit_threshold(with_expert, records, tmp_path / "site.keras", site="Clinic X",
                           bootstrap=50, min_per_class=3)
    copy, source = load_model(done.out), load_model(with_expert)
    assert copy.feature_expert is not None
    for a, b in zip(source.feature_expert.get_weights(), copy.feature_expert.get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert copy.metadata["threshold"] == pytest.approx(done.threshold_after)
    assert copy.metadata["feature_expert"] == source.metadata["feature_expert"]


def test_an_unfamiliar_recording_is_told_apart_from_the_training_recordings(
        tmp_path, trained, abnormal_wav):
    """The file keeps how far the expert's own training recordings lie from their mean; a
    recording further out is marked and given a notice, one within is not.
    """
    from audiofuse_core.feature_expert import FAMILIAR_QUANTILE
    from audiofuse_core.inference import unfamiliar_notice

    records, _, with_expert = trained
    model = load_model(with_expert)
    kept = model.metadata["feature_expert"]["familiarity"]
    distance = model.feature_expert.numpy_distance()
    train_names = set(model.metadata["split"]["training_records"])
    x = record_features([r for r in records if r.name in train_names])
    own = distance(x)
    assert kept["limit"] == pytest.approx(np.quantile(own, FAMILIAR_QUANTILE))
    assert kept["training_records"] == len(own) and kept["quantile"] == FAMILIAR_QUANTILE
    # on these few recordings the quantile falls between the last two: only the furthest is out
    assert np.sum(own > kept["limit"]) <= int(np.ceil((1 - FAMILIAR_QUANTILE) * len(own)))
    # the training mean is at distance 0; a figure 5 spreads off on every value at 5
    centre = np.asarray(keras.ops.convert_to_numpy(model.feature_expert.centre))
    scale = np.asarray(keras.ops.convert_to_numpy(model.feature_expert.scale))
    assert distance(centre)[0] == pytest.approx(0.0, abs=1e-6)
    assert distance(centre + 5 * scale)[0] == pytest.approx(5.0, rel=1e-4)
    assert distance(centre + 50 * scale)[0] == pytest.approx(10.0, rel=1e-4)  # capped

    classifier = Classifier(with_expert, quality_gate=False)
    prediction = classifier.predict_file(abnormal_wav)
    found = prediction.extra["familiarity"]
    assert found["limit"] == pytest.approx(kept["limit"], abs=1e-3)
    audio = classifier.load(abnormal_wav)  # as the Classifier reads it
    values = feature_vector(audio.samples, audio.sample_rate,
                            model.metadata["feature_expert"]["feature_set"])
    assert found["distance"] == pytest.approx(distance(values)[0], abs=1e-3)
    assert found["unfamiliar"] == (found["distance"] > found["limit"])
    # the same recording against a limit below and above its distance (a copy of the file)
    for limit, unfamiliar in ((found["distance"] / 2, True), (found["distance"] * 2, False)):
        model.metadata["feature_expert"] = {**model.metadata["feature_expert"],
                                            "familiarity": {**kept, "limit": limit}}
        path = tmp_path / f"limit-{limit:.3f}.keras"
        save_model(model, path)
        p = Classifier(path, quality_gate=False).predict_file(abnormal_wav)
        assert p.extra["familiarity"]["unfamiliar"] is unfamiliar
        notice = unfamiliar_notice(p)
        assert (notice is not None) is unfamiliar
        if unfamiliar:
            assert "unlike those the model learned from" in notice and "99 %" in notice
            p.label = "poor-quality"  # a refused recording has no answer to qualify
            assert unfamiliar_notice(p) is None

