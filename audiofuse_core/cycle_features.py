"""A recording described by its heart cycle and its spectrum: features for a classifier beside the
networks (measured in bench/cycle_features.py and docs/results.md, "Experiments").

* :func:`cycle_features`: the recording is segmented into S1, systole, S2 and diastole
  (:func:`audiofuse_core.heartcycle.segment`); in each of 11 bands (25-800 Hz) the log energy of
  each phase is compared with another's (systole against S1, diastole against S2, systole
  against diastole, S2 against S1), with the spread of the systole's and the diastole's log
  energy over their frames, and 5 rhythm figures. A stethoscope's frequency response adds the
  same constant to every phase's log energy in a band, so the contrasts and spreads do not see
  it; a murmur raises exactly them. NaN when the recording has no measurable heart cycle.
* :func:`cycle_profile`: the shape of the median heart cycle in 4 bands (S1 to S2 and S2 to the
  next S1, 8 points each, each band less its mean): where in systole or diastole a sound sits,
  again free of a constant gain per band.
* :func:`spectral_summary`: 96 log-Mel summaries (each band's level against the whole, its
  spread over time and its 90th percentile): these do carry the device's colouring.
"""

from __future__ import annotations

import numpy as np

from .audio import bandpass
from .features import mel_filterbank

RATE = 2000  # Hz: every feature is computed at the recordings' own PhysioNet rate
BANDS_HZ = (25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 600.0, 800.0)
PHASES = ("S1", "systole", "S2", "diastole")  # heartcycle's states 0..3
CONTRASTS = (("systole", "S1"), ("diastole", "S2"), ("systole", "diastole"), ("S2", "S1"))
RHYTHM = ("heart_rate_bpm", "systole_share", "irregularity", "periodicity", "cycles_per_s")
N_BANDS = len(BANDS_HZ) - 1
N_CYCLE = len(CONTRASTS) * N_BANDS + 2 * N_BANDS + len(RHYTHM)
N_MELS = 32
N_SPECTRAL = 3 * N_MELS
# the profile's bands: groups of BANDS_HZ's bands (25-100, 100-250, 250-400, 400-800 Hz)
PROFILE_GROUPS = ((0, 3), (3, 6), (6, 8), (8, 11))
PROFILE_POINTS = 8  # per half cycle (S1 to S2, S2 to the next S1)
N_PROFILE = len(PROFILE_GROUPS) * 2 * PROFILE_POINTS


def cycle_feature_names() -> list[str]:
    bands = [f"{lo:g}-{hi:g}Hz" for lo, hi in zip(BANDS_HZ[:-1], BANDS_HZ[1:])]
    names = [f"{a}-{b} {band}" for a, b in CONTRASTS for band in bands]
    names += [f"{phase} spread {band}" for phase in ("systole", "diastole") for band in bands]
    return names + list(RHYTHM)


def prepare(samples: np.ndarray, rate: int) -> np.ndarray:
    """The band-passed (25-800 Hz) signal at :data:`RATE`, scaled to unit standard deviation."""
    if int(rate) != RATE:
        raise ValueError(f"features are computed at {RATE} Hz; got {rate} Hz (resample first)")
    x = bandpass(np.asarray(samples, dtype=np.float64), RATE, (25.0, 800.0))
    return x / (float(np.std(x)) + 1e-12)


def band_log_energy(x: np.ndarray) -> np.ndarray:
    """[bands, frames]: each band's log power in 64 ms Hann frames every 20 ms (the segmenter's
    50 Hz state rate), for a signal at :data:`RATE`.
    """
    n_fft, hop = 128, RATE // 50
    padded = np.pad(x, (n_fft // 2, n_fft // 2))
    count = 1 + (len(padded) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    power = np.abs(np.fft.rfft(padded[index] * np.hanning(n_fft), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / RATE)
    bands = [power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
             for lo, hi in zip(BANDS_HZ[:-1], BANDS_HZ[1:])]
    return np.log(np.stack(bands) + 1e-12)


def _band_energy_and_states(x: np.ndarray, cycles) -> tuple[np.ndarray, np.ndarray]:
    energy = band_log_energy(x)
    n = min(energy.shape[1], len(cycles.states))
    return energy[:, :n], np.asarray(cycles.states[:n])


def cycle_profile(energy: np.ndarray, cycles) -> np.ndarray:
    """:data:`N_PROFILE` figures: the median heart cycle's shape. ``energy``: [11 bands,
    frames] of :func:`band_log_energy` at the segmenter's 50 Hz, ``cycles`` the
    :class:`~audiofuse_core.heartcycle.HeartCycles` of the same signal. The median of
    :func:`cycle_shapes` over the cycles, each band less its mean over the cycle: a gain that is
    constant in a band (a stethoscope's response) leaves it unchanged. All NaN with fewer than
    three cycles.
    """
    shapes = cycle_shapes(energy, cycles)
    if shapes is None:
        return np.full(N_PROFILE, np.nan)
    profile = np.median(shapes, axis=0)
    return (profile - profile.mean(axis=1, keepdims=True)).ravel()


def cycle_shapes(energy: np.ndarray, cycles) -> np.ndarray | None:
    """[cycles, 4 bands, 2 x :data:`PROFILE_POINTS`]: every cycle from one S1 onset to the next
    with exactly one S2 onset between them, resampled to :data:`PROFILE_POINTS` points from S1
    to S2 and as many from S2 to the next S1 (so a slow and a fast heart line up), in
    :data:`PROFILE_GROUPS`' 4 bands (the mean log energy of their bands of ``energy``); None
    with fewer than three such cycles.
    """
    energy = np.asarray(energy, dtype=np.float64)
    grouped = np.stack([energy[a:b].mean(axis=0) for a, b in PROFILE_GROUPS])
    n = grouped.shape[1]
    rate = float(cycles.state_rate)
    s1 = np.round(np.asarray(cycles.s1_onsets) * rate).astype(int)
    s2 = np.round(np.asarray(cycles.s2_onsets) * rate).astype(int)
    shapes = []
    for start, end in zip(s1[:-1], s1[1:]):
        inside = s2[(s2 > start) & (s2 < end)]
        if end > n or len(inside) != 1:
            continue
        middle = int(inside[0])
        if middle - start < 3 or end - middle < 3:
            continue
        shapes.append(np.hstack([_resampled(grouped[:, start:middle]),
                                 _resampled(grouped[:, middle:end])]))
    return np.stack(shapes) if len(shapes) >= 3 else None


def _resampled(part: np.ndarray) -> np.ndarray:
    """[bands, PROFILE_POINTS]: each row linearly interpolated at evenly spaced points."""
    at = np.linspace(0.0, part.shape[1] - 1.0, PROFILE_POINTS)
    return np.stack([np.interp(at, np.arange(part.shape[1]), row) for row in part])


def cycle_features(samples: np.ndarray, rate: int, cycles=None) -> np.ndarray:
    """:data:`N_CYCLE` figures of the recording's heart cycle (names: :func:`cycle_feature_names`);
    all NaN when fewer than three cycles are found. ``cycles``: a
    :class:`~audiofuse_core.heartcycle.HeartCycles` already found for these samples.
    """
    from .heartcycle import segment

    x = prepare(samples, rate)
    if cycles is None:
        cycles = segment(x, RATE)
    if not _measurable(cycles):
        return np.full(N_CYCLE, np.nan)
    return _cycle_figures(*_band_energy_and_states(x, cycles), cycles)


def _measurable(cycles) -> bool:
    return cycles.heart_rate_bpm is not None and cycles.cycle_count >= 3


def _cycle_figures(energy: np.ndarray, states: np.ndarray, cycles) -> np.ndarray:
    n = energy.shape[1]
    level = {}
    for k, phase in enumerate(PHASES):
        frames = energy[:, states == k]
        if frames.shape[1] < 2:
            return np.full(N_CYCLE, np.nan)
        level[phase] = np.log(np.exp(frames).mean(axis=1))  # the phase's mean power, in log
    parts = [level[a] - level[b] for a, b in CONTRASTS]
    parts += [energy[:, states == 1].std(axis=1), energy[:, states == 3].std(axis=1)]
    intervals = np.diff(cycles.s1_onsets)
    intervals = intervals[(intervals > 0.25) & (intervals < 2.0)]
    irregularity = float(intervals.std() / intervals.mean()) if len(intervals) >= 2 else 0.0
    cycle_s = 60.0 / cycles.heart_rate_bpm
    parts.append(np.array([cycles.heart_rate_bpm, (cycles.systolic_interval_s or 0.0) / cycle_s,
                           irregularity, cycles.periodicity, cycles.cycle_count / (n / 50.0)]))
    return np.concatenate(parts)


def spectral_summary(samples: np.ndarray, rate: int) -> np.ndarray:
    """:data:`N_SPECTRAL` log-Mel summaries: per band (32, 25-800 Hz), its mean level against the
    mean of all bands, its spread over time, and its 90th percentile over time.
    """
    return _mel_summary(prepare(samples, rate))


def _mel_summary(x: np.ndarray) -> np.ndarray:
    mel = log_mel(x)
    centred = mel - mel.mean(1, keepdims=True)
    return np.concatenate([mel.mean(1) - mel.mean(), centred.std(1),
                           np.percentile(centred, 90, axis=1)])


def log_mel(x: np.ndarray, n_fft: int = 256, hop: int = 40) -> np.ndarray:
    """[N_MELS, frames] log-Mel power in dB (floor 1e-10, at most 80 dB under the peak) of a
    signal at :data:`RATE`: periodic Hann frames of ``n_fft`` centred every ``hop`` samples
    (zero-padded at the ends). The same figures as librosa's melspectrogram and power_to_db with
    these settings (tests/core/test_cycle_features.py compares them), in plain numpy: no
    second-long first call, no 100 MB of imports at prediction.
    """
    padded = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2))
    count = 1 + (len(padded) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(padded[index] * window, axis=1)) ** 2
    filters = mel_filterbank(RATE, n_fft, N_MELS, 25.0, 800.0)
    db = 10.0 * np.log10(np.maximum(filters @ power.T, 1e-10))
    return np.maximum(db, db.max() - 80.0)


def recording_features(samples: np.ndarray, rate: int, cycles=None, *,
                       profile: bool = False) -> np.ndarray:
    """:func:`cycle_features` then :func:`spectral_summary`: ``N_CYCLE + N_SPECTRAL`` values;
    with ``profile``, :func:`cycle_profile` after them (``+ N_PROFILE``). The recording is
    band-passed and segmented once (``cycles``: already found for these samples, band-passed as
    :func:`prepare` does).
    """
    from .heartcycle import segment

    x = prepare(samples, rate)
    if cycles is None:
        cycles = segment(x, RATE)
    spectral = _mel_summary(x)
    if not _measurable(cycles):
        return np.concatenate([np.full(N_CYCLE, np.nan), spectral,
                               np.full(N_PROFILE if profile else 0, np.nan)])
    energy, states = _band_energy_and_states(x, cycles)
    parts = [_cycle_figures(energy, states, cycles), spectral]
    if profile:
        parts.append(cycle_profile(energy, cycles))
    return np.concatenate(parts)
