"""Is this recording fit to be classified? A signal-quality gate with reasons in plain words.

:func:`assess_quality` measures a handful of indices, each tied to one fault a clinician can fix
by recording again, and refuses the recording when one passes its limit:

============================  ==========================================================
index                         fault
============================  ==========================================================
``duration_s``                too short to hold several heart cycles
``level_dbfs``                silence: the stethoscope picked up (almost) nothing
``clipping_fraction``         the input gain was too high: the loudest sounds are cut flat
``dropout_fraction``          gaps: the signal vanishes (lost contact, wireless drop-outs)
``noise_fraction``            rubbing, movement or ambient noise louder than the heart
``speech_fraction``           someone speaking (voiced, pitched sound between 80 and 400 Hz)
``periodicity``               no repeating heart-cycle pattern at a plausible heart rate,
                              above what noise of the same length reaches
============================  ==========================================================

The limits were set on real recordings (``bench/validate_quality.py``; figures in
docs/signal_analysis.md): the PhysioNet 2016 development set must pass (fewer than 10 % refused),
the PASCAL ``artifact`` recordings must fail, and so must real recordings damaged with realistic
faults. Every index is computed on the signal as given (any rate of at least 1000 Hz);
:func:`analyse_recording`, which the classifier calls, first brings it to 2000 Hz, the rate the
limits were set at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import heartcycle as hc
from .audio import butter_sos, resample

ANALYSIS_RATE = 2000  # Hz: the rate the limits were validated at
# one whole 5-s analysis window (every preset's): a shorter recording's one window would be
# padded with silence, which the networks read as a flat stretch, a cue of "abnormal"
MIN_SECONDS = 5.0
MIN_LEVEL_DBFS = -66.0  # heart-band RMS below this is an open microphone or no contact at all
MAX_CLIPPING = 0.005  # share of samples stuck at the rails
MAX_DROPOUT = 0.06  # share of the recording lost in gaps
MAX_NOISE = 0.25  # share of the recording drowned in noise
MAX_SPEECH = 0.03  # share of the recording that is voiced speech

_FRAME_SECONDS = 0.05  # level frames for gaps
_NOISE_WINDOW_SECONDS = 1.0
_SPIKE_FACTOR = 4.0
_VOICE_FRAME_SECONDS = 0.08
_VOICE_HOP_SECONDS = 0.02


@dataclass(frozen=True)
class QualityReport:
    """The verdict on one recording: ``ok``, the ``reason`` in words (empty when ok), and the
    indices it rests on.
    """

    ok: bool
    reason: str
    problems: tuple[str, ...]  # machine-readable codes, the most important first
    duration_s: float
    level_dbfs: float
    clipping_fraction: float
    dropout_fraction: float
    noise_fraction: float
    speech_fraction: float
    periodicity: float

    @property
    def indices(self) -> dict[str, float]:
        data = asdict(self)
        for key in ("ok", "reason", "problems"):
            data.pop(key)
        return {key: round(float(value), 6) for key, value in data.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "problems": list(self.problems),
                "indices": self.indices}


# The words shown to the clinician, most fundamental fault first.
_REASONS = {
    "too_short": "the recording is too short ({duration_s:.1f} s); record at least "
                 f"{MIN_SECONDS:g} s, better 10 to 20 s",
    "silent": "almost nothing was recorded (level {level_dbfs:.0f} dBFS): check that the "
              "stethoscope touches the skin and the microphone is on",
    "clipping": "the sound is clipped ({clipping_pct:.1f} % of samples cut flat): lower the "
                "input gain or press the stethoscope more lightly",
    "dropouts": "the signal drops out ({dropout_pct:.0f} % of the recording is missing): keep "
                "the stethoscope still on the skin and check the connection",
    "speech": "speech or another pitched, voice-like sound was picked up ({speech_pct:.0f} % "
              "of the recording): ask the patient not to talk, record in a quiet room, and "
              "listen for a squeaking chest piece",
    "noise": "noise or movement drowns the heart sounds ({noise_pct:.0f} % of the recording): "
             "hold the stethoscope still, avoid rubbing on skin or clothes, and record in a "
             "quiet room",
    "no_heart_cycle": "no regular heart-cycle pattern was found (periodicity {periodicity:.2f}, "
                      "{needed:.2f} needed): place the stethoscope over the heart and record "
                      "again; an irregular rhythm (atrial fibrillation) needs a longer recording",
}


def assess_quality(samples: np.ndarray, sample_rate: int, *,
                   env: hc.Envelopes | None = None) -> QualityReport:
    """Measure the quality indices of a mono recording and decide whether it can be classified.

    ``env`` (from :func:`audiofuse_core.heartcycle.envelopes`) may be passed to share the work
    with the heart-cycle segmentation.
    """
    x = np.asarray(samples, dtype=np.float64)
    rate = int(sample_rate)
    duration = len(x) / float(rate) if rate > 0 else 0.0
    if len(x) < int(0.5 * rate) or rate < 1000:
        return _report({"duration_s": duration, "level_dbfs": level_dbfs(x, rate),
                        "clipping_fraction": 0.0, "dropout_fraction": 0.0,
                        "noise_fraction": 0.0, "speech_fraction": 0.0, "periodicity": 0.0})
    band = _heart_band(x, rate)
    values = {
        "duration_s": duration,
        "level_dbfs": level_dbfs(x, rate, band=band),
        "clipping_fraction": clipping_fraction(x),
        "dropout_fraction": dropout_fraction(x, rate, band=band),
        "noise_fraction": noise_fraction(x, rate),
        "speech_fraction": speech_fraction(x, rate),
    }
    if env is None:
        env = hc.envelopes(x, rate)
    values["periodicity"] = hc.periodicity(hc.rate_autocorrelation(env), env.rate)
    return _report(values)


def analyse_recording(samples: np.ndarray, sample_rate: int) -> tuple[QualityReport,
                                                                       hc.HeartCycles]:
    """The quality verdict and the heart cycles of a recording, sharing one envelope pass.

    Both run at :data:`ANALYSIS_RATE` (2000 Hz, where the limits were validated); another rate is
    resampled first. About 25 ms for 20 s of audio on one laptop core.
    """
    x = np.asarray(samples, dtype=np.float32)
    if int(sample_rate) != ANALYSIS_RATE:
        x = resample(x, int(sample_rate), ANALYSIS_RATE)
    x = x.astype(np.float64)
    if len(x) < int(0.5 * ANALYSIS_RATE):
        return assess_quality(x, ANALYSIS_RATE), hc.HeartCycles(None, None, 0.0)
    env = hc.envelopes(x, ANALYSIS_RATE)
    return (assess_quality(x, ANALYSIS_RATE, env=env),
            hc.segment(x, ANALYSIS_RATE, env=env))


def _report(values: dict[str, float]) -> QualityReport:
    problems = []
    if values["duration_s"] < MIN_SECONDS:
        problems.append("too_short")
    if values["level_dbfs"] < MIN_LEVEL_DBFS:
        problems.append("silent")
    if values["clipping_fraction"] > MAX_CLIPPING:
        problems.append("clipping")
    if values["dropout_fraction"] > MAX_DROPOUT:
        problems.append("dropouts")
    if values["speech_fraction"] > MAX_SPEECH:
        problems.append("speech")
    if values["noise_fraction"] > MAX_NOISE:
        problems.append("noise")
    if values["periodicity"] < hc.min_periodicity(values["duration_s"]):
        problems.append("no_heart_cycle")
    words = dict(values, needed=hc.min_periodicity(values["duration_s"]),
                 clipping_pct=100 * values["clipping_fraction"],
                 dropout_pct=100 * values["dropout_fraction"],
                 noise_pct=100 * values["noise_fraction"],
                 speech_pct=100 * values["speech_fraction"])
    reason = _REASONS[problems[0]].format(**words) if problems else ""
    if len(problems) > 1:
        reason += " (also: " + ", ".join(p.replace("_", " ") for p in problems[1:]) + ")"
    return QualityReport(ok=not problems, reason=reason, problems=tuple(problems),
                         **{key: float(value) for key, value in values.items()})


# -- indices --------------------------------------------------------------------------------------

def _heart_band(x: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import sosfiltfilt

    sos = butter_sos(4, (25.0, min(400.0, 0.45 * rate)), "bandpass", rate)
    return sosfiltfilt(sos, x, padlen=min(len(x) - 1, 27))


def level_dbfs(x: np.ndarray, rate: int, *, band: np.ndarray | None = None) -> float:
    """RMS level of the heart band (25-400 Hz) in dB re full scale (1.0)."""
    if len(x) < 32:
        return -200.0
    band = _heart_band(x, rate) if band is None else band
    return float(10.0 * np.log10(np.mean(band ** 2) + 1e-20))


def clipping_fraction(x: np.ndarray) -> float:
    """Share of samples at (within 1 % of) the most extreme value, on the worse side.

    A clean recording reaches its extreme in a handful of samples; a clipped one sits there for
    whole stretches of every loud sound.
    """
    if not len(x):
        return 0.0
    top = float(x.max())
    bottom = float(x.min())
    shares = []
    if top > 0:
        shares.append(np.count_nonzero(x >= 0.99 * top) / len(x))
    if bottom < 0:
        shares.append(np.count_nonzero(x <= 0.99 * bottom) / len(x))
    return float(max(shares, default=0.0))


def dropout_fraction(x: np.ndarray, rate: int, *, band: np.ndarray | None = None) -> float:
    """Share of the recording lost in gaps: 50 ms frames that are digitally flat (a constant
    value) or 30 dB below the recording's median level.

    Flat or silent stretches at the very start and end are left out: they are the seconds
    before the chest piece touched the skin or after it left, not a gap in the heart sounds.
    """
    frame = max(1, int(_FRAME_SECONDS * rate))
    count = len(x) // frame
    if count < 4:
        return 0.0
    raw = x[: count * frame].reshape(count, frame)
    flat = np.ptp(raw, axis=1) <= 1e-6 * max(float(np.abs(x).max()), 1e-12)
    band = _heart_band(x, rate) if band is None else band
    power = np.mean(band[: count * frame].reshape(count, frame) ** 2, axis=1) + 1e-24
    lost = flat | (power < np.median(power) * 10 ** (-30.0 / 10.0))
    kept = np.flatnonzero(~lost)
    if not len(kept):
        return 1.0
    inside = lost[kept[0]:kept[-1] + 1]
    return float(np.count_nonzero(inside) / count)


def noise_fraction(x: np.ndarray, rate: int) -> float:
    """Share of 1 s windows drowned in non-cardiac sound (:func:`noisy_seconds`)."""
    noisy = noisy_seconds(x, rate)
    return float(np.mean(noisy)) if len(noisy) >= 2 else 0.0


def noisy_seconds(x: np.ndarray, rate: int) -> np.ndarray:
    """For each whole second of the recording, whether non-cardiac sound drowns it.

    Heart sounds, murmurs included, keep most of their energy below 200 Hz (26 dB more than
    above it in a typical PhysioNet recording); rubbing, hiss, crying and voices are broadband.
    A window is noisy when

    * its energy above 200 Hz exceeds its energy in 25-200 Hz (noise louder than the heart);
    * or its energy above 200 Hz bursts 10 dB over the recording's quietest fifth while
      reaching within 12 dB of the heart band (a stroke of rubbing);
    * or its peak is four times the recording's median window peak (a bump or knock; after
      Schmidt et al.'s spike rule).
    """
    from scipy.signal import sosfiltfilt

    window = int(_NOISE_WINDOW_SECONDS * rate)
    count = len(x) // window
    if count < 2:  # too short for a median window to compare with
        return np.zeros(count, dtype=bool)
    top = min(0.45 * rate, 900.0)
    low = sosfiltfilt(butter_sos(4, (25.0, 200.0), "bandpass", rate), x,
                      padlen=min(len(x) - 1, 27))
    high = sosfiltfilt(butter_sos(4, (200.0, top), "bandpass", rate), x,
                       padlen=min(len(x) - 1, 27))
    low_w = low[: count * window].reshape(count, window)
    high_w = high[: count * window].reshape(count, window)
    low_power = np.mean(low_w ** 2, axis=1) + 1e-24
    high_power = np.mean(high_w ** 2, axis=1) + 1e-24
    high_to_low = 10.0 * np.log10(high_power / low_power)
    burst = 10.0 * np.log10(high_power / np.percentile(high_power, 20))
    peaks = np.abs(low_w + high_w).max(axis=1)
    return ((high_to_low > 0.0) | ((burst > 10.0) & (high_to_low > -12.0))
            | (peaks > _SPIKE_FACTOR * np.median(peaks)))


def speech_fraction(x: np.ndarray, rate: int) -> float:
    """Share of 80 ms frames (every 20 ms) that are voiced like speech.

    In the 100-900 Hz band, a voiced frame has a strong pitch: its normalised autocorrelation
    exceeds 0.7 at a lag of 2.5-12.5 ms (80-400 Hz) and 0.6 at twice that lag (a periodic sound,
    not a narrow-band noise). Heart sounds are short and unpitched. A steady tone (mains hum, a
    whistle) is voiced too, but at one unchanging pitch: when most voiced frames share a pitch,
    those frames are not counted as speech. Other pitched sounds that change pitch (a squeak of
    the chest piece, possibly a musical murmur) can still count: the reason says so.
    """
    from scipy.signal import sosfiltfilt

    frame = int(_VOICE_FRAME_SECONDS * rate)
    hop = max(1, int(_VOICE_HOP_SECONDS * rate))
    if len(x) < 4 * frame:
        return 0.0
    top = min(0.45 * rate, 900.0)
    y = sosfiltfilt(butter_sos(4, (100.0, top), "bandpass", rate), x,
                    padlen=min(len(x) - 1, 27))
    starts = np.arange(0, len(y) - frame + 1, hop)
    frames = np.lib.stride_tricks.sliding_window_view(y, frame)[starts]
    frames = frames - frames.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * frame)))
    spectrum = np.fft.rfft(frames, size, axis=1)
    corr = np.fft.irfft(np.abs(spectrum) ** 2, size, axis=1)[:, :frame]
    energy = corr[:, 0]
    corr = corr / np.maximum(energy[:, None], 1e-30) * frame / (frame - np.arange(frame))
    lo = max(1, int(round(rate / 400.0)))
    hi = min(int(round(rate / 80.0)), (frame - 2) // 2)
    lag = np.argmax(corr[:, lo:hi + 1], axis=1) + lo
    rows = np.arange(len(lag))
    first = corr[rows, lag]
    second = np.max(np.stack([corr[rows, np.minimum(2 * lag + k, frame - 1)]
                              for k in (-1, 0, 1)]), axis=0)
    voiced = (first > 0.7) & (second > 0.6) & (energy > 0.1 * np.median(energy))
    if np.count_nonzero(voiced) >= 10:
        counts = np.bincount(lag[voiced], minlength=hi + 2)
        mode = int(np.argmax(counts))
        if counts[max(0, mode - 1):mode + 2].sum() > 0.5 * np.count_nonzero(voiced):
            voiced &= np.abs(lag - mode) > 1  # a steady tone, not a voice
    padded = np.concatenate([[False], voiced, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1]).reshape(-1, 2)
    keep = np.zeros(len(voiced), dtype=bool)
    for start, stop in edges:
        if stop - start >= 2:
            keep[start:stop] = True
    return float(np.mean(keep))

