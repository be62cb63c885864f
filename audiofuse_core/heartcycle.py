"""Heart rate and heart-cycle segmentation: where S1, systole, S2 and diastole lie in a recording.

The method follows the published descriptions of Schmidt et al. (2010) and Springer et al.
(2016); it is implemented here from those descriptions, not from their code.

1. The recording is resampled to 1000 Hz, band-passed to 25-400 Hz and cleared of friction spikes
   (Schmidt's rule: in 500 ms windows whose peak exceeds three times the median peak, the spike
   between the zero crossings around the peak is set to zero).
2. Four envelopes are taken at 50 Hz and standardised: the homomorphic envelope (exp of the
   8 Hz low-passed log of the Hilbert envelope), the Hilbert envelope, a 60-125 Hz sub-band
   envelope (where Springer used a db7 wavelet detail of the same band) and the mean power
   spectral density in 40-60 Hz of 50 ms frames.
3. Heart rate: the autocorrelation of the homomorphic envelope peaks at the heart-cycle length
   (searched over 0.3-2 s, i.e. 30-200 beats per minute; a peak whose double is no cycle is
   taken for the S1-S2 lag instead). The S1-to-S2 (systolic) interval is the autocorrelation
   peak between 0.15 s and half a cycle, or its mirror about half a cycle, whichever is nearer to
   the interval the training data predict for that rate. The height of the cycle peak (0..1) is
   the recording's *periodicity*.
4. States: a four-state hidden semi-Markov model (S1 -> systole -> S2 -> diastole -> S1) with
   Gaussian state durations that depend on the heart rate and systolic interval, and emission
   probabilities from a multinomial logistic regression on the envelopes (the posterior divided
   by the state prior, as Springer did). The most likely state sequence comes from a duration
   Viterbi that lets the first and last state run over the recording's edges.

The logistic regression and the duration spreads are learned from expert segmentations with
:func:`fit_params` (``bench/validate_heartcycle.py --fit`` writes ``heartcycle_params.json``).

References: S. E. Schmidt et al., "Segmentation of heart sound recordings by a duration-dependent
hidden Markov model", Physiol. Meas. 31(4):513-529, 2010. D. B. Springer, L. Tarassenko,
G. D. Clifford, "Logistic regression-HSMM-based heart sound segmentation", IEEE Trans. Biomed.
Eng. 63(4):822-832, 2016.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

PROCESS_RATE = 1000  # Hz: the envelopes are computed at this rate
FEATURE_RATE = 50  # Hz: one HSMM observation every 20 ms
BAND_HZ = (25.0, 400.0)
SUBBAND_HZ = (60.0, 125.0)
MIN_BPM = 30.0
MAX_BPM = 200.0
# No heart rate is reported below min_periodicity(duration): 0.65 / sqrt(duration in s), at
# least 0.12. Noise alone reaches that about 7 % of the time (its peak shrinks as the recording
# grows: 0.26 at 8 s, 0.15 at 20 s in 95 % of white, pink and brown noises).
_NOISE_PERIODICITY = 0.65
_MIN_PERIODICITY = 0.12
STATE_NAMES = ("S1", "systole", "S2", "diastole")
SHAPE_BANDS_HZ = (25.0, 45.0, 80.0, 140.0, 250.0, 400.0)  # edges of the spectral-shape bands
N_FEATURES = 4 + len(SHAPE_BANDS_HZ) - 1
CONTEXT = 2  # the regression sees each frame with its two neighbours on either side
PARAMS_PATH = Path(__file__).with_name("heartcycle_params.json")
_PREVIOUS = np.array([3, 0, 1, 2])  # the state before S1 is diastole, etc.


# -- data -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Envelopes:
    """The standardised HSMM observations of one recording at :data:`FEATURE_RATE`."""

    features: np.ndarray  # [frames, 9]: 4 envelopes and 5 spectral-shape bands, z-scored
    homomorphic: np.ndarray  # [frames], the homomorphic envelope before standardisation
    rate: int = FEATURE_RATE


@dataclass(frozen=True)
class HeartRate:
    """The autocorrelation estimate of the heart rate and the S1-S2 interval."""

    heart_rate_bpm: float | None  # None when the recording shows no heart-cycle periodicity
    systolic_interval_s: float | None  # S1 onset to S2 onset
    periodicity: float  # the normalised autocorrelation at the cycle lag, 0..1
    cycle_lag_s: float | None  # the best cycle lag even when it is not trusted


@dataclass
class HeartCycles:
    """Heart rate and the S1/S2 sounds found in a recording (times in s from its start)."""

    heart_rate_bpm: float | None
    systolic_interval_s: float | None
    periodicity: float
    s1_onsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    s1_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    s2_onsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    s2_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    states: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # 0..3 per frame
    state_rate: int = FEATURE_RATE

    @property
    def s1_centres(self) -> np.ndarray:
        return (self.s1_onsets + self.s1_offsets) / 2.0

    @property
    def s2_centres(self) -> np.ndarray:
        return (self.s2_onsets + self.s2_offsets) / 2.0

    @property
    def cycle_count(self) -> int:
        return int(len(self.s1_onsets))

    def to_dict(self) -> dict[str, Any]:
        def pairs(onsets: np.ndarray, offsets: np.ndarray) -> list[list[float]]:
            return [[round(float(a), 3), round(float(b), 3)] for a, b in zip(onsets, offsets)]

        return {
            "heart_rate_bpm": _rounded(self.heart_rate_bpm, 1),
            "systolic_interval_s": _rounded(self.systolic_interval_s, 3),
            "periodicity": round(float(self.periodicity), 3),
            "s1": pairs(self.s1_onsets, self.s1_offsets),
            "s2": pairs(self.s2_onsets, self.s2_offsets),
        }


@dataclass(frozen=True)
class HSMMParams:
    """Learned parameters: the emission regression and the state-duration model (seconds)."""

    weights: np.ndarray  # [N_FEATURES * (2 CONTEXT + 1) + 1, 4]: bias row first
    log_prior: np.ndarray  # [4] log of each state's share of the training frames
    s1_mean: float
    s1_sd: float
    s2_mean: float
    s2_sd: float
    systole_sd: float
    diastole_sd_slope: float  # diastole sd = slope * mean + offset
    diastole_sd_offset: float
    # systolic interval (S1 onset to S2 onset) predicted from the cycle length: a + b * cycle
    systolic_intercept: float
    systolic_slope: float
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": np.round(self.weights, 6).tolist(),
            "log_prior": np.round(self.log_prior, 6).tolist(),
            "s1_mean": self.s1_mean, "s1_sd": self.s1_sd,
            "s2_mean": self.s2_mean, "s2_sd": self.s2_sd,
            "systole_sd": self.systole_sd,
            "diastole_sd_slope": self.diastole_sd_slope,
            "diastole_sd_offset": self.diastole_sd_offset,
            "systolic_intercept": self.systolic_intercept,
            "systolic_slope": self.systolic_slope,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HSMMParams:
        values = dict(data)
        values["weights"] = np.asarray(values["weights"], dtype=np.float64)
        values["log_prior"] = np.asarray(values["log_prior"], dtype=np.float64)
        return cls(**values)


@lru_cache(maxsize=1)
def default_params() -> HSMMParams:
    """The parameters shipped with AudioFuse (learned on CirCor, see docs/signal_analysis.md)."""
    return HSMMParams.from_dict(json.loads(PARAMS_PATH.read_text(encoding="utf-8")))


# -- envelopes ------------------------------------------------------------------------------------

def preprocess(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample to 1000 Hz, band-pass 25-400 Hz and remove friction spikes."""
    from scipy.signal import resample_poly, sosfiltfilt

    x = np.asarray(samples, dtype=np.float64)
    if int(sample_rate) != PROCESS_RATE:
        ratio = Fraction(PROCESS_RATE, int(sample_rate)).limit_denominator(1000)
        x = resample_poly(x, ratio.numerator, ratio.denominator)
    sos = _butter_sos(4, BAND_HZ, "bandpass")
    x = sosfiltfilt(sos, x, padlen=min(len(x) - 1, 3 * (2 * len(sos) + 1)))
    return remove_spikes(x, PROCESS_RATE)


def remove_spikes(x: np.ndarray, rate: int, *, window_seconds: float = 0.5,
                  factor: float = 3.0) -> np.ndarray:
    """Schmidt et al.'s spike removal: zero the spike in any window whose peak is > 3x median."""
    window = int(window_seconds * rate)
    count = len(x) // window
    if count < 3:
        return x
    x = x.copy()
    frames = x[: count * window].reshape(count, window)  # a view: edits reach x
    peaks = np.abs(frames).max(axis=1)
    for _ in range(count):
        median = np.median(peaks)
        worst = int(np.argmax(peaks))
        if peaks[worst] <= factor * median or median <= 0:
            break
        frame = frames[worst]
        centre = int(np.argmax(np.abs(frame)))
        signs = np.signbit(frame)
        crossings = np.flatnonzero(signs[1:] != signs[:-1]) + 1
        before = crossings[crossings <= centre]
        after = crossings[crossings > centre]
        start = int(before[-1]) if len(before) else 0
        stop = int(after[0]) if len(after) else window
        frame[start:stop] = 0.0
        peaks[worst] = np.abs(frame).max()
    return x


def envelopes(samples: np.ndarray, sample_rate: int, *,
              prepared: np.ndarray | None = None) -> Envelopes:
    """The standardised observations at 50 Hz (``prepared``: the output of :func:`preprocess`).

    Springer's four envelopes, and the spectral shape of 40 ms frames (the share of each of five
    bands, in dB), which tells the lower, longer S1 from the higher, shorter S2.
    """
    from scipy.signal import hilbert, resample_poly, sosfiltfilt

    x = preprocess(samples, sample_rate) if prepared is None else prepared
    factor = PROCESS_RATE // FEATURE_RATE
    n_frames = int(np.ceil(len(x) / factor))
    hilbert_env = np.abs(hilbert(x))
    tiny = 1e-10 * (float(hilbert_env.max()) + 1e-30)
    log_env = np.log(hilbert_env + tiny)
    low = _butter_sos(1, 8.0, "lowpass")
    homomorphic = np.exp(sosfiltfilt(low, log_env, padlen=min(len(x) - 1, 9)))
    sub = sosfiltfilt(_butter_sos(4, SUBBAND_HZ, "bandpass"), x,
                      padlen=min(len(x) - 1, 27))
    sub_env = np.abs(hilbert(sub))
    decimated = [np.maximum(resample_poly(e, 1, factor)[:n_frames], 0.0)
                 for e in (homomorphic, hilbert_env, sub_env)]
    psd, shape = _frame_spectra(x, factor, n_frames)
    stack = np.column_stack(decimated + [psd, shape])
    mean = stack.mean(axis=0)
    sd = stack.std(axis=0)
    sd[sd <= 0] = 1.0
    return Envelopes(features=(stack - mean) / sd, homomorphic=decimated[0])


def _frame_spectra(x: np.ndarray, hop: int, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per feature frame: Springer's mean power in 40-60 Hz of a 50 ms Hann frame, and the
    spectral shape (dB share of each band in :data:`SHAPE_BANDS_HZ`) of a 40 ms frame.
    """
    starts = np.arange(n_frames) * hop
    psd_length = PROCESS_RATE // 20  # 50 ms
    padded = np.pad(x, (psd_length // 2, psd_length + hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, psd_length)[starts]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(psd_length), n=100, axis=1)) ** 2
    psd = spectrum[:, 4:7].mean(axis=1)  # 10 Hz bins: 40, 50 and 60 Hz
    length = PROCESS_RATE // 25  # 40 ms
    padded = np.pad(x, (length // 2, length + hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, length)[starts]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(length), n=128, axis=1)) ** 2
    frequencies = np.fft.rfftfreq(128, 1.0 / PROCESS_RATE)
    edges = SHAPE_BANDS_HZ
    power = np.column_stack([
        spectrum[:, (frequencies >= lo) & (frequencies < hi)].sum(axis=1)
        for lo, hi in zip(edges[:-1], edges[1:])
    ]) + 1e-20
    shape = np.log(power) - np.log(power.sum(axis=1, keepdims=True))
    return psd, shape


# -- heart rate -----------------------------------------------------------------------------------

def autocorrelation(envelope: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation (lag 0 = 1) of a mean-removed envelope, by FFT."""
    e = np.asarray(envelope, dtype=np.float64) - float(np.mean(envelope))
    n = len(e)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(e, size)
    corr = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n]
    if corr[0] <= 0:
        return np.zeros(n)
    # unbiased: every lag is a mean over the overlapping part only
    return corr / corr[0] * n / np.maximum(n - np.arange(n), 1)


def rate_envelope(homomorphic: np.ndarray, rate: int = FEATURE_RATE) -> np.ndarray:
    """The homomorphic envelope with its loudness levelled for the rate search.

    Divided by a smoothed 3 s moving maximum (so a loud stretch does not outweigh a quiet one)
    and clipped at its 95th percentile (so a rub or knock does not dominate the correlation).
    """
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    size = max(3, int(3.0 * rate))
    level = uniform_filter1d(maximum_filter1d(homomorphic, size, mode="nearest"), size,
                             mode="nearest")
    levelled = homomorphic / (level + 1e-12 * (float(level.max()) + 1e-30))
    return np.minimum(levelled, np.percentile(levelled, 95))


def local_autocorrelation(envelope: np.ndarray, rate: int = FEATURE_RATE, *,
                          window_seconds: float = 5.0, hop_seconds: float = 1.0,
                          max_lag_seconds: float = 60.0 / MIN_BPM) -> np.ndarray:
    """The mean of the normalised autocorrelations of overlapping 5 s stretches.

    Averaging short stretches keeps the cycle peak sharp when the rate drifts (sinus
    arrhythmia in children) and gives every stretch the same say.
    """
    window = int(window_seconds * rate)
    hop = max(1, int(hop_seconds * rate))
    n = len(envelope)
    if n <= window:
        return autocorrelation(envelope)
    max_lag = min(int(max_lag_seconds * rate) + 2, window - 1)
    starts = np.arange(0, n - window + 1, hop)
    if starts[-1] + window < n:
        starts = np.append(starts, n - window)
    frames = np.lib.stride_tricks.sliding_window_view(envelope, window)[starts]
    frames = frames - frames.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * window)))
    spectrum = np.fft.rfft(frames, size, axis=1)
    corr = np.fft.irfft(spectrum * np.conj(spectrum), size, axis=1)[:, :max_lag + 1]
    energy = corr[:, :1]
    keep = energy[:, 0] > 0
    if not keep.any():
        return np.zeros(max_lag + 1)
    corr = corr[keep] / energy[keep] * window / (window - np.arange(max_lag + 1))
    return corr.mean(axis=0)


def rate_autocorrelation(env: Envelopes) -> np.ndarray:
    """The autocorrelation the heart rate is read from (see :func:`local_autocorrelation`)."""
    return local_autocorrelation(rate_envelope(env.homomorphic, env.rate), env.rate)


def periodicity(corr: np.ndarray, rate: int = FEATURE_RATE) -> float:
    """The highest autocorrelation peak at a heart-cycle lag (30-200 beats per minute), 0..1."""
    peaks = _cycle_peaks(corr, rate)
    return float(np.clip(corr[peaks].max(), 0.0, 1.0)) if len(peaks) else 0.0


def min_periodicity(duration_s: float) -> float:
    """The periodicity a recording of this length needs before its heart rate is believed."""
    return max(_MIN_PERIODICITY, _NOISE_PERIODICITY / np.sqrt(max(duration_s, 1e-3)))


def estimate_heart_rate(env: Envelopes, params: HSMMParams | None = None, *,
                        corr: np.ndarray | None = None) -> HeartRate:
    """The autocorrelation-only estimate (Springer's, made robust; no segmentation).

    The cycle is the shortest-lag autocorrelation peak within 30-200 beats per minute that
    reaches 80 % of the highest peak there (the highest alone is often two cycles).
    :func:`segment` goes further and lets the HSMM choose among the peaks.
    """
    params = params or default_params()
    corr = rate_autocorrelation(env) if corr is None else corr
    peaks = _cycle_peaks(corr, env.rate)
    if not len(peaks):
        return HeartRate(None, None, 0.0, None)
    highest = float(corr[peaks].max())
    lag = int(peaks[corr[peaks] >= 0.8 * highest][0]) if highest > 0 else \
        int(peaks[np.argmax(corr[peaks])])
    cycle = _parabolic(corr, lag) / env.rate
    systolic = _systolic_options(corr, cycle, env.rate, params)[0]
    if highest < min_periodicity(len(env.homomorphic) / env.rate):
        return HeartRate(None, None, max(highest, 0.0), cycle)
    return HeartRate(60.0 / cycle, systolic, float(np.clip(corr[lag], 0, 1)), cycle)


def rate_hypotheses(corr: np.ndarray, params: HSMMParams, rate: int = FEATURE_RATE, *,
                    share: float = 0.3, limit: int = 4) -> list[HeartRate]:
    """Candidate (cycle, systolic interval) pairs for the HSMM to choose from.

    The autocorrelation peaks in the heart-rate range that reach ``share`` of the highest,
    highest first, at most ``limit``. Each cycle comes with the S1-S2 lag and its mirror (the
    autocorrelation cannot tell systole from diastole). Multiples of a cycle are kept on purpose:
    when the rate drifts, the S1-S2 lag can outshine the true cycle, whose triple then survives.
    """
    peaks = _cycle_peaks(corr, rate)
    if not len(peaks):
        return []
    highest = float(corr[peaks].max())
    if highest > 0:
        peaks = peaks[corr[peaks] >= share * highest]
    peaks = peaks[np.argsort(-corr[peaks], kind="stable")][:limit]
    out = []
    for lag in peaks:
        cycle = _parabolic(corr, int(lag)) / rate
        strength = float(np.clip(corr[lag], 0.0, 1.0))
        for systolic in _systolic_options(corr, cycle, rate, params):
            out.append(HeartRate(60.0 / cycle, systolic, strength, cycle))
    return out


def _cycle_peaks(corr: np.ndarray, rate: int) -> np.ndarray:
    lo = int(np.floor(60.0 / MAX_BPM * rate))
    hi = min(int(np.ceil(60.0 / MIN_BPM * rate)), len(corr) - 2)
    return _local_maxima(corr, lo, hi)


def _systolic_options(corr: np.ndarray, cycle: float, rate: int,
                      params: HSMMParams) -> list[float]:
    """S1-to-S2 intervals worth trying for this cycle, the likeliest first.

    The autocorrelation peak between 0.15 s and half a cycle is either systole or diastole
    (both lags carry the S1-S2 product), so it is offered with its mirror, the one nearer to the
    interval the training data predict for this cycle first; with no such peak, the prediction.
    """
    expected = params.systolic_intercept + params.systolic_slope * cycle
    expected = float(np.clip(expected, 0.15, 0.7 * cycle))
    lo = int(np.floor(0.15 * rate))
    hi = int(np.floor(0.5 * cycle * rate))
    peaks = _local_maxima(corr, lo, hi) if hi > lo + 1 else np.zeros(0, int)
    if not len(peaks):
        return [expected]
    peak = _parabolic(corr, int(peaks[np.argmax(corr[peaks])])) / rate
    options = sorted((peak, cycle - peak), key=lambda value: abs(value - expected))
    return [value for value in options if 0.1 <= value <= cycle - 0.1] or [expected]


def _local_maxima(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    lo = max(lo, 1)
    hi = min(hi, len(values) - 2)
    if hi < lo:
        return np.zeros(0, dtype=int)
    segment = values[lo:hi + 1]
    left = values[lo - 1:hi]
    right = values[lo + 1:hi + 2]
    return np.flatnonzero((segment > left) & (segment >= right)) + lo


def _parabolic(values: np.ndarray, index: int) -> float:
    """Sub-sample position of the peak at ``index`` (a parabola through three points)."""
    if index <= 0 or index >= len(values) - 1:
        return float(index)
    a, b, c = values[index - 1], values[index], values[index + 1]
    denominator = a - 2 * b + c
    if denominator >= 0:
        return float(index)
    return float(index + 0.5 * (a - c) / denominator)


# -- segmentation ---------------------------------------------------------------------------------

def segment(samples: np.ndarray | None, sample_rate: int, *, params: HSMMParams | None = None,
            env: Envelopes | None = None) -> HeartCycles:
    """Heart rate and S1/S2 sounds of a recording; empty markers when no rate can be measured.

    Each rate hypothesis (:func:`rate_hypotheses`) gets its own duration model; the one whose
    best state sequence is the most likely wins. The heart rate is then 60 / the median interval
    between the S1 onsets found (the hypothesis' cycle when fewer than three S1 were found).
    ``env`` (from :func:`envelopes`) may be given to skip the signal processing.
    """
    params = params or default_params()
    if env is None:
        if samples is None:
            raise ValueError("give the samples or their envelopes")
        env = envelopes(samples, sample_rate)
    corr = rate_autocorrelation(env)
    strength = periodicity(corr, env.rate)
    hypotheses = rate_hypotheses(corr, params, env.rate)
    too_weak = strength < min_periodicity(len(env.features) / env.rate)
    if too_weak or not hypotheses or len(env.features) < 2:
        return HeartCycles(None, None, strength)
    log_b = emission_log_likelihood(env.features, params)
    models = [duration_model(h.heart_rate_bpm, h.systolic_interval_s, params, env.rate)
              for h in hypotheses]
    means = np.stack([m for m, _ in models])
    sds = np.stack([sd for _, sd in models])
    states, scores = _hsmm_viterbi(log_b, means, sds)
    chosen = hypotheses[int(np.argmax(scores))]
    cycles = cycles_from_states(states, chosen, env.rate)
    intervals = np.diff(cycles.s1_onsets)
    intervals = intervals[intervals <= 60.0 / MIN_BPM]
    if len(intervals) >= 2:
        cycles.heart_rate_bpm = 60.0 / float(np.median(intervals))
    return cycles


def emission_log_likelihood(features: np.ndarray, params: HSMMParams) -> np.ndarray:
    """Log P(state | observation) - log P(state): the emission up to a per-frame constant."""
    logits = _design(features) @ params.weights
    logits -= logits.max(axis=1, keepdims=True)
    log_posterior = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return log_posterior - params.log_prior


def duration_model(heart_rate_bpm: float, systolic_interval_s: float, params: HSMMParams,
                   rate: int = FEATURE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Per-state (mean, sd) of the durations in frames for this heart rate."""
    cycle = 60.0 / heart_rate_bpm
    systole = max(systolic_interval_s - params.s1_mean, 0.04)
    diastole = max(cycle - systolic_interval_s - params.s2_mean, 0.06)
    diastole_sd = params.diastole_sd_slope * diastole + params.diastole_sd_offset
    means = np.array([params.s1_mean, systole, params.s2_mean, diastole]) * rate
    sds = np.array([params.s1_sd, params.systole_sd, params.s2_sd, diastole_sd]) * rate
    return means, np.maximum(sds, 0.5)


def viterbi_states(features: np.ndarray, heart_rate_bpm: float, systolic_interval_s: float,
                   params: HSMMParams) -> np.ndarray:
    """The most likely state (0 S1, 1 systole, 2 S2, 3 diastole) of every frame."""
    log_b = emission_log_likelihood(features, params)
    means, sds = duration_model(heart_rate_bpm, systolic_interval_s, params)
    return _hsmm_viterbi(log_b, means[None], sds[None])[0]


def _duration_tables(means: np.ndarray, sds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log P(d) and log P(D >= d) for d = 1..D (rows) and each column of ``means``/``sds``."""
    low = np.maximum(1, np.floor(means - 3 * sds)).astype(int)
    high = np.ceil(means + 3 * sds).astype(int) + 1
    longest = int(high.max())
    d = np.arange(1, longest + 1, dtype=np.float64)[:, None]
    density = np.exp(-0.5 * ((d - means) / sds) ** 2)
    density[(d < low) | (d > high)] = 0.0
    density /= density.sum(axis=0, keepdims=True)
    survival = np.cumsum(density[::-1], axis=0)[::-1]
    with np.errstate(divide="ignore"):
        return np.log(density), np.log(np.minimum(survival, 1.0))


def _hsmm_viterbi(log_b: np.ndarray, means: np.ndarray,
                  sds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Duration Viterbi over the cyclic chain for several duration models at once.

    ``means`` and ``sds`` are [H, 4] (frames): H hypotheses share the emissions and run side by
    side as 4 H columns, which costs hardly more than one. Returns the state of every frame under
    the best hypothesis and the best log-probability of each hypothesis.

    delta[t, j] is the best log-probability of the frames 0..t with a segment of state j ending
    at t. With C the cumulative emissions, a segment [s, t] scores C[t+1] - C[s], so
    delta[t, j] = C[t+1, j] + max_d (A[t-d+1, j] + log p_j(d)) with
    A[s, j] = delta[s-1, prev(j)] - C[s, j]. A segment that starts at frame 0 began before the
    recording: it is scored with the survival function (P(D >= d)) instead of the density, and
    so is the segment that ends at the last frame.
    """
    n_frames = len(log_b)
    n_hyp = len(means)
    width = 4 * n_hyp
    log_p, log_s = _duration_tables(means.reshape(-1), sds.reshape(-1))
    longest = len(log_p)
    previous = (np.arange(width) // 4) * 4 + _PREVIOUS[np.arange(width) % 4]
    columns = np.arange(width)
    cum = np.tile(np.vstack([np.zeros((1, 4)), np.cumsum(log_b, axis=0)]), (1, n_hyp))
    a = np.full((n_frames + 1, width), -np.inf)  # a[s]: the score of a segment starting at s
    delta = np.empty((n_frames, width))
    best_d = np.empty((n_frames, width), dtype=np.int32)
    rev_p = log_p[::-1]  # row i is d = longest - i
    start = np.log(0.25) + log_s  # a first segment of d frames, begun before the recording
    for t in range(n_frames):
        first = max(1, t - longest + 1)
        count = t - first + 1  # segments starting at first..t, durations count..1
        if count > 0:
            scores = a[first:t + 1] + rev_p[longest - count:]
            arg = scores.argmax(axis=0)
            best = scores[arg, columns]
            d_of = count - arg
            if t < longest:
                better = start[t] > best
                best = np.where(better, start[t], best)
                d_of = np.where(better, t + 1, d_of)
        else:
            best = start[0]
            d_of = np.ones(width, dtype=np.int32)
        delta[t] = cum[t + 1] + best
        best_d[t] = d_of
        a[t + 1] = delta[t, previous] - cum[t + 1]
    # the last segment ends at the last frame but may go on after it: survival, not density
    first = max(1, n_frames - longest)
    durations = n_frames - np.arange(first, n_frames)
    final = np.full(width, -np.inf)
    final_d = np.ones(width, dtype=np.int64)
    if len(durations):
        scores = a[first:n_frames] + log_s[durations - 1]
        arg = scores.argmax(axis=0)
        final = cum[n_frames] + scores[arg, columns]
        final_d = durations[arg]
    if n_frames <= longest:  # one segment may span the whole recording
        whole = cum[n_frames] + np.log(0.25) + log_s[n_frames - 1]
        better = whole > final
        final = np.where(better, whole, final)
        final_d = np.where(better, n_frames, final_d)
    per_hypothesis = final.reshape(n_hyp, 4).max(axis=1)
    column = int(np.argmax(final))
    states = np.empty(n_frames, dtype=np.int8)
    t = n_frames - 1
    d = int(final_d[column])
    while t >= 0:
        d = max(1, min(d, t + 1))
        states[t - d + 1:t + 1] = column % 4
        t -= d
        column = int(previous[column])
        if t >= 0:
            d = int(best_d[t, column])
    return states, per_hypothesis


def cycles_from_states(states: np.ndarray, rate: HeartRate, state_rate: int) -> HeartCycles:
    """Turn a frame-state sequence into S1/S2 onset and offset times (in s)."""
    padded = np.concatenate([[-1], states, [-1]])
    change = np.flatnonzero(padded[1:] != padded[:-1])
    starts, stops = change[:-1], change[1:]
    kinds = states[starts]
    s1 = kinds == 0
    s2 = kinds == 2
    return HeartCycles(
        heart_rate_bpm=rate.heart_rate_bpm, systolic_interval_s=rate.systolic_interval_s,
        periodicity=rate.periodicity,
        s1_onsets=starts[s1] / state_rate, s1_offsets=stops[s1] / state_rate,
        s2_onsets=starts[s2] / state_rate, s2_offsets=stops[s2] / state_rate,
        states=states.astype(np.int8), state_rate=state_rate,
    )


# -- learning -------------------------------------------------------------------------------------

def read_annotations(path: str | Path) -> np.ndarray:
    """A CirCor ``.tsv`` segmentation as rows (start s, end s, state 0-4; 1 S1 ... 4 diastole)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.strip().split()
        if len(parts) >= 3:
            rows.append((float(parts[0]), float(parts[1]), int(float(parts[2]))))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def frame_labels(annotations: np.ndarray, n_frames: int, rate: int = FEATURE_RATE) -> np.ndarray:
    """The annotated state of each frame as 0..3 (S1, systole, S2, diastole), -1 unannotated."""
    labels = np.full(n_frames, -1, dtype=np.int8)
    times = np.arange(n_frames) / rate
    for start, end, state in annotations:
        if 1 <= state <= 4:
            labels[(times >= start) & (times < end)] = int(state) - 1
    return labels


def fit_params(recordings: list[tuple[Envelopes, np.ndarray]], *, l2: float = 1e-3,
               source: str = "") -> HSMMParams:
    """Learn the emission regression and the duration model from annotated recordings.

    ``recordings`` pairs each recording's envelopes with its annotation rows
    (:func:`read_annotations`).
    """
    from scipy.optimize import minimize

    xs, ys = [], []
    durations: dict[int, list[float]] = {1: [], 2: [], 3: [], 4: []}
    per_recording = []  # (cycles, systolic intervals, diastoles) of complete cycles
    for env, rows in recordings:
        labels = frame_labels(rows, len(env.features), env.rate)
        keep = labels >= 0
        xs.append(_design(env.features)[keep])
        ys.append(labels[keep])
        for start, end, state in rows:
            if 1 <= state <= 4:
                durations[int(state)].append(end - start)
        cycles = _annotated_cycles(rows)
        if len(cycles) >= 3:
            per_recording.append(cycles)
    x = np.concatenate(xs)
    y = np.concatenate(ys).astype(int)
    onehot = np.eye(4)[y]
    n, k = x.shape

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(k, 4)
        logits = x @ w
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        value = -np.sum(onehot * log_p) / n + 0.5 * l2 * np.sum(w[1:] ** 2)
        grad = x.T @ (np.exp(log_p) - onehot) / n
        grad[1:] += l2 * w[1:]
        return float(value), grad.ravel()

    result = minimize(loss, np.zeros(k * 4), jac=True, method="L-BFGS-B",
                      options={"maxiter": 1000})
    weights = result.x.reshape(k, 4)
    prior = np.bincount(y, minlength=4) / len(y)
    s1 = np.asarray(durations[1])
    s2 = np.asarray(durations[3])
    # The model knows one cycle length and one systolic interval per recording, so the spreads
    # that matter are those of each cycle about its recording's typical cycle.
    typical_cycle = np.array([np.median(c[:, 0]) for c in per_recording])
    typical_systolic = np.array([np.median(c[:, 1]) for c in per_recording])
    slope, intercept = np.polyfit(typical_cycle, typical_systolic, 1)
    systolic_spread = np.concatenate([c[:, 1] - np.median(c[:, 1]) for c in per_recording])
    expected_diastole, diastole_spread = [], []
    for cycles, cycle, systolic in zip(per_recording, typical_cycle, typical_systolic):
        expected = cycle - systolic - float(np.mean(s2))
        observed = cycles[:, 2][np.isfinite(cycles[:, 2])]
        if len(observed) >= 2:
            expected_diastole.append(expected)
            diastole_spread.append(float(np.sqrt(np.mean((observed - expected) ** 2))))
    # Springer: sd = 7 % of the mean + 6 ms; here the slope and offset are fitted
    d_slope, d_offset = np.polyfit(expected_diastole, diastole_spread, 1)
    return HSMMParams(
        weights=weights, log_prior=np.log(prior),
        s1_mean=float(np.mean(s1)), s1_sd=float(np.std(s1)),
        s2_mean=float(np.mean(s2)), s2_sd=float(np.std(s2)),
        systole_sd=float(np.sqrt(np.mean(systolic_spread ** 2))),
        diastole_sd_slope=float(max(d_slope, 0.0)),
        diastole_sd_offset=float(max(d_offset, 0.005)),
        systolic_intercept=float(intercept), systolic_slope=float(slope),
        source=source,
    )


def _annotated_cycles(rows: np.ndarray) -> np.ndarray:
    """Complete annotated cycles as rows (S1-to-S1 s, S1-to-S2 onset s, diastole s or NaN)."""
    out = []
    s1_rows = np.flatnonzero(rows[:, 2] == 1)
    for a, b in zip(s1_rows[:-1], s1_rows[1:]):
        between = rows[a:b]
        if np.any(between[:, 2] == 0) or rows[b, 0] - rows[a, 0] > 60.0 / MIN_BPM:
            continue
        s2 = between[between[:, 2] == 3]
        dia = between[between[:, 2] == 4]
        if len(s2) != 1:
            continue
        out.append((rows[b, 0] - rows[a, 0], s2[0, 0] - rows[a, 0],
                    dia[0, 1] - dia[0, 0] if len(dia) == 1 else np.nan))
    return np.asarray(out, dtype=np.float64).reshape(-1, 3)


def _design(features: np.ndarray) -> np.ndarray:
    """A bias column and each frame's features with those of its neighbours (edges repeated)."""
    n = len(features)
    padded = np.pad(features, ((CONTEXT, CONTEXT), (0, 0)), mode="edge")
    columns = [np.ones((n, 1))]
    columns += [padded[k:k + n] for k in range(2 * CONTEXT + 1)]
    return np.concatenate(columns, axis=1)


# -- scoring --------------------------------------------------------------------------------------

def match_events(detected: np.ndarray, reference: np.ndarray, tolerance: float) -> int:
    """How many reference times have a detected time within ``tolerance`` (one-to-one, nearest
    first).
    """
    detected = np.sort(np.asarray(detected, dtype=np.float64))
    reference = np.sort(np.asarray(reference, dtype=np.float64))
    if not len(detected) or not len(reference):
        return 0
    gaps = np.abs(detected[:, None] - reference[None, :])
    pairs = np.argwhere(gaps <= tolerance)
    order = np.argsort(gaps[pairs[:, 0], pairs[:, 1]], kind="stable")
    used_d, used_r = set(), set()
    for i, j in pairs[order]:
        if i not in used_d and j not in used_r:
            used_d.add(int(i))
            used_r.add(int(j))
    return len(used_r)


def _butter_sos(order: int, band: float | tuple[float, float], kind: str) -> np.ndarray:
    from .audio import butter_sos

    nyquist = PROCESS_RATE / 2.0
    cutoff = np.asarray(band, dtype=np.float64) / nyquist
    return butter_sos(order, cutoff.item() if cutoff.ndim == 0 else tuple(cutoff.tolist()), kind)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
