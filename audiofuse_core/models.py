"""The AudioFuse networks, written with ``keras.ops`` so they run on TensorFlow, JAX or PyTorch.

The model takes the raw waveform window (at the preset's rate) and computes its own log-Mel
spectrogram inside (:class:`LogMelSpectrogram`), so the spectrogram settings are part of the saved
model and can never drift from what it was trained on. Two branches ("experts") follow:

* :class:`SpectrogramEncoder`: a compact pre-norm Vision Transformer over spectrogram patches;
* :class:`WaveformEncoder`: a shallow 1D CNN over the samples;

and an MLP head on their concatenated features gives one logit (abnormal vs normal). The two
baselines keep one branch and the same kind of head.

Every layer is registered serialisable and has ``get_config``; a saved ``.keras`` file loads with
``safe_mode=True``. The model's config carries the preset and a metadata dict (threshold, class
names, provenance, model card), see :func:`load_model` and :func:`save_model`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._keras import import_keras
from .errors import ModelError
from .features import mel_filterbank
from .modelfile import MODEL_FORMAT, read_model_config, read_model_metadata  # noqa: F401
from .presets import MODEL_KINDS, Preset

keras = import_keras()
layers, ops = keras.layers, keras.ops

PACKAGE = "audiofuse"


@keras.saving.register_keras_serializable(package=PACKAGE)
class WaveformStandardize(layers.Layer):
    """Scale each window to zero mean and unit variance (the device's gain drops out)."""

    def call(self, inputs):
        mean = ops.mean(inputs, axis=-1, keepdims=True)
        centred = inputs - mean
        std = ops.sqrt(ops.mean(ops.square(centred), axis=-1, keepdims=True))
        return centred / (std + 1e-5)


@keras.saving.register_keras_serializable(package=PACKAGE)
class WaveformWhiten(layers.Layer):
    """Give every window the same spectral envelope, keeping its timing and phase.

    The window's spectrum is divided by its own magnitude smoothed over ``smooth_hz`` and
    multiplied by a fixed target envelope: flat up to ``knee_hz``, then falling ``slope_db``
    per octave (the mean shape of PhysioNet's heart sounds, about -10 dB per octave above 50 Hz,
    so that a recording's weak, noisy high band is not raised to the level of S1 and S2). Zero
    outside ``band`` (raised-cosine edges of ``edge_hz``); then transformed back and scaled to
    unit variance. A stethoscope's fixed frequency response is smooth in frequency, so it
    multiplies the spectrum and its envelope alike and cancels: the waveform expert can no longer
    tell devices apart by their colouring, only by what changes within the window.
    """

    def __init__(self, *, sample_rate: int, smooth_hz: float, band: tuple[float, float] | list,
                 edge_hz: float = 10.0, knee_hz: float = 50.0, slope_db: float = -10.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if smooth_hz <= 0:
            raise ValueError("the smoothing width must be positive")
        self.sample_rate = int(sample_rate)
        self.smooth_hz = float(smooth_hz)
        self.band = (float(band[0]), float(band[1]))
        self.edge_hz = float(edge_hz)
        self.knee_hz, self.slope_db = float(knee_hz), float(slope_db)

    def build(self, input_shape):
        n = int(input_shape[-1])
        hz = np.fft.rfftfreq(n, 1.0 / self.sample_rate)
        low, high = self.band
        rise = np.clip((hz - low) / self.edge_hz + 0.5, 0.0, 1.0)
        fall = np.clip((high - hz) / self.edge_hz + 0.5, 0.0, 1.0)
        mask = np.sin(0.5 * np.pi * rise) * np.sin(0.5 * np.pi * fall)
        octaves = np.log2(np.maximum(hz, self.knee_hz) / self.knee_hz)
        self._target = (mask * 10 ** (self.slope_db * octaves / 20.0)).astype("float32")
        width = max(1, int(round(self.smooth_hz * n / self.sample_rate)))
        self._half = width // 2
        ones = np.pad(np.ones(len(hz)), (self._half + 1, self._half))
        total = np.cumsum(ones)
        self._count = (total[2 * self._half + 1:] - total[:-2 * self._half - 1]).astype("float32")
        self._n = n
        self.built = True

    def call(self, inputs):
        real, imag = ops.rfft(inputs, fft_length=self._n)
        magnitude = ops.sqrt(ops.square(real) + ops.square(imag))
        padded = ops.pad(magnitude, [(0, 0), (self._half + 1, self._half)])
        total = ops.cumsum(padded, axis=-1)
        envelope = (total[:, 2 * self._half + 1:] - total[:, :-2 * self._half - 1]) / self._count
        target = ops.convert_to_tensor(self._target, dtype=magnitude.dtype)
        floor = 1e-3 * ops.max(envelope, axis=-1, keepdims=True)
        gain = target / (envelope + floor + 1e-12)
        out = ops.irfft((real * gain, imag * gain), fft_length=self._n)
        out = out - ops.mean(out, axis=-1, keepdims=True)
        return out / (ops.sqrt(ops.mean(ops.square(out), axis=-1, keepdims=True)) + 1e-6)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(sample_rate=self.sample_rate, smooth_hz=self.smooth_hz,
                      band=list(self.band), edge_hz=self.edge_hz, knee_hz=self.knee_hz,
                      slope_db=self.slope_db)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class LogMelSpectrogram(layers.Layer):
    """Waveform [batch, samples] -> log-Mel image [batch, mels, frames, 1].

    ``scaling="minmax"``: dB relative to each clip's maximum, floored at -80 dB, optionally resized
    (bilinear) to ``image_size`` and min-max scaled to [0, 1] (the paper's recipe).
    ``scaling="band_standardize"``: dB, each Mel band's mean over time removed (a stethoscope's
    fixed frequency response is a constant per band in dB, so it cancels), then scaled by the
    image's standard deviation.
    """

    def __init__(self, *, sample_rate: int, n_fft: int, hop_length: int, n_mels: int,
                 fmin: float, fmax: float, scaling: str = "minmax",
                 image_size: tuple[int, int] | list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if scaling not in ("minmax", "band_standardize"):
            raise ValueError(f"unknown spectrogram scaling {scaling!r}")
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)
        self.fmin = float(fmin)
        self.fmax = float(fmax)
        self.scaling = scaling
        self.image_size = None if image_size is None else tuple(int(v) for v in image_size)
        self._mel = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin,
                                    self.fmax).T  # [bins, mels]

    def call(self, inputs):
        real, imag = ops.stft(inputs, sequence_length=self.n_fft, sequence_stride=self.hop_length,
                              fft_length=self.n_fft, window="hann", center=True)
        power = ops.square(real) + ops.square(imag)  # [batch, frames, bins]
        mel = ops.matmul(power, ops.convert_to_tensor(self._mel, dtype=power.dtype))
        db = 10.0 * ops.log(ops.maximum(mel, 1e-10)) / np.log(10.0)
        image = ops.transpose(db, (0, 2, 1))  # [batch, mels, frames]
        if self.scaling == "minmax":
            peak = ops.max(image, axis=(1, 2), keepdims=True)
            image = ops.maximum(image - peak, -80.0)[..., None]
            if self.image_size is not None:
                image = ops.image.resize(image, self.image_size, interpolation="bilinear")
            low = ops.min(image, axis=(1, 2, 3), keepdims=True)
            high = ops.max(image, axis=(1, 2, 3), keepdims=True)
            return (image - low) / (high - low + 1e-6)
        image = image - ops.mean(image, axis=2, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(image), axis=(1, 2), keepdims=True))
        image = (image / (std + 1e-3))[..., None]
        if self.image_size is not None:
            image = ops.image.resize(image, self.image_size, interpolation="bilinear")
        return image

    def compute_output_shape(self, input_shape):
        if self.image_size is not None:
            return (input_shape[0], *self.image_size, 1)
        frames = None if input_shape[1] is None else input_shape[1] // self.hop_length + 1
        return (input_shape[0], self.n_mels, frames, 1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
                      n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax, scaling=self.scaling,
                      image_size=None if self.image_size is None else list(self.image_size))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchEmbedding(layers.Layer):
    """Non-overlapping patches (Conv2D, kernel = stride = patch) -> tokens, plus a learned
    positional embedding (no class token).
    """

    def __init__(self, *, patch_size: tuple[int, int] | list[int], embed_dim: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.patch_size = tuple(int(v) for v in patch_size)
        self.embed_dim = int(embed_dim)
        self.projection = layers.Conv2D(self.embed_dim, self.patch_size, strides=self.patch_size,
                                        padding="valid", name="projection")

    def build(self, input_shape):
        self.projection.build(input_shape)
        rows = input_shape[1] // self.patch_size[0]
        cols = input_shape[2] // self.patch_size[1]
        self.num_tokens = int(rows * cols)
        if self.num_tokens < 1:
            raise ValueError(f"input {input_shape} is smaller than one patch {self.patch_size}")
        self.position = self.add_weight(
            name="position", shape=(self.num_tokens, self.embed_dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )

    def call(self, inputs):
        patches = self.projection(inputs)
        tokens = ops.reshape(patches, (-1, self.num_tokens, self.embed_dim))
        return tokens + self.position

    def compute_output_shape(self, input_shape):
        rows = input_shape[1] // self.patch_size[0]
        cols = input_shape[2] // self.patch_size[1]
        return (input_shape[0], rows * cols, self.embed_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(patch_size=list(self.patch_size), embed_dim=self.embed_dim)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerBlock(layers.Layer):
    """Pre-norm block: LN -> MHSA -> add; LN -> Dense(mlp)+GELU -> Dropout -> Dense(dim)+GELU ->
    Dropout -> add (the paper's block).
    """

    def __init__(self, *, embed_dim: int, num_heads: int, key_dim: int, mlp_dim: int,
                 dropout: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.mlp_dim = int(mlp_dim)
        self.dropout = float(dropout)
        self.norm1 = layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.attention = layers.MultiHeadAttention(self.num_heads, self.key_dim,
                                                   dropout=self.dropout, name="attention")
        self.norm2 = layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.mlp1 = layers.Dense(self.mlp_dim, activation="gelu", name="mlp1")
        self.mlp2 = layers.Dense(self.embed_dim, activation="gelu", name="mlp2")
        self.drop1 = layers.Dropout(self.dropout)
        self.drop2 = layers.Dropout(self.dropout)

    def build(self, input_shape):
        self.norm1.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.norm2.build(input_shape)
        self.mlp1.build(input_shape)
        self.mlp2.build((*input_shape[:-1], self.mlp_dim))

    def call(self, inputs, training=None):
        x = self.norm1(inputs)
        x = inputs + self.attention(x, x, training=training)
        y = self.mlp1(self.norm2(x))
        y = self.drop1(y, training=training)
        y = self.drop2(self.mlp2(y), training=training)
        return x + y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(embed_dim=self.embed_dim, num_heads=self.num_heads, key_dim=self.key_dim,
                      mlp_dim=self.mlp_dim, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpectrogramEncoder(layers.Layer):
    """The ViT expert: patches -> transformer blocks -> LayerNorm -> mean over tokens."""

    def __init__(self, *, patch_size, embed_dim: int, depth: int, num_heads: int, key_dim: int,
                 mlp_dim: int, dropout: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.patch_size = tuple(int(v) for v in patch_size)
        self.embed_dim, self.depth, self.num_heads = int(embed_dim), int(depth), int(num_heads)
        self.key_dim, self.mlp_dim, self.dropout = int(key_dim), int(mlp_dim), float(dropout)
        self.patches = PatchEmbedding(patch_size=self.patch_size, embed_dim=self.embed_dim,
                                      name="patches")
        self.blocks = [
            TransformerBlock(embed_dim=self.embed_dim, num_heads=self.num_heads,
                             key_dim=self.key_dim, mlp_dim=self.mlp_dim, dropout=self.dropout,
                             name=f"block{i}")
            for i in range(self.depth)
        ]
        self.norm = layers.LayerNormalization(epsilon=1e-6, name="norm")

    def build(self, input_shape):
        self.patches.build(input_shape)
        token_shape = self.patches.compute_output_shape(input_shape)
        for block in self.blocks:
            block.build(token_shape)
        self.norm.build(token_shape)

    def call(self, inputs, training=None):
        x = self.patches(inputs)
        for block in self.blocks:
            x = block(x, training=training)
        return ops.mean(self.norm(x), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.embed_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(patch_size=list(self.patch_size), embed_dim=self.embed_dim,
                      depth=self.depth, num_heads=self.num_heads, key_dim=self.key_dim,
                      mlp_dim=self.mlp_dim, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class WaveformEncoder(layers.Layer):
    """The 1D-CNN expert: [Conv1D + ReLU -> BatchNorm -> MaxPool] x n (no pool after the last)
    -> global average pooling -> Dense.
    """

    def __init__(self, *, filters, kernel_size: int, pool_size: int, output_dim: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size, self.pool_size = int(kernel_size), int(pool_size)
        self.output_dim = int(output_dim)
        self.convs = [layers.Conv1D(f, self.kernel_size, padding="same", activation="relu",
                                    name=f"conv{i}") for i, f in enumerate(self.filters)]
        self.norms = [layers.BatchNormalization(name=f"bn{i}") for i in range(len(self.filters))]
        self.pools = [layers.MaxPooling1D(self.pool_size) for _ in self.filters[:-1]]
        self.dense = layers.Dense(self.output_dim, name="dense")

    def build(self, input_shape):
        shape = (input_shape[0], input_shape[1], 1)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            norm.build(shape)
            if i < len(self.pools):
                shape = self.pools[i].compute_output_shape(shape)
        self.dense.build((input_shape[0], self.filters[-1]))

    def call(self, inputs, training=None):
        x = ops.expand_dims(inputs, -1)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            x = norm(conv(x), training=training)
            if i < len(self.pools):
                x = self.pools[i](x)
        return self.dense(ops.mean(x, axis=1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(filters=list(self.filters), kernel_size=self.kernel_size,
                      pool_size=self.pool_size, output_dim=self.output_dim)
        return config


MEMBER_KINDS = ("spectrogram", "waveform")


@keras.saving.register_keras_serializable(package=PACKAGE)
class RecordingFeatureExpert(layers.Layer):
    """Figures of a whole recording [batch, inputs] -> logit [batch, 1] of "abnormal".

    The figures (audiofuse_core.feature_expert) describe the heart cycle and the sound's
    dynamics, not single windows. A missing figure (NaN: no heart cycle found) is replaced by
    the training median; each figure is then standardised with the training mean and spread.
    Those three vectors are weights of the layer, set once by the trainer, so the file carries
    them. Then a small MLP: ``hidden`` ReLU layers with dropout, one logit. With ``members`` > 1
    the layer holds that many such MLPs (trained apart, from different seeds) on the same
    standardised figures and gives the mean of their logits. Member 1's layers keep the names of
    a single expert (``hidden_1``, ..., ``logit``), so files made before ensembles still load.
    """

    def __init__(self, *, inputs: int, hidden: tuple[int, ...] | list[int] = (64, 64),
                 dropout: float = 0.3, l2: float = 0.0, members: int = 1,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inputs = int(inputs)
        self.hidden = [int(h) for h in hidden]
        self.dropout = float(dropout)
        self.l2 = float(l2)  # weight penalty of the hidden layers while training
        self.members = int(members)
        if self.members < 1:
            raise ValueError(f"a feature expert needs at least one member, not {members}")
        penalty = keras.regularizers.L2(self.l2) if self.l2 > 0 else None
        prefixes = [""] + [f"m{m}_" for m in range(2, self.members + 1)]
        # member-major: member 1's hidden layers, then member 2's, ...
        self.dense = [layers.Dense(h, activation="relu", kernel_regularizer=penalty,
                                   name=f"{prefix}hidden_{i + 1}")
                      for prefix in prefixes for i, h in enumerate(self.hidden)]
        self.drops = [layers.Dropout(self.dropout, name=f"{prefix}dropout_{i + 1}")
                      for prefix in prefixes for i in range(len(self.hidden))]
        self.logit = layers.Dense(1, name="logit")
        self.member_logits = [layers.Dense(1, name=f"{prefix}logit") for prefix in prefixes[1:]]

    def member_layers(self, member: int) -> list:
        """Member ``member`` (0-based)'s dense layers, its logit last."""
        depth = len(self.hidden)
        logit = self.logit if member == 0 else self.member_logits[member - 1]
        return [*self.dense[member * depth:(member + 1) * depth], logit]

    def build(self, input_shape):
        n = (self.inputs,)
        self.fill = self.add_weight(shape=n, initializer="zeros", trainable=False, name="fill")
        self.centre = self.add_weight(shape=n, initializer="zeros", trainable=False,
                                      name="centre")
        self.scale = self.add_weight(shape=n, initializer="ones", trainable=False, name="scale")
        for member in range(self.members):
            width = self.inputs
            for dense in self.member_layers(member):
                dense.build((None, width))
                width = dense.units

    def standardise(self, inputs):
        x = ops.where(ops.isnan(inputs), self.fill, inputs)
        return (x - self.centre) / self.scale

    def call(self, inputs, training=None):
        x = self.standardise(inputs)
        depth = len(self.hidden)
        logits = []
        for member in range(self.members):
            h = x
            *hidden, logit = self.member_layers(member)
            for dense, drop in zip(hidden, self.drops[member * depth:(member + 1) * depth]):
                h = drop(dense(h), training=training)
            logits.append(logit(h))
        return logits[0] if self.members == 1 else ops.mean(ops.stack(logits), axis=0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def numpy_forward(self):
        """The layer as a plain numpy function (inference only): no graph to trace, safe to call
        from any thread.
        """
        standardise = self.numpy_standardise()
        stacks = [[(np.asarray(ops.convert_to_numpy(d.kernel), np.float64),
                    np.asarray(ops.convert_to_numpy(d.bias), np.float64))
                   for d in self.member_layers(member)] for member in range(self.members)]

        def forward(features: np.ndarray) -> np.ndarray:
            x = standardise(features)
            total = np.zeros(len(x))
            for stack in stacks:
                h = x
                for k, (kernel, bias) in enumerate(stack):
                    h = h @ kernel + bias
                    if k < len(stack) - 1:
                        h = np.maximum(h, 0.0)
                total += h[:, 0]
            return total / len(stacks)

        return forward

    def numpy_distance(self):
        """How far a recording's figures lie from the training recordings', as a plain numpy
        function [n, inputs] -> [n]: the root-mean-square of the standardised figures (each
        squared value capped at 100, so one wild figure cannot decide; a missing figure counts
        as the training median). Over the training recordings the mean square is about 1.
        """
        standardise = self.numpy_standardise()

        def distance(features: np.ndarray) -> np.ndarray:
            return np.sqrt(np.mean(np.minimum(standardise(features) ** 2, 100.0), axis=1))

        return distance

    def numpy_standardise(self):
        """The layer's first step as a numpy function [n, inputs] -> [n, inputs]: a missing
        figure filled with the training median, then centred and scaled as in training.
        """
        fill, centre, scale = (np.asarray(ops.convert_to_numpy(w), dtype=np.float64)
                               for w in (self.fill, self.centre, self.scale))

        def standardise(features: np.ndarray) -> np.ndarray:
            x = np.atleast_2d(np.asarray(features, dtype=np.float64))
            return (np.where(np.isnan(x), fill, x) - centre) / scale

        return standardise

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(inputs=self.inputs, hidden=list(self.hidden), dropout=self.dropout,
                      l2=self.l2, members=self.members)
        return config


def _member_name(kinds: list[str], index: int) -> str:
    """``spectrogram_member``, ``waveform_member`` for the first of each kind (the names in the
    two-member files made before ensembles of seeds), then ``spectrogram_member_2``, ...
    """
    kind = kinds[index]
    nth = kinds[:index + 1].count(kind)
    return f"{kind}_member" if nth == 1 else f"{kind}_member_{nth}"


@keras.saving.register_keras_serializable(package=PACKAGE)
class AudioFuseModel(keras.Model):
    """Waveform window [batch, samples] -> logit [batch, 1] of "abnormal".

    ``kind`` is ``fusion`` (both experts), ``spectrogram`` or ``waveform`` (one expert). The
    preset dict and a JSON-able ``metadata`` dict are part of the config, hence of the file.
    """

    def __init__(self, *, preset: dict[str, Any], kind: str = "fusion",
                 metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kind not in MODEL_KINDS:
            raise ValueError(f"unknown model kind {kind!r}; choose one of {MODEL_KINDS}")
        self.preset = Preset.from_dict(dict(preset))
        self.kind = kind
        self.metadata = dict(metadata or {})
        p = self.preset
        self.members = None
        self.feature_expert = None
        spec = self.metadata.get("feature_expert")
        if spec:  # a recording-level expert beside the windows' network (feature_expert.py)
            self.feature_expert = RecordingFeatureExpert(
                inputs=int(spec["inputs"]), hidden=spec.get("hidden", (64, 64)),
                dropout=float(spec.get("dropout", 0.3)), members=int(spec.get("members", 1)),
                name="feature_expert")
        if kind == "fusion" and p.fusion_rule == "mean":
            self._init_members()
            return
        if p.fusion_rule not in ("head", "mean"):
            raise ValueError(f"unknown fusion rule {p.fusion_rule!r}; choose 'head' or 'mean'")
        self.standardize = WaveformStandardize(name="standardize") if p.normalize_waveform else None
        self.whiten = None
        if kind in ("fusion", "waveform") and p.waveform_whiten_hz > 0:
            self.whiten = WaveformWhiten(sample_rate=p.sample_rate, smooth_hz=p.waveform_whiten_hz,
                                         band=p.bandpass_hz or (p.fmin, p.fmax), name="whiten")
        self.frontend = self.spectrogram_encoder = self.waveform_encoder = None
        if kind in ("fusion", "spectrogram"):
            self.frontend = LogMelSpectrogram(
                sample_rate=p.sample_rate, n_fft=p.n_fft, hop_length=p.hop_length,
                n_mels=p.n_mels, fmin=p.fmin, fmax=p.fmax, scaling=p.spectrogram_scaling,
                image_size=p.image_size, name="logmel")
            self.spectrogram_encoder = SpectrogramEncoder(
                patch_size=p.patch_size, embed_dim=p.embed_dim, depth=p.depth,
                num_heads=p.num_heads, key_dim=p.key_dim, mlp_dim=p.mlp_dim,
                dropout=p.vit_dropout, name="spectrogram_expert")
        if kind in ("fusion", "waveform"):
            self.waveform_encoder = WaveformEncoder(
                filters=p.conv_filters, kernel_size=p.conv_kernel, pool_size=p.conv_pool,
                output_dim=p.waveform_dim, name="waveform_expert")
        self.branch_seed = None
        if kind == "fusion" and p.branch_dropout > 0:
            self.branch_seed = keras.random.SeedGenerator(1337, name="branch_dropout_seed")
        self.head_hidden = layers.Dense(p.head_dim, activation="relu", name="head_hidden")
        self.head_dropout = layers.Dropout(p.head_dropout, name="head_dropout")
        self.head_logit = layers.Dense(1, name="head_logit")

    def _init_members(self) -> None:
        """fusion_rule "mean": single-branch models (``metadata["member_kinds"]``; by default one
        spectrogram and one waveform model), each with its own head, whole. Each branch holds
        half the weight, shared equally by its members.
        """
        kinds = [str(k) for k in self.metadata.get("member_kinds", MEMBER_KINDS)]
        if set(kinds) != set(MEMBER_KINDS):
            raise ValueError(f"a mean-of-experts fusion needs spectrogram and waveform members "
                             f"and nothing else, not {kinds}")
        temperatures = [float(t) for t in self.metadata.get("member_temperatures",
                                                            [1.0] * len(kinds))]
        if len(temperatures) != len(kinds):
            raise ValueError(f"{len(temperatures)} member temperatures for {len(kinds)} members")
        single = self.preset.replace(fusion_rule="head", branch_dropout=0.0).to_dict()
        self.members = [AudioFuseModel(preset=single, kind=kind, name=_member_name(kinds, i))
                        for i, kind in enumerate(kinds)]
        self.member_kinds = kinds
        self.member_temperatures = temperatures
        self.member_weights = [0.5 / kinds.count(kind) for kind in kinds]
        self.standardize = self.whiten = self.branch_seed = None
        self.frontend = self.spectrogram_encoder = self.waveform_encoder = None

    def build(self, input_shape):
        if self.feature_expert is not None:
            self.feature_expert.build((None, self.feature_expert.inputs))
        if self.members is not None:
            for member in self.members:
                member.build(input_shape)
            self.built = True
            return
        if self.frontend is not None:
            image_shape = self.frontend.compute_output_shape(input_shape)
            self.spectrogram_encoder.build(image_shape)
        if self.waveform_encoder is not None:
            if self.whiten is not None:
                self.whiten.build(input_shape)
            self.waveform_encoder.build(input_shape)
        self.head_hidden.build((input_shape[0], self.feature_dim))
        self.head_logit.build((input_shape[0], self.preset.head_dim))
        self.built = True

    def call(self, inputs, training=None):
        if self.members is not None:
            return self._mean_of_members(inputs)
        return self.classify(self.features(inputs, training=training), training=training)

    @property
    def feature_dim(self) -> int:
        """The width of :meth:`features`: what the head sees."""
        return ((self.preset.embed_dim if self.frontend is not None else 0)
                + (self.preset.waveform_dim if self.waveform_encoder is not None else 0))

    def features(self, inputs, training=None):
        """The experts' features of each window, joined: the head's input."""
        if self.members is not None:
            raise ModelError("a mean-of-experts fusion has no single feature vector")
        x = self.standardize(inputs) if self.standardize is not None else inputs
        features = []
        if self.frontend is not None:
            features.append(self.spectrogram_encoder(self.frontend(x), training=training))
        if self.waveform_encoder is not None:
            wave = self.whiten(x) if self.whiten is not None else x
            features.append(self.waveform_encoder(wave, training=training))
        if training and self.branch_seed is not None:
            features = self._drop_a_branch(features)
        return features[0] if len(features) == 1 else ops.concatenate(features, axis=-1)

    def classify(self, features, training=None):
        """The head: one logit (abnormal against normal) from :meth:`features`."""
        hidden = self.head_dropout(self.head_hidden(features), training=training)
        return self.head_logit(hidden)

    def _mean_of_members(self, inputs):
        """The logit of the weighted mean of the members' temperature-scaled probabilities."""
        probability = 0.0
        for member, temperature, weight in zip(self.members, self.member_temperatures,
                                               self.member_weights):
            probability = probability + weight * ops.sigmoid(member(inputs, training=False)
                                                             / temperature)
        probability = ops.clip(probability, 1e-7, 1.0 - 1e-7)
        return ops.log(probability) - ops.log(1.0 - probability)

    def _drop_a_branch(self, features):
        """Zero one branch's features (the spectrogram's or the waveform's, at random) for a
        share ``branch_dropout`` of the windows: modality dropout.
        """
        batch = ops.shape(features[0])[0]
        drop = keras.random.uniform((batch, 1), seed=self.branch_seed) < self.preset.branch_dropout
        which = keras.random.uniform((batch, 1), seed=self.branch_seed) < 0.5
        drop_spectrogram = ops.cast(ops.logical_and(drop, which), features[0].dtype)
        drop_waveform = ops.cast(ops.logical_and(drop, ops.logical_not(which)), features[1].dtype)
        return [features[0] * (1.0 - drop_spectrogram), features[1] * (1.0 - drop_waveform)]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    @property
    def threshold(self) -> float:
        return float(self.metadata.get("threshold", 0.5))

    def get_config(self) -> dict[str, Any]:
        return {"preset": self.preset.to_dict(), "kind": self.kind,
                "metadata": json.loads(json.dumps(self.metadata)), "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AudioFuseModel:
        return cls(**config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GradientReversal(layers.Layer):
    """The identity going forward; going back, the gradient times ``-weight``.

    What follows it learns to predict something from the features; what comes before it learns
    to make that prediction fail (Ganin & Lempitsky's domain-adversarial training).
    """

    def __init__(self, weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.weight = float(weight)

    def call(self, inputs):
        # forward: (1 + w) x - w x = x; backward: 0 - w
        return ops.stop_gradient(inputs * (1.0 + self.weight)) - self.weight * inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight": self.weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DomainAdversarial(keras.Model):
    """A training-time wrapper of an :class:`AudioFuseModel`: its logit, and beside it the logits
    of a classifier that tells the recording's domain (its PhysioNet subset: one device and site)
    from the model's features, through a :class:`GradientReversal`. Trained with
    :func:`class_and_domain_loss` on targets ``[label, domain]``, the encoders are pushed to keep
    what tells normal from abnormal and to lose what tells the stethoscope. Only ``base`` is
    kept as the model; this wrapper lives in the training run's checkpoints.
    """

    def __init__(self, base: AudioFuseModel, domains: int, reversal: float,
                 hidden: int = 64, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(base, dict):
            base = keras.saving.deserialize_keras_object(base)
        self.base = base
        self.domains, self.reversal, self.hidden = int(domains), float(reversal), int(hidden)
        self.reverse = GradientReversal(self.reversal, name="reverse")
        self.domain_hidden = layers.Dense(self.hidden, activation="relu", name="domain_hidden")
        self.domain_logits = layers.Dense(self.domains, name="domain_logits")

    def build(self, input_shape):
        if not self.base.built:
            self.base.build(input_shape)
        self.domain_hidden.build((input_shape[0], self.base.feature_dim))
        self.domain_logits.build((input_shape[0], self.hidden))
        self.built = True

    def call(self, inputs, training=None):
        features = self.base.features(inputs, training=training)
        logit = self.base.classify(features, training=training)
        domain = self.domain_logits(self.domain_hidden(self.reverse(features)))
        return ops.concatenate([logit, domain], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1 + self.domains)

    def get_config(self) -> dict[str, Any]:
        return {"base": keras.saving.serialize_keras_object(self.base), "domains": self.domains,
                "reversal": self.reversal, "hidden": self.hidden, "name": self.name}


@keras.saving.register_keras_serializable(package=PACKAGE)
def class_and_domain_loss(y_true, y_pred):
    """Per window: binary cross-entropy of the label (column 0 of both) plus the cross-entropy of
    the domain (``y_true[:, 1]``, an index; ``y_pred[:, 1:]``, logits).
    """
    label = y_true[:, :1]
    domain = ops.cast(y_true[:, 1], "int32")
    return (keras.losses.binary_crossentropy(label, y_pred[:, :1], from_logits=True)
            + keras.losses.sparse_categorical_crossentropy(domain, y_pred[:, 1:],
                                                           from_logits=True))


@keras.saving.register_keras_serializable(package=PACKAGE)
class WithinSubsetRanking(keras.losses.Loss):
    """Binary cross-entropy plus ``weight`` times a ranking loss that only compares windows of
    the same subset (device and site).

    Targets are ``[label, subset]``. For every pair of an abnormal and a normal window of one
    subset in the batch, ``softplus(normal logit - abnormal logit)``: the mean over those pairs is
    what the within-subset ROC-AUC rewards, and it does not change if a subset's logits all move
    by one constant, so telling the stethoscope apart earns nothing. Returned per window (each
    window's share of the pairs it is part of), so the batch mean is the whole loss.
    """

    def __init__(self, weight: float = 1.0, name: str = "within_subset_ranking", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = float(weight)

    def call(self, y_true, y_pred):
        label = ops.cast(y_true[:, 0], y_pred.dtype)
        subset = y_true[:, 1]
        logit = y_pred[:, 0]
        bce = keras.losses.binary_crossentropy(label[:, None], y_pred[:, :1], from_logits=True)
        same = ops.cast(ops.equal(subset[:, None], subset[None, :]), y_pred.dtype)
        pairs = label[:, None] * (1.0 - label[None, :]) * same  # row abnormal, column normal
        hinge = ops.softplus(logit[None, :] - logit[:, None]) * pairs
        count = ops.maximum(ops.sum(pairs), 1.0)
        # each pair's loss shared between its two windows; times the batch size, so the mean
        # over the batch is the mean over pairs
        per_window = (ops.sum(hinge, axis=1) + ops.sum(hinge, axis=0)) / (2.0 * count)
        size = ops.cast(ops.shape(logit)[0], y_pred.dtype)
        return bce + self.weight * per_window * size

    def get_config(self) -> dict[str, Any]:
        return {"weight": self.weight, "name": self.name, "reduction": self.reduction}


def build_model(preset: Preset, kind: str = "fusion", *, metadata: dict[str, Any] | None = None,
                seed: int | None = None) -> AudioFuseModel:
    """A new, built (weights initialised) model for one window of ``preset``."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    meta = {"format": MODEL_FORMAT, "threshold": 0.5, "class_names": ["normal", "abnormal"]}
    meta.update(metadata or {})
    model = AudioFuseModel(preset=preset.to_dict(), kind=kind, metadata=meta,
                           name=f"audiofuse_{kind}")
    model.build((None, preset.window_samples))
    return model


def save_model(model: AudioFuseModel, path: str | Path, *, include_optimizer: bool = False) -> Path:
    """Save atomically: write beside the target, then rename (never half a file)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelError(f"{path}: model files must end in .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".keras", dir=path.parent)
    os.close(handle)
    try:
        model.save(tmp_name, include_optimizer=include_optimizer) if _save_accepts_optimizer() \
            else model.save(tmp_name)
        _fsync(tmp_name)
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide the model from others
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _save_accepts_optimizer() -> bool:
    import inspect

    return "include_optimizer" in inspect.signature(keras.Model.save).parameters


def _fsync(name: str) -> None:
    with open(name, "rb") as handle:
        os.fsync(handle.fileno())


def load_model(path: str | Path, *, compile: bool = False) -> AudioFuseModel:
    """Load an AudioFuse ``.keras`` file with ``safe_mode`` on.

    Raises :class:`ModelError` with the reason: missing, corrupt, not an AudioFuse model, or
    needing unsafe deserialisation (arbitrary code, e.g. a Lambda layer).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    config = read_model_config(path)
    if _holds_code(config):
        raise ModelError(f"{path.name}: refused, it needs unsafe deserialisation (it carries "
                         "Python code, e.g. a Lambda layer, that could run anything)")
    class_name = config.get("class_name", "")
    registered = config.get("registered_name", "") or ""
    if class_name != "AudioFuseModel" and not registered.endswith(">AudioFuseModel"):
        raise ModelError(
            f"{path.name}: not an AudioFuse model (it holds a {class_name or 'unknown'})")
    try:
        model = keras.saving.load_model(str(path), compile=compile, safe_mode=True)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "unsafe" in str(exc).lower():
            raise ModelError(f"{path.name}: refused, it needs unsafe deserialisation "
                             "(it could run arbitrary code)") from None
        raise ModelError(f"{path.name}: cannot be loaded ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - h5py/zip/TypeError: all mean "damaged" to a user
        raise ModelError(f"{path.name}: the model file is damaged ({_first_line(exc)})") from None
    if not isinstance(model, AudioFuseModel):
        raise ModelError(f"{path.name}: not an AudioFuse model")
    return model


def copy_weights(source: keras.Model, target: keras.Model, *, every: str = "source") -> None:
    """Copy each weight of ``source`` into the weight of ``target`` at the same path. ``every``
    names the model whose every weight must find its counterpart ("source" or "target"): the
    other may hold more (a feature expert added, or left behind).
    """
    slots = {w.path: w for w in source.weights}
    targets = {w.path for w in target.weights}
    missing = sorted(targets - slots.keys())
    extra = sorted(slots.keys() - targets)
    unmatched = extra if every == "source" else missing
    if unmatched:
        raise ModelError(f"the models do not match: {len(unmatched)} weights have no "
                         f"counterpart (first: {unmatched[0]})")
    for weight in target.weights:
        if weight.path in slots:
            weight.assign(slots[weight.path].value)


def _holds_code(node: Any) -> bool:
    """Whether a Keras config carries serialised Python code (Lambda layers, lambdas)."""
    if isinstance(node, dict):
        if node.get("class_name") in ("Lambda", "__lambda__", "function") or "__lambda__" in node:
            return True
        return any(_holds_code(v) for v in node.values())
    if isinstance(node, list):
        return any(_holds_code(v) for v in node)
    return False


def count_parameters(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.weights))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
