"""Presets: everything that turns a recording into model input, and the size of the model.

A preset is plain data. It travels inside every saved model (see :mod:`audiofuse_core.models`), so
a model is always fed exactly the features it was trained on.

* ``paper`` reproduces the published AudioFuse configuration: 22 050 Hz, the first 5 s only,
  a 224-band Mel spectrogram resized to 224 x 224, a 6 x 8 ViT with 192-d tokens and the
  64/128/256-filter waveform CNN (about 2.56 M parameters).
* ``default`` is the same two-branch design at a heart-sound rate: 2000 Hz (the rate PhysioNet was
  recorded at; heart sounds and murmurs lie below about 800 Hz), a 25-800 Hz band, 5 s windows that
  cover the whole recording (overlapping by half at inference), and a smaller ViT and CNN.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .errors import AudioFuseError

MODEL_KINDS = ("fusion", "spectrogram", "waveform")


@dataclass(frozen=True)
class Preset:
    """Preprocessing and architecture settings of one model family."""

    name: str
    # --- signal -------------------------------------------------------------------------------
    sample_rate: int
    window_seconds: float
    hop_seconds: float  # step between windows at inference (and in validation)
    whole_recording: bool  # False: only the first window is used (the paper's protocol)
    min_seconds: float  # a recording shorter than this is refused
    bandpass_hz: tuple[float, float] | None  # zero-phase Butterworth band-pass, None for none
    normalize_waveform: bool  # standardise each window to zero mean, unit variance
    # --- spectrogram (computed inside the model) ------------------------------------------------
    n_fft: int
    hop_length: int
    n_mels: int
    fmin: float
    fmax: float
    spectrogram_scaling: str  # "minmax" (paper: dB re max, floor -80, [0, 1]) or "band_standardize"
    image_size: tuple[int, int] | None  # resize (mels, frames) to this, None to keep
    # --- spectrogram branch: ViT ----------------------------------------------------------------
    patch_size: tuple[int, int]
    embed_dim: int
    depth: int
    num_heads: int
    key_dim: int
    mlp_dim: int
    vit_dropout: float
    # --- waveform branch: 1D CNN ----------------------------------------------------------------
    conv_filters: tuple[int, ...]
    conv_kernel: int
    conv_pool: int
    waveform_dim: int
    # --- head -----------------------------------------------------------------------------------
    head_dim: int
    head_dropout: float
    # whiten each window for the waveform branch only: divide its spectrum by its own magnitude
    # smoothed over this many Hz (0: off); see models.WaveformWhiten
    waveform_whiten_hz: float = 0.0
    # fusion only, in training: with this probability a window's features from one branch, chosen
    # at random, are zeroed, so the head cannot lean on one expert alone (0: off)
    branch_dropout: float = 0.0
    # fusion only: "head" (the paper's: both experts' features concatenated into one MLP head) or
    # "mean" (each expert keeps its own head; the mean of their calibrated probabilities)
    fusion_rule: str = "head"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        return max(1, int(round(self.hop_seconds * self.sample_rate)))

    @property
    def min_samples(self) -> int:
        return int(round(self.min_seconds * self.sample_rate))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preset:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise AudioFuseError(f"unknown preset settings: {', '.join(sorted(unknown))}")
        values = {}
        for key, value in data.items():
            if isinstance(value, list):
                value = tuple(value)
            values[key] = value
        return cls(**values)

    def replace(self, **changes: Any) -> Preset:
        return dataclasses.replace(self, **changes)


PAPER = Preset(
    name="paper",
    sample_rate=22050,
    window_seconds=5.0,
    hop_seconds=5.0,
    whole_recording=False,
    min_seconds=1.0,
    bandpass_hz=None,
    normalize_waveform=False,
    n_fft=2048,
    hop_length=512,
    n_mels=224,
    fmin=0.0,
    fmax=11025.0,
    spectrogram_scaling="minmax",
    image_size=(224, 224),
    patch_size=(16, 16),
    embed_dim=192,
    depth=6,
    num_heads=8,
    key_dim=24,
    mlp_dim=384,
    vit_dropout=0.1,
    conv_filters=(64, 128, 256),
    conv_kernel=16,
    conv_pool=4,
    waveform_dim=64,
    head_dim=192,
    head_dropout=0.3,
)

DEFAULT = Preset(
    name="default",
    sample_rate=2000,
    window_seconds=5.0,
    hop_seconds=2.5,
    whole_recording=True,
    min_seconds=2.0,
    bandpass_hz=(25.0, 800.0),
    normalize_waveform=True,
    n_fft=256,
    hop_length=40,
    n_mels=64,
    fmin=25.0,
    fmax=800.0,
    spectrogram_scaling="band_standardize",
    image_size=None,
    patch_size=(8, 10),
    embed_dim=128,
    depth=4,
    num_heads=4,
    key_dim=32,
    mlp_dim=256,
    vit_dropout=0.1,
    conv_filters=(32, 64, 128),
    conv_kernel=16,
    conv_pool=4,
    waveform_dim=64,
    head_dim=192,
    head_dropout=0.3,
)

PRESETS: dict[str, Preset] = {"default": DEFAULT, "paper": PAPER}

# Settings that only one branch reads: a fusion model built from two single-branch experts takes
# each branch's settings from its own expert; every other setting must agree between the two.
SPECTROGRAM_FIELDS = ("n_fft", "hop_length", "n_mels", "fmin", "fmax", "spectrogram_scaling",
                      "image_size", "patch_size", "embed_dim", "depth", "num_heads", "key_dim",
                      "mlp_dim", "vit_dropout")
WAVEFORM_FIELDS = ("conv_filters", "conv_kernel", "conv_pool", "waveform_dim",
                   "waveform_whiten_hz")


def merge_expert_presets(spectrogram: Preset, waveform: Preset) -> Preset:
    """The preset of a fusion model made of a spectrogram expert and a waveform expert.

    Raises AudioFuseError naming the settings in which the two disagree where both branches
    read them (rate, windows, band-pass, level normalisation, head).
    """
    a, b = spectrogram.to_dict(), waveform.to_dict()
    own = set(SPECTROGRAM_FIELDS) | set(WAVEFORM_FIELDS) | {"name"}
    differ = sorted(k for k in a if k not in own and a[k] != b[k])
    if differ:
        raise AudioFuseError("the two branch models were trained on different presets "
                             f"(they differ in {', '.join(differ)})")
    merged = dict(a)
    merged.update({k: b[k] for k in WAVEFORM_FIELDS})
    return Preset.from_dict(merged)


def get_preset(name: str) -> Preset:
    """Return the preset called ``name`` (``default`` or ``paper``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise AudioFuseError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}"
        ) from None
