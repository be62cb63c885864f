"""Classify recordings with a saved AudioFuse model.

:class:`Classifier` loads a model (the bundled default when given no path), prepares any recording
exactly as the model's own preset says, runs the model on every window of the recording and
aggregates the window probabilities into one. Keras is imported when a Classifier is made, not
when this module is imported.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import Audio, load_audio, prepare_samples
from .errors import ModelError, SampleRateError
from .features import model_windows, prepare_signal
from .heartcycle import HeartCycles
from .metrics import platt
from .presets import Preset
from .quality import QualityReport, analyse_recording
from .resources import default_model_path

# windows per model call at most. The compiled graph takes any number of windows (its batch
# dimension is open), so it is traced once, at load, and a short recording is not padded to a
# full batch (a 20 s recording: 7 windows, about half the time of 16). Never let it trace
# again: a second trace on the program's model thread crashed the process (SIGSEGV taking the
# GIL in TensorFlow's PyGraph::version_def, 2026-12-02), hence the fixed input signature.
_BATCH = 16


POOR_QUALITY = "poor-quality"
# PhysioNet 2016's rate: every model here learned from recordings at it, so a file at this rate
# or above carries all they heard
HEARD_RATE = 2000


def unfamiliar_notice(prediction) -> str | None:
    """A sentence for the clinician when the recording is unlike the model's training
    recordings (``extra["familiarity"]``, from a model with a feature expert), else None. Not
    for a refused recording, which has no answer to qualify.
    """
    found = (getattr(prediction, "extra", None) or {}).get("familiarity") or {}
    if not found.get("unfamiliar") or getattr(prediction, "label", None) == POOR_QUALITY:
        return None
    share = round(100 * float(found.get("quantile", 0.99)))
    return ("This recording is unlike those the model learned from: its heart-cycle figures "
            f"lie further from theirs than {share} % of them did (another stethoscope, site or "
            "way of recording?). The answer is less reliable here: check the model on "
            "labelled recordings from this device before relying on it.")


@dataclass
class Prediction:
    """The result for one recording.

    ``label`` is "normal", "abnormal", or "poor-quality" when the quality gate refused the
    recording (``quality.reason`` says why, in words for the clinician). The model still runs on
    a refused recording: ``probability`` and the window probabilities stay available for audit,
    but a refused recording has no normal/abnormal answer and a view should show the reason, not
    the probability. ``heart_rate_bpm`` is None when no heart rate can be measured.
    """

    probability: float  # of "abnormal", 0..1
    label: str  # "normal", "abnormal" or "poor-quality"
    threshold: float
    window_probabilities: np.ndarray
    window_starts: np.ndarray  # s
    window_seconds: float
    duration: float  # s, of the whole recording
    sample_rate: int  # the rate the model used
    original_rate: int  # the file's own rate
    model_name: str
    model_version: str
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    quality: QualityReport | None = None
    heart_rate_bpm: float | None = None
    cycles: HeartCycles | None = None  # S1/S2 onsets and offsets (s), at the analysis rate

    def to_dict(self) -> dict[str, Any]:
        data = {
            "path": None if self.path is None else str(self.path),
            "probability": round(float(self.probability), 6),
            "label": self.label,
            "threshold": round(float(self.threshold), 6),
            "duration_s": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "original_rate": self.original_rate,
            "model": self.model_name,
            "model_version": self.model_version,
            "windows": [
                {"start_s": round(float(s), 3), "probability": round(float(p), 6)}
                for s, p in zip(self.window_starts, self.window_probabilities)
            ],
            "quality": None if self.quality is None else self.quality.to_dict(),
            "heart_rate_bpm": (None if self.heart_rate_bpm is None
                               else round(float(self.heart_rate_bpm), 1)),
            "cycles": None,
        }
        if self.cycles is not None:
            cycles = self.cycles.to_dict()
            cycles.pop("heart_rate_bpm")
            data["cycles"] = cycles
        data.update(self.extra)
        return data


class Classifier:
    """A loaded model ready to classify files or arrays. Thread-safe for prediction."""

    def __init__(self, model_path: str | Path | None = None, *,
                 quality_gate: bool = True) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from .models import load_model

        path = Path(model_path) if model_path is not None else default_model_path()
        if model_path is None and not path.is_file():
            raise ModelError(f"the bundled model is missing ({path}); reinstall AudioFuse or "
                             "pass a model file")
        self.path = path
        self.quality_gate = bool(quality_gate)  # False: report quality, never refuse
        self.model = load_model(path)
        self.preset: Preset = self.model.preset
        self.metadata: dict[str, Any] = self.model.metadata
        self._graph = None  # the compiled graph (TensorFlow backend)
        # the recording's own figures (quality, heart cycles, the feature expert's) are numpy
        # work, done on a worker thread while the network runs on the calling one (TensorFlow
        # frees the GIL while it computes)
        self._figures = ThreadPoolExecutor(max_workers=1, thread_name_prefix="figures")
        self._predict = self._make_predict_function()
        self._feature_expert = None  # (forward, spec) when the model carries one
        self._distance = None  # how unlike its training recordings a recording is, if kept
        if self.model.feature_expert is not None:
            spec = dict(self.metadata["feature_expert"])
            self._feature_expert = (self.model.feature_expert.numpy_forward(), spec)
            if spec.get("familiarity"):
                self._distance = self.model.feature_expert.numpy_distance()

    # -- description -----------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return float(self.metadata.get("threshold", 0.5))

    @property
    def temperature(self) -> float:
        return float(self.metadata.get("temperature", 1.0))

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.path.stem)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unversioned"))

    @property
    def kind(self) -> str:
        return self.model.kind

    # -- prediction --------------------------------------------------------------------------
    def load(self, path: str | Path) -> Audio:
        """Read and validate a file at the model's rate (raises InvalidAudioError)."""
        return load_audio(path, sample_rate=self.preset.sample_rate,
                          min_seconds=self.preset.min_seconds)

    def predict_file(self, path: str | Path) -> Prediction:
        return self.predict_audio(self.load(path))

    def predict_array(self, samples: np.ndarray, sample_rate: int, *,
                      path: str | Path | None = None) -> Prediction:
        audio = prepare_samples(samples, sample_rate, sample_rate=self.preset.sample_rate,
                                min_seconds=self.preset.min_seconds, path=path)
        return self.predict_audio(audio)

    @property
    def min_file_rate(self) -> int:
        """The lowest file rate that carries the whole band the model listens to (twice its top
        frequency), and at most :data:`HEARD_RATE`: PhysioNet's rate carries all it learned.
        """
        preset = self.preset
        top = min(preset.fmax, preset.bandpass_hz[1] if preset.bandpass_hz else preset.fmax)
        return int(min(np.ceil(2 * top), HEARD_RATE))

    def predict_audio(self, audio: Audio) -> Prediction:
        """Classify a loaded recording, judge its quality and find its heart cycles.

        The quality gate and the segmentation run on the recording as given (the model's rate),
        brought to 2000 Hz, before the model's band-pass: clipping and gaps must be seen raw.
        A file recorded at a rate too low to hold the model's band is refused
        (:class:`SampleRateError`): the missing band reads as a normal heart.
        """
        if audio.original_rate < self.min_file_rate:
            raise SampleRateError(
                f"recorded at {audio.original_rate} Hz, too low for this model: the sound it "
                f"judges reaches {self.min_file_rate // 2} Hz, so the file needs at least "
                f"{self.min_file_rate} Hz (record at 2000 Hz or more)", path=audio.path)
        figures = self._figures.submit(self._recording_figures, audio)
        try:
            signal = prepare_signal(audio.samples, audio.sample_rate, self.preset)
            windows, starts = model_windows(signal, self.preset)
            logits = self.window_logits(windows)
        finally:
            wait([figures])  # the worker never outlives the call, whatever happened here
        (expert, distance), (quality, cycles) = figures.result()
        probabilities = 1.0 / (1.0 + np.exp(-logits / self.temperature))
        probability = float(np.mean(probabilities))
        extra: dict[str, Any] = {}
        if expert is not None:
            network = probability
            weight = float(self._feature_expert[1].get("weight", 0.5))
            probability = (1.0 - weight) * network + weight * expert
            # the windows are the network's alone: judge them against its own threshold
            window_threshold = (self.metadata.get("network") or {}).get("threshold")
            extra = {"network_probability": round(network, 6),
                     "feature_expert_probability": round(expert, 6),
                     "window_threshold": float(window_threshold if window_threshold is not None
                                               else self.threshold)}
            if distance is not None:
                familiarity = self._feature_expert[1]["familiarity"]
                extra["familiarity"] = {
                    "distance": round(distance, 3), "limit": round(familiarity["limit"], 3),
                    "quantile": familiarity.get("quantile"),
                    "unfamiliar": bool(distance > familiarity["limit"])}
            final = self.metadata.get("final_calibration")
            if final:
                extra["mean_probability"] = round(probability, 6)
                probability = float(platt(probability, final["slope"], final["intercept"]))
        if not (math.isfinite(probability) and np.isfinite(probabilities).all()):
            # NaN compares false with the threshold: it would read as a normal heart
            raise ModelError(f"{self.name} gave no probability for this recording (its output "
                             "is not a number): the model file may be damaged; use another "
                             "model")
        label = "abnormal" if probability >= self.threshold else "normal"
        if self.quality_gate and not quality.ok:
            label = POOR_QUALITY
        return Prediction(
            probability=probability, label=label, threshold=self.threshold,
            window_probabilities=probabilities, window_starts=starts,
            window_seconds=self.preset.window_seconds, duration=audio.duration,
            sample_rate=self.preset.sample_rate, original_rate=audio.original_rate,
            model_name=self.name, model_version=self.version, path=audio.path,
            quality=quality, heart_rate_bpm=cycles.heart_rate_bpm, cycles=cycles, extra=extra,
        )

    def _recording_figures(self, audio: Audio) -> tuple[tuple[float | None, float | None],
                                                        tuple[QualityReport, HeartCycles]]:
        """(The feature expert's probability, the recording's distance from its training
        recordings), each None without them; the quality report and the heart cycles of the
        recording as given.
        """
        opinion = (self._expert_opinion(audio) if self._feature_expert is not None
                   else (None, None))
        return opinion, analyse_recording(audio.samples, audio.sample_rate)

    def feature_probability(self, audio: Audio) -> float:
        """The feature expert's calibrated probability for a whole recording (ModelError when
        the model carries none).
        """
        return self._expert_opinion(audio)[0]

    def _expert_opinion(self, audio: Audio) -> tuple[float, float | None]:
        """The feature expert's calibrated probability, and how far the recording's figures
        lie from its training recordings' (None when the model file keeps no limit for it).
        """
        from .feature_expert import feature_vector

        if self._feature_expert is None:
            raise ModelError(f"{self.name} carries no feature expert")
        forward, spec = self._feature_expert
        values = feature_vector(audio.samples, audio.sample_rate, str(spec["feature_set"]))
        logit = float(forward(values)[0]) / float(spec.get("temperature", 1.0))
        distance = None if self._distance is None else float(self._distance(values)[0])
        return sigmoid(logit), distance

    def window_logits(self, windows: np.ndarray) -> np.ndarray:
        """Raw logits for a batch of prepared windows [n, window_samples]."""
        windows = np.asarray(windows, dtype=np.float32)
        out = [np.asarray(self._predict(windows[start:start + _BATCH])).reshape(-1)
               for start in range(0, len(windows), _BATCH)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def _make_predict_function(self):
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            model = self.model
            signature = [tf.TensorSpec([None, self.preset.window_samples], tf.float32)]

            @tf.function(input_signature=signature)
            def forward(x):
                return model(x, training=False)

            self._graph = forward
            return lambda x: forward(tf.convert_to_tensor(x)).numpy()
        return lambda x: keras.ops.convert_to_numpy(self.model(x, training=False))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(float(x), -500.0), 500.0)))
