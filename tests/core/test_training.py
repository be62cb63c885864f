"""Training end to end on real recordings, with a tiny model: split, weights, checkpoints,
resume after a kill, stop requests, and a two-device tf.distribute run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from audiofuse_core.datasets import Record, scan
from audiofuse_core.errors import TrainingError
from audiofuse_core.training import TrainConfig, class_weights, split_records, train
from tests.core.test_models import TINY

REPO = Path(__file__).resolve().parents[2]


def _records(n_subsets: int = 3, per_class: int = 10) -> list[Record]:
    return [Record(Path(f"{s}{label}{i}.wav"), label, f"s{s}", "x")
            for s in range(n_subsets) for label in (0, 1) for i in range(per_class + 5 * s * label)]


def test_split_is_stratified_by_subset_and_label_and_repeatable():
    records = _records()
    train_idx, val_idx = split_records(records, 0.2, seed=3)
    assert not set(train_idx) & set(val_idx) and len(train_idx) + len(val_idx) == len(records)
    for s in range(3):
        for label in (0, 1):
            members = [i for i, r in enumerate(records) if r.subset == f"s{s}" and r.label == label]
            share = len(set(members) & set(val_idx)) / len(members)
            assert 0.1 <= share <= 0.3
    assert split_records(records, 0.2, seed=3) == (train_idx, val_idx)
    assert split_records(records, 0.2, seed=4) != (train_idx, val_idx)


def test_subset_class_weights_balance_each_subset():
    records = [Record(Path(f"{i}"), int(i < 2), "a", "x") for i in range(10)] + \
              [Record(Path(f"b{i}"), int(i < 8), "b", "x") for i in range(10)]
    w = class_weights(records, "subset")
    labels = np.array([r.label for r in records])
    subsets = np.array([r.subset for r in records])
    for s in ("a", "b"):
        m = subsets == s
        assert w[m & (labels == 1)].sum() == pytest.approx(w[m & (labels == 0)].sum())
    assert w.mean() == pytest.approx(1.0)
    assert w[subsets == "a"].sum() == pytest.approx(w[subsets == "b"].sum())
    assert np.allclose(class_weights(records, "none"), 1.0)
    more = records + [Record(Path(f"c{i}"), int(i < 20), "c", "x") for i in range(40)]
    sub = np.array([r.subset for r in more])
    even = class_weights(more, "subset", subset_balance=0.0)
    assert even[sub == "a"].sum() == pytest.approx(even[sub == "c"].sum())
    root = class_weights(more, "subset", subset_balance=0.5)
    assert root[sub == "c"].sum() / root[sub == "a"].sum() == pytest.approx(2.0)


@pytest.fixture(scope="module")
def samples(physionet_dir):
    return scan(physionet_dir).records


def _config(tmp_path, **changes):
    values = dict(out=str(tmp_path / "m.keras"), preset=TINY.to_dict(), epochs=2, batch_size=4,
                  val_fraction=0.3, windows_per_record=1, patience=5, split_seed=1)
    values.update(changes)
    return TrainConfig(**values)


def test_tiny_training_yields_a_loadable_model_with_its_card(tmp_path, samples):
    from audiofuse_core.inference import Classifier

    events = []
    result = train(_config(tmp_path), samples, progress=events.append)
    assert result.model_path.is_file() and len(result.history) == 2
    phases = {e.phase for e in events}
    assert {"loading", "training", "validating", "finished"} <= phases
    meta = result.metadata
    assert 0.0 <= meta["threshold"] <= 1.0 and meta["temperature"] > 0
    assert meta["split"]["validation_records"] and meta["data"]["n_train"] > 0
    assert meta["intended_use"].endswith("not a diagnosis.")
    classifier = Classifier(result.model_path)
    assert classifier.preset == TINY and classifier.threshold == pytest.approx(meta["threshold"])
    prediction = classifier.predict_file(samples[0].path)
    assert 0.0 <= prediction.probability <= 1.0
    state = json.loads((result.run_dir / "state.json").read_text())
    assert state["finished"] and state["epoch"] == 2


def test_should_stop_keeps_the_best_model(tmp_path, samples):
    seen = {"training": False, "calls": 0}

    def progress(p) -> None:
        seen["training"] |= p.phase == "training"

    def stop() -> bool:  # "Stop early" pressed at the 5th batch (checked after every batch)
        seen["calls"] += seen["training"]
        return seen["calls"] >= 5

    result = train(_config(tmp_path, epochs=50), samples, progress=progress, should_stop=stop)
    assert result.stopped_early and result.model_path.is_file()
    assert 1 <= len(result.history) <= 2  # a partial epoch is never scored


def test_one_class_is_refused(tmp_path, samples):
    normals = [r for r in samples if r.label == 0]
    with pytest.raises(TrainingError, match="both normal and abnormal"):
        train(_config(tmp_path), normals)


def test_fine_tune_with_frozen_branches(tmp_path, samples):
    base = train(_config(tmp_path / "base", epochs=1), samples).model_path
    result = train(_config(tmp_path, epochs=1, init_model=str(base), freeze_branches=True),
                   samples)
    from audiofuse_core.models import load_model

    before, after = load_model(base), load_model(result.model_path)
    for a, b in zip(before.waveform_encoder.get_weights(), after.waveform_encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(before.head_logit.get_weights()[0], after.head_logit.get_weights()[0])


def test_fusion_built_from_two_trained_experts(tmp_path, samples):
    from audiofuse_core.models import load_model

    spec = train(_config(tmp_path / "s", epochs=1, kind="spectrogram"), samples).model_path
    # the waveform expert may differ in what only its branch reads (here: whitening)
    whitened = TINY.replace(waveform_whiten_hz=20.0).to_dict()
    wave = train(_config(tmp_path / "w", epochs=1, kind="waveform", preset=whitened),
                 samples).model_path
    result = train(_config(tmp_path, epochs=1, branch_models=[str(spec), str(wave)],
                           freeze_branches=True, branch_dropout=0.3), samples)
    fused = load_model(result.model_path)
    assert fused.kind == "fusion" and fused.preset.waveform_whiten_hz == 20.0
    assert fused.preset.branch_dropout == 0.3 and fused.branch_seed is not None
    assert fused.preset.embed_dim == TINY.embed_dim and fused.whiten is not None
    for expert, encoder in ((load_model(spec).spectrogram_encoder, fused.spectrogram_encoder),
                            (load_model(wave).waveform_encoder, fused.waveform_encoder)):
        for a, b in zip(expert.get_weights(), encoder.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert result.metadata["training"]["branch_models"] == [str(spec), str(wave)]
    from audiofuse_core.model_card import render_model_card

    assert f"single-branch models {spec.name} and {wave.name} (frozen" in render_model_card(
        result.metadata)
    with pytest.raises(TrainingError, match="a waveform model where a spectrogram model"):
        train(_config(tmp_path / "x", branch_models=[str(wave), str(spec)]), samples)
    other = train(_config(tmp_path / "o", epochs=1, kind="waveform",
                          preset=TINY.replace(bandpass_hz=(50.0, 700.0)).to_dict()),
                  samples).model_path
    with pytest.raises(TrainingError, match="differ in bandpass_hz"):
        train(_config(tmp_path / "y", branch_models=[str(spec), str(other)]), samples)


def _cli_train(tmp_path, *extra):
    preset = tmp_path / "tiny.json"
    preset.write_text(json.dumps(TINY.to_dict()))
    return [sys.executable, "-m", "audiofuse_core.cli", "train",
            str(REPO / "tests/data/physionet2016"), "--preset", str(preset),
            "--out", str(tmp_path / "cli.keras"), "--batch-size", "4", "--val-fraction", "0.3",
            "--windows-per-record", "1", "--steps-per-epoch", "3", *extra]


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    env = dict(os.environ)
    process = subprocess.Popen(_cli_train(tmp_path, "--epochs", "40"), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "cli.run" / "state.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if state.is_file() and json.loads(state.read_text())["epoch"] >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = json.loads(state.read_text())
    done = killed["epoch"]
    assert 2 <= done < 40 and not (tmp_path / "cli.keras").exists()
    assert killed["seconds"] >= sum(h["seconds"] for h in killed["history"])
    # the same command without --resume would have thrown the checkpoints away: refused
    again = subprocess.run(_cli_train(tmp_path, "--epochs", "40"), env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 2 and "holds an interrupted run" in again.stderr
    assert "--resume" in again.stderr and json.loads(state.read_text()) == killed
    resumed = subprocess.run(_cli_train(tmp_path, "--epochs", str(done + 1), "--resume"),
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    final = json.loads(state.read_text())
    assert final["finished"] and final["epoch"] == done + 1
    assert [h["epoch"] for h in final["history"]] == list(range(1, done + 2))
    assert (tmp_path / "cli.keras").is_file()
    model_bytes = (tmp_path / "cli.keras").read_bytes()
    again = subprocess.run(_cli_train(tmp_path, "--epochs", "1"), env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 2 and "exists" in again.stderr and "--overwrite" in again.stderr
    assert (tmp_path / "cli.keras").read_bytes() == model_bytes  # the model is not lost
    # --resume on the finished run would train past its end and replace the model: refused
    again = subprocess.run(_cli_train(tmp_path, "--epochs", str(done + 3), "--resume"), env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "nothing to resume" in again.stderr
    assert "finished" in again.stderr and json.loads(state.read_text()) == final
    assert (tmp_path / "cli.keras").read_bytes() == model_bytes
    again = subprocess.run(_cli_train(tmp_path, "--epochs", "1", "--resume", "--overwrite"),
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "choose one" in again.stderr
    assert (tmp_path / "cli.keras").read_bytes() == model_bytes
    from audiofuse_core.modelfile import read_model_metadata

    # the model card's training time counts the killed run's epochs too
    assert read_model_metadata(tmp_path / "cli.keras")["training_seconds"] >= round(
        sum(h["seconds"] for h in final["history"]), 1)


@pytest.mark.slow
def test_training_under_a_two_device_distribution_strategy(tmp_path):
    script = f"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
from audiofuse_core.datasets import scan
from audiofuse_core.training import TrainConfig, train, get_strategy
config = TrainConfig(out={str(tmp_path / 'dist.keras')!r}, preset={TINY.to_dict()!r},
                     epochs=1, batch_size=4, val_fraction=0.3, windows_per_record=1,
                     devices=["/cpu:0", "/cpu:1"])
strategy = get_strategy(config.devices)
result = train(config, scan({str(REPO / 'tests/data/physionet2016')!r}).records)
print(json.dumps({{"replicas": strategy.num_replicas_in_sync, "epochs": len(result.history)}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"replicas": 2, "epochs": 1}
    assert (tmp_path / "dist.keras").is_file()


def test_a_stop_during_validation_ends_it_at_the_next_batch(tmp_path, samples):
    seen = {"validations": 0}

    def progress(p) -> None:
        if p.phase == "validating" and not p.message:
            seen["validations"] += 1

    def stop() -> bool:  # "Stop early" pressed as the second epoch's validation begins
        return seen["validations"] >= 2

    result = train(_config(tmp_path, epochs=50, batch_size=2), samples, progress=progress,
                   should_stop=stop)
    assert result.stopped_early and result.model_path.is_file()
    # the second epoch's validation was abandoned, not finished and then stopped
    assert len(result.history) == 1 and result.best_epoch == 1


def test_branch_dropout_is_refused_without_two_branches(tmp_path, samples):
    with pytest.raises(TrainingError, match="branch dropout needs a fusion model"):
        train(_config(tmp_path, kind="waveform", branch_dropout=0.3), samples)
    with pytest.raises(TrainingError, match="branch dropout must be"):
        train(_config(tmp_path, branch_dropout=1.0), samples)


def test_gradient_reversal_is_the_identity_forward_and_negates_the_gradient():
    import tensorflow as tf

    from audiofuse_core.models import GradientReversal

    x = tf.constant([[1.0, -2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = GradientReversal(0.3)(x)
        total = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 4.0]]))
    assert np.allclose(y.numpy(), x.numpy())
    assert np.allclose(tape.gradient(total, x).numpy(), [[-0.3, -0.6, -1.2]])


def test_domain_adversarial_training_keeps_a_plain_model_and_resumes(tmp_path, samples):
    from audiofuse_core.models import AudioFuseModel, load_model

    assert len({r.subset for r in samples}) >= 2
    first = train(_config(tmp_path, kind="waveform", domain_adversarial=0.5), samples)
    model = load_model(first.model_path)
    assert type(model) is AudioFuseModel and model.kind == "waveform"
    assert model.metadata["training"]["domain_adversarial"] == 0.5
    from audiofuse_core.model_card import render_model_card

    assert "gradient reversed with weight 0.5" in render_model_card(model.metadata)
    assert all(np.isfinite(h["loss"]) for h in first.history)
    # as if killed after two epochs: the checkpoint holds the wrapper with its domain head and
    # optimiser, and the run goes on from it
    state_path = first.run_dir / "state.json"
    state = json.loads(state_path.read_text())
    state_path.write_text(json.dumps({**state, "finished": False}))
    again = train(_config(tmp_path, kind="waveform", domain_adversarial=0.5, epochs=3,
                          resume=True), samples)
    assert [h["epoch"] for h in again.history] == [1, 2, 3]
    assert type(load_model(again.model_path)) is AudioFuseModel


def test_within_subset_ranking_loss_ignores_a_subset_offset_and_ranks_within_subsets():
    import keras

    from audiofuse_core.models import WithinSubsetRanking

    loss = WithinSubsetRanking(1.0)
    y = np.array([[1, 0], [0, 0], [1, 1], [0, 1]], dtype="float32")  # label, subset
    logits = np.array([[2.0], [-1.0], [0.5], [0.0]], dtype="float32")
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    ranking = float(loss(y, logits)) - float(bce(y[:, :1], logits))
    # two pairs, one per subset: softplus(-3) and softplus(-0.5); no pair across subsets
    expected = (np.log1p(np.exp(-3.0)) + np.log1p(np.exp(-0.5))) / 2
    assert ranking == pytest.approx(expected, rel=1e-5)
    # moving one subset's logits by a constant changes the cross-entropy, not the ranking part
    shifted = logits + np.array([[0.0], [0.0], [4.0], [4.0]], dtype="float32")
    assert float(loss(y, shifted)) - float(bce(y[:, :1], shifted)) == pytest.approx(expected,
                                                                                     rel=1e-5)
    # the same windows ranked the wrong way round cost more
    assert float(loss(y, -logits)) > float(loss(y, logits))
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert restored.weight == 1.0


def test_within_subset_ranking_training_resumes_and_is_on_the_card(tmp_path, samples):
    from audiofuse_core.model_card import render_model_card
    from audiofuse_core.models import load_model

    first = train(_config(tmp_path, kind="waveform", subset_ranking=1.0), samples)
    model = load_model(first.model_path)
    assert model.metadata["training"]["subset_ranking"] == 1.0
    assert "ranking loss between abnormal and normal windows of the same subset" in (
        render_model_card(model.metadata))
    assert all(np.isfinite(h["loss"]) for h in first.history)
    state_path = first.run_dir / "state.json"
    state = json.loads(state_path.read_text())
    state_path.write_text(json.dumps({**state, "finished": False}))
    again = train(_config(tmp_path, kind="waveform", subset_ranking=1.0, epochs=3, resume=True),
                  samples)
    assert [h["epoch"] for h in again.history] == [1, 2, 3]
    with pytest.raises(TrainingError, match="not both"):
        train(_config(tmp_path, kind="waveform", subset_ranking=1.0, domain_adversarial=0.5),
              samples)


def test_a_run_with_a_random_frequency_response_says_so_on_its_card(tmp_path, samples):
    from audiofuse_core.model_card import render_model_card

    result = train(_config(tmp_path, kind="waveform", epochs=1, random_response_db=6.0), samples)
    assert result.metadata["training"]["random_response_db"] == 6.0
    assert all(np.isfinite(h["loss"]) for h in result.history)
    assert "random smooth frequency response" in render_model_card(result.metadata)
    plain = train(_config(tmp_path, out=str(tmp_path / "plain.keras"), kind="waveform",
                          epochs=1), samples)
    assert "random smooth frequency response" not in render_model_card(plain.metadata)


def test_domain_adversarial_training_is_refused_where_it_cannot_work(tmp_path, samples):
    import dataclasses

    one_subset = [dataclasses.replace(r, subset="one-device") for r in samples]
    with pytest.raises(TrainingError, match="at least two subsets"):
        train(_config(tmp_path, kind="waveform", domain_adversarial=0.5), one_subset)
    with pytest.raises(TrainingError, match="frozen or given experts"):
        train(_config(tmp_path, kind="fusion", domain_adversarial=0.5, freeze_branches=True),
              samples)
    with pytest.raises(TrainingError, match="between 0 and 10"):
        train(_config(tmp_path, domain_adversarial=-1.0), samples)


def test_the_xla_validation_pass_matches_the_plain_one_and_a_run_uses_it(
        tmp_path, samples, monkeypatch):
    from audiofuse_core import training
    from audiofuse_core.models import build_model
    from audiofuse_core.training import _forward

    model = build_model(TINY, "fusion", seed=3)
    windows = np.random.default_rng(0).normal(size=(5, TINY.window_samples)).astype(np.float32)
    plain = np.asarray(_forward(model, TINY.window_samples, False)(windows))
    compiled = _forward(model, TINY.window_samples, True)
    assert np.allclose(np.asarray(compiled(windows)), plain, atol=1e-4)
    assert np.allclose(np.asarray(compiled(windows[:2])), plain[:2], atol=1e-4)  # another shape
    model.head_logit.set_weights([w + 0.5 for w in model.head_logit.get_weights()])
    moved = np.asarray(compiled(windows))  # it reads the current weights, not a copy
    assert not np.allclose(moved, plain, atol=1e-3)
    assert np.allclose(moved, np.asarray(model(windows, training=False)), atol=1e-4)

    # a run with so few validation windows keeps the plain call; with the floor lowered, the
    # run validates every epoch and chooses its threshold through the compiled pass
    compiled_calls = []
    plain_forward = training._forward
    monkeypatch.setattr(training, "XLA_MIN_WINDOWS", 0)
    monkeypatch.setattr(training, "_forward", lambda m, n, xla: compiled_calls.append(xla)
                        or plain_forward(m, n, xla))
    result = train(_config(tmp_path), samples)
    assert result.metadata["training"]["xla"] is True and len(result.history) == 2
    assert compiled_calls and all(compiled_calls)
    assert 0.0 <= result.metadata["threshold"] <= 1.0


def test_a_weight_average_is_what_is_validated_and_kept_while_training_goes_on_raw(tmp_path,
                                                                                  samples):
    from audiofuse_core.model_card import render_model_card
    from audiofuse_core.models import load_model

    result = train(_config(tmp_path, kind="waveform", epochs=1, weight_average=0.9), samples)
    assert result.metadata["training"]["weight_average"] == 0.9
    assert "moving average of the trained weights (momentum 0.9" in (
        render_model_card(result.metadata))
    kept = load_model(result.model_path)
    last = load_model(result.run_dir / "last.keras", compile=True)  # raw weights, to go on from
    averages = [a.numpy() for a in last.optimizer._model_variables_moving_average]
    raw = [v.numpy() for v in last.trainable_variables]
    kept_weights = [v.numpy() for v in kept.trainable_variables]
    assert len(averages) == len(raw) == len(kept_weights)
    for average, weight in zip(averages, kept_weights, strict=True):
        np.testing.assert_allclose(weight, average, rtol=0, atol=1e-7)
    assert any(not np.allclose(w, r) for w, r in zip(kept_weights, raw, strict=True))
    # a resumed run carries the average on
    state_path = result.run_dir / "state.json"
    state_path.write_text(json.dumps({**json.loads(state_path.read_text()), "finished": False}))
    again = train(_config(tmp_path, kind="waveform", epochs=2, weight_average=0.9, resume=True),
                  samples)
    assert [h["epoch"] for h in again.history] == [1, 2]
    with pytest.raises(TrainingError, match="momentum must be at least 0.9"):
        _config(tmp_path, weight_average=0.5).check()
