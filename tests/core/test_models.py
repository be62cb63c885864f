"""Model shapes, parameter counts, the in-model spectrogram, and safe save/load round trips."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from audiofuse_core.errors import ModelError
from audiofuse_core.presets import DEFAULT, PAPER, Preset, get_preset

keras = pytest.importorskip("keras")

from audiofuse_core.modelfile import read_model_metadata  # noqa: E402
from audiofuse_core.models import (  # noqa: E402 - after the importorskip
    AudioFuseModel,
    LogMelSpectrogram,
    WaveformWhiten,
    build_model,
    count_parameters,
    load_model,
    save_model,
)

TINY = DEFAULT.replace(name="tiny", embed_dim=16, depth=1, num_heads=2, key_dim=8, mlp_dim=32,
                       conv_filters=(8, 8, 16), waveform_dim=8, head_dim=16,
                       window_seconds=2.0, hop_seconds=1.0, min_seconds=1.0)


def test_paper_preset_parameter_count():
    # The paper reports about 2.56 M parameters; our layer-by-layer reading of its description
    # gives 2.594 M (ViT 1.870 M, CNN 0.675 M, head 0.050 M): within 2 %.
    model = build_model(PAPER, "fusion")
    assert count_parameters(model) == pytest.approx(2.56e6, rel=0.02)
    spectrogram = build_model(PAPER, "spectrogram")
    waveform = build_model(PAPER, "waveform")
    assert count_parameters(spectrogram) + count_parameters(waveform) > count_parameters(model)


def test_paper_spectrogram_shape():
    layer = LogMelSpectrogram(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=224,
                              fmin=0, fmax=11025, scaling="minmax", image_size=None)
    raw = layer(np.random.default_rng(0).standard_normal((1, 110250)).astype("float32"))
    assert tuple(raw.shape) == (1, 224, 216, 1)  # the paper's 224 x 216 before resizing
    layer = LogMelSpectrogram(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=224,
                              fmin=0, fmax=11025, scaling="minmax", image_size=(224, 224))
    image = np.asarray(layer(np.random.default_rng(0).standard_normal((2, 110250))
                             .astype("float32")))
    assert image.shape == (2, 224, 224, 1)
    assert image.min() == pytest.approx(0.0, abs=1e-5) and image.max() == pytest.approx(1.0, 1e-4)


def test_logmel_agrees_with_librosa(normal_wav):
    import librosa

    from audiofuse_core.audio import load_audio

    x = load_audio(normal_wav, sample_rate=2000).samples[:10000]
    layer = LogMelSpectrogram(sample_rate=2000, n_fft=256, hop_length=40, n_mels=64, fmin=25,
                              fmax=800, scaling="minmax")
    ours = np.asarray(layer(x[None]))[0, :, :, 0]
    ref = librosa.power_to_db(librosa.feature.melspectrogram(
        y=x, sr=2000, n_fft=256, hop_length=40, n_mels=64, fmin=25, fmax=800, pad_mode="reflect"),
        ref=np.max, top_db=80)
    ref = (ref - ref.min()) / (ref.max() - ref.min())
    assert ours.shape == ref.shape
    assert np.corrcoef(ours[:, 2:-2].ravel(), ref[:, 2:-2].ravel())[0, 1] > 0.98


@pytest.mark.parametrize("preset", [DEFAULT, PAPER], ids=["default", "paper"])
@pytest.mark.parametrize("kind", ["fusion", "spectrogram", "waveform"])
def test_shapes(preset, kind):
    model = build_model(preset, kind)
    x = np.random.default_rng(1).standard_normal((2, preset.window_samples)).astype("float32")
    assert tuple(model(x).shape) == (2, 1)
    if kind == "fusion":
        assert model.spectrogram_encoder is not None and model.waveform_encoder is not None
    else:
        assert (model.spectrogram_encoder is None) == (kind == "waveform")


def test_default_is_much_smaller_than_paper():
    assert count_parameters(build_model(DEFAULT, "fusion")) < 1.0e6


@pytest.mark.parametrize("kind", ["fusion", "spectrogram", "waveform"])
def test_save_load_round_trip_with_metadata(tmp_path, kind):
    model = build_model(TINY, kind, metadata={"threshold": 0.37, "name": "tiny",
                                              "validation": {"auc": 0.9}})
    x = np.random.default_rng(2).standard_normal((3, TINY.window_samples)).astype("float32")
    expected = np.asarray(model(x))
    path = save_model(model, tmp_path / f"{kind}.keras")
    loaded = load_model(path)  # safe_mode on
    assert isinstance(loaded, AudioFuseModel) and loaded.kind == kind
    assert loaded.preset == TINY and loaded.threshold == pytest.approx(0.37)
    np.testing.assert_allclose(np.asarray(loaded(x)), expected, atol=1e-5)
    meta = read_model_metadata(path)
    assert meta["name"] == "tiny" and meta["preset"]["name"] == "tiny" and meta["kind"] == kind
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_preset_round_trip():
    for preset in (DEFAULT, PAPER):
        assert Preset.from_dict(json.loads(json.dumps(preset.to_dict()))) == preset
    with pytest.raises(Exception, match="unknown preset"):
        get_preset("fast")


def test_refuses_bad_model_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "none.keras")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(ModelError, match="not a Keras model file"):
        load_model(junk)
    plain = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
    other = tmp_path / "other.keras"
    plain.save(other)
    with pytest.raises(ModelError, match="not an AudioFuse model"):
        load_model(other)
    # a damaged weights archive
    good = save_model(build_model(TINY, "waveform"), tmp_path / "good.keras")
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 3] if item.filename.endswith(".h5") else data)
    with pytest.raises(ModelError, match="damaged|cannot be loaded"):
        load_model(damaged)
    # a compressed config whose bytes were damaged: zlib fails, the user reads why
    deflated = tmp_path / "deflated.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(deflated, "w",
                                                       zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item))
    raw = bytearray(deflated.read_bytes())
    with zipfile.ZipFile(deflated) as archive:
        info = archive.getinfo("config.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + 10:start + 40] = bytes(b ^ 0xFF for b in raw[start + 10:start + 40])
    deflated.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="not a Keras model file, or a damaged one"):
        read_model_metadata(deflated)
    # a file from a newer AudioFuse, in another format: said so, not "damaged", not misread
    newer = tmp_path / "newer.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["metadata"]["format"] = "audiofuse-model/2"
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    for reader in (load_model, read_model_metadata):
        with pytest.raises(ModelError, match="model format 'audiofuse-model/2'.*update AudioFuse"):
            reader(newer)


def test_refuses_unsafe_deserialisation(tmp_path):
    lam = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2)])
    path = tmp_path / "lambda.keras"
    lam.save(path)
    with pytest.raises(ModelError, match="unsafe deserialisation"):
        load_model(path)


@pytest.mark.parametrize("rate, n_fft, n_mels, fmin, fmax", [
    (2000, 256, 64, 25.0, 800.0),  # default preset
    (22050, 2048, 224, 0.0, 11025.0),  # paper preset
    (4000, 512, 40, 20.0, 1800.0),  # crosses 1 kHz, where the mel scale turns logarithmic
])
def test_mel_filterbank_is_librosas(rate, n_fft, n_mels, fmin, fmax):
    """Our numpy mel filterbank (no numba at model load) equals librosa.filters.mel."""
    import librosa

    from audiofuse_core.features import mel_filterbank

    ours = mel_filterbank(rate, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)


def _zero_phase_resonance(x, rate, freq, gain_db, q):
    """A chest piece's resonance (RBJ peaking filter) applied forwards and backwards."""
    from scipy.signal import filtfilt

    a = 10 ** (gain_db / 40.0)
    w0 = 2 * np.pi * freq / rate
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a])
    return filtfilt(b / den[0], den / den[0], x, axis=-1).astype("float32")


def test_whitening_cancels_a_devices_colouring(normal_wav, abnormal_wav):
    from audiofuse_core.audio import load_audio
    from audiofuse_core.features import filter_windows

    windows = filter_windows(np.stack([load_audio(path, sample_rate=2000).samples[:10000]
                                       for path in (normal_wav, abnormal_wav)]), DEFAULT)
    # two different stethoscopes: a resonance up at 150 Hz, a notch down at 300 Hz
    coloured = _zero_phase_resonance(_zero_phase_resonance(windows, 2000, 150, 9, 1.0),
                                     2000, 300, -6, 2.0)
    whiten = WaveformWhiten(sample_rate=2000, smooth_hz=20.0, band=(25.0, 800.0))
    plain, heard = np.asarray(whiten(windows)), np.asarray(whiten(coloured))
    assert np.isfinite(plain).all() and np.allclose(plain.std(axis=1), 1.0, atol=1e-3)
    for a, b, before, after in zip(windows, coloured, plain, heard):
        raw = np.corrcoef(a, b)[0, 1]
        assert raw < 0.97  # the colouring changes the waveform...
        assert np.corrcoef(before, after)[0, 1] > 0.995  # ...and whitening takes it out again
    # the timing survives: the envelope of the whitened window follows the original's
    envelope = lambda x: np.convolve(np.abs(x), np.ones(100) / 100, "same")  # noqa: E731
    assert np.corrcoef(envelope(windows[0]), envelope(plain[0]))[0, 1] > 0.5


def test_whitened_waveform_model_round_trips(tmp_path):
    preset = TINY.replace(waveform_whiten_hz=20.0)
    model = build_model(preset, "waveform")
    assert model.whiten is not None and build_model(TINY, "waveform").whiten is None
    x = np.random.default_rng(4).standard_normal((2, preset.window_samples)).astype("float32")
    loaded = load_model(save_model(model, tmp_path / "w.keras"))
    assert loaded.preset.waveform_whiten_hz == 20.0
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-5)
    # files written before the setting existed still load, unwhitened
    old = {k: v for k, v in TINY.to_dict().items() if k != "waveform_whiten_hz"}
    assert Preset.from_dict(old).waveform_whiten_hz == 0.0


def test_branch_dropout_acts_in_training_only(tmp_path):
    quiet = TINY.replace(vit_dropout=0.0, head_dropout=0.0)  # branch dropout the only randomness
    x = np.random.default_rng(5).standard_normal((16, quiet.window_samples)).astype("float32")
    plain = build_model(quiet, "fusion", seed=3)
    np.testing.assert_allclose(np.asarray(plain(x, training=True)),
                               np.asarray(plain(x, training=True)), atol=1e-5)
    dropping = build_model(quiet.replace(branch_dropout=0.5), "fusion", seed=3)
    first, second = (np.asarray(dropping(x, training=True)) for _ in range(2))
    assert np.abs(first - second).max() > 1e-3  # a different branch dropped for some windows
    expected = np.asarray(dropping(x, training=False))
    np.testing.assert_allclose(np.asarray(dropping(x, training=False)), expected, atol=1e-6)
    loaded = load_model(save_model(dropping, tmp_path / "d.keras"))
    assert loaded.preset.branch_dropout == 0.5
    np.testing.assert_allclose(np.asarray(loaded(x)), expected, atol=1e-5)
    assert build_model(quiet.replace(branch_dropout=0.5), "waveform").branch_seed is None
