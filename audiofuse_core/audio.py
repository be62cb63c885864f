"""Reading recordings: any format libsndfile reads (WAV, FLAC, OGG, MP3...), any rate, any depth.

Every function validates at the boundary and raises a precise :class:`InvalidAudioError` subclass
that names the file and the cause. Long files are read block by block and mixed to mono as they
are read, so a stereo 48 kHz hour never sits in memory at once; files beyond ``max_seconds`` are
refused with the limit in the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import (
    AudioFileNotFoundError,
    CorruptAudioError,
    EmptyAudioError,
    NonFiniteAudioError,
    NotAudioError,
    SampleRateError,
    SilentAudioError,
    TooLongError,
    TooShortError,
)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".w64")
MIN_SAMPLE_RATE = 500  # below this no heart sound survives (S1/S2 reach about 200 Hz)
MAX_SAMPLE_RATE = 768_000
DEFAULT_MAX_SECONDS = 30 * 60.0  # half an hour: far beyond any auscultation, still fits in memory
SILENCE_PEAK = 1e-5  # full scale is 1.0; 16-bit audio's smallest step is 3e-5
_BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True)
class Audio:
    """A mono recording as float32 samples in [-1, 1] (or beyond, for float files)."""

    samples: np.ndarray
    sample_rate: int
    original_rate: int
    path: Path | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def is_audio_path(path: str | Path) -> bool:
    """Whether ``path`` has an extension we try to read as audio."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def load_audio(
    path: str | Path,
    *,
    sample_rate: int | None = None,
    min_seconds: float = 0.0,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> Audio:
    """Read ``path``, mix it to mono and resample it to ``sample_rate`` (None keeps the file's).

    Raises a subclass of :class:`InvalidAudioError` naming the file and the cause.
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioFileNotFoundError("file not found", path=path)
    if not path.is_file():
        raise AudioFileNotFoundError("not a file (a folder?)", path=path)
    if path.stat().st_size == 0:
        raise EmptyAudioError("the file is empty (0 bytes)", path=path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _classify_open_error(path, exc) from None
    rate = int(info.samplerate)
    _check_rate(rate, path)
    if info.frames == 0:
        unfinished = _unfinished_wav(path)
        if unfinished is None:
            raise EmptyAudioError("the file holds no audio samples", path=path)
        # its writer stopped before it wrote the header's sizes: the samples are all there
        return prepare_samples(unfinished.read(), unfinished.samplerate,
                               sample_rate=sample_rate, min_seconds=min_seconds, path=path,
                               max_seconds=max_seconds)
    if info.frames > 0 and info.frames / rate > max_seconds:
        raise TooLongError(
            f"{info.frames / rate / 60:.1f} min of audio; at most {max_seconds / 60:.0f} min "
            "can be analysed at once (split the recording)",
            path=path,
        )
    _check_riff_length(path)
    try:
        mono = _read_mono(path, rate, max_seconds)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise CorruptAudioError(f"cannot decode the audio ({_short(exc)})", path=path) from None
    if mono.size == 0:
        raise CorruptAudioError("no samples could be decoded (truncated file?)", path=path)
    if info.frames > 0 and mono.size < 0.5 * info.frames:
        raise CorruptAudioError(
            f"truncated: the header announces {info.frames} samples, only {mono.size} "
            "could be read",
            path=path,
        )
    return prepare_samples(
        mono, rate, sample_rate=sample_rate, min_seconds=min_seconds, path=path,
        max_seconds=max_seconds,
    )


def prepare_samples(
    samples: np.ndarray,
    rate: int,
    *,
    sample_rate: int | None = None,
    min_seconds: float = 0.0,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    path: str | Path | None = None,
) -> Audio:
    """Validate an in-memory signal (mono, or frames x channels) and resample it."""
    rate_value = _as_rate(rate, path)
    data = np.asarray(samples)
    if data.ndim not in (1, 2):
        raise EmptyAudioError(f"expected a 1-D or 2-D signal, got shape {data.shape}", path=path)
    if not np.issubdtype(data.dtype, np.number):
        raise NotAudioError(f"samples must be numbers, not {data.dtype}", path=path)
    if np.issubdtype(data.dtype, np.unsignedinteger):  # 8-bit WAV style: silence at the middle
        middle = (int(np.iinfo(data.dtype).max) + 1) // 2
        data = (data.astype(np.float32) - middle) / middle
    elif np.issubdtype(data.dtype, np.integer):  # scaled before the channels are mixed
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] <= data.shape[0] else data.mean(axis=0)
    data = np.ascontiguousarray(data, dtype=np.float32)
    if data.size == 0:
        raise EmptyAudioError("the recording holds no samples", path=path)
    if data.size / rate_value > max_seconds:
        raise TooLongError(
            f"{data.size / rate_value / 60:.1f} min of audio; at most {max_seconds / 60:.0f} min "
            "can be analysed at once",
            path=path,
        )
    finite = np.isfinite(data)
    if not finite.all():
        bad = int((~finite).sum())
        raise NonFiniteAudioError(
            f"{bad} sample(s) are NaN or infinite: the file is damaged", path=path
        )
    duration = data.size / rate_value
    if duration < min_seconds:
        raise TooShortError(
            f"{duration:.1f} s of audio; at least {min_seconds:g} s is needed", path=path
        )
    if float(np.max(np.abs(data))) < SILENCE_PEAK:
        raise SilentAudioError(
            "the recording is silent (every sample is zero): was the stethoscope connected?",
            path=path,
        )
    target = rate_value if sample_rate is None else int(sample_rate)
    if target != rate_value:
        data = resample(data, rate_value, target)
    return Audio(
        samples=data,
        sample_rate=target,
        original_rate=rate_value,
        path=None if path is None else Path(path),
    )


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) of a mono float signal."""
    if rate == target:
        return np.asarray(samples, dtype=np.float32)
    import soxr

    return np.ascontiguousarray(soxr.resample(samples, rate, target, quality="HQ"), np.float32)


def butter_sos(order: int, cutoff: float | tuple[float, ...], kind: str,
               rate: float | None = None) -> np.ndarray:
    """A Butterworth filter's second-order sections, as ``scipy.signal.butter(order, cutoff,
    btype=kind, fs=rate, output="sos")`` gives them (``rate`` None: cutoffs relative to
    Nyquist), designed once per setting (half a millisecond each; a prediction uses about ten);
    a fresh copy each call (scipy's filters want a writable array).
    """
    return _butter_design(order, cutoff, kind, rate).copy()


@lru_cache(maxsize=64)
def _butter_design(order: int, cutoff: float | tuple[float, ...], kind: str,
                   rate: float | None) -> np.ndarray:
    from scipy.signal import butter

    return butter(order, cutoff, btype=kind, fs=rate, output="sos")


def bandpass(samples: np.ndarray, rate: int, band: tuple[float, float] | None) -> np.ndarray:
    """Zero-phase 4th-order Butterworth band-pass along the last axis (one signal, or a batch
    of windows); the upper edge is clipped below Nyquist.
    """
    if band is None:
        return np.asarray(samples, dtype=np.float32)
    from scipy.signal import sosfiltfilt

    low, high = band
    nyquist = rate / 2.0
    high = min(high, 0.95 * nyquist)
    sos = butter_sos(4, (low / nyquist, high / nyquist), "bandpass")
    padlen = min(np.shape(samples)[-1] - 1, 3 * (2 * len(sos) + 1))
    filtered = sosfiltfilt(sos, samples, axis=-1, padlen=padlen)
    return np.ascontiguousarray(filtered, dtype=np.float32)


def frame_windows(
    samples: np.ndarray, window: int, hop: int, *, whole: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``samples`` into windows of ``window`` samples every ``hop`` samples.

    The last window is aligned to the end of the recording so no sample is left out; a recording
    shorter than one window is zero-padded at the end. With ``whole=False`` only the first window
    is returned (the paper's protocol). Returns (windows [n, window], start indices [n]).
    """
    n = len(samples)
    if n <= window or not whole:
        out = np.zeros((1, window), dtype=np.float32)
        out[0, : min(n, window)] = samples[:window]
        return out, np.zeros(1, dtype=np.int64)
    starts = list(range(0, n - window + 1, hop))
    if starts[-1] + window < n:
        starts.append(n - window)
    starts_arr = np.asarray(starts, dtype=np.int64)
    view = np.lib.stride_tricks.sliding_window_view(samples, window)
    return np.ascontiguousarray(view[starts_arr], dtype=np.float32), starts_arr


def _read_mono(path: Path, rate: int, max_seconds: float) -> np.ndarray:
    import soundfile as sf

    blocks = []
    total = 0
    limit = int(max_seconds * rate) + 1
    with sf.SoundFile(str(path)) as handle:
        for block in handle.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
            blocks.append(block.mean(axis=1) if block.shape[1] > 1 else block[:, 0].copy())
            total += len(blocks[-1])
            if total > limit:
                raise TooLongError(
                    f"more than {max_seconds / 60:.0f} min of audio; split the recording",
                    path=path,
                )
    if not blocks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(blocks).astype(np.float32, copy=False)


def _check_riff_length(path: Path) -> None:
    """A WAV whose data chunk announces more bytes than the file holds was cut short (an
    interrupted copy or recording); libsndfile would silently read the part that is there.
    """
    import struct

    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
            if chunk_id == b"data":
                available = size - position - 8
                if chunk_size != 0xFFFFFFFF and chunk_size > available + 1:
                    raise CorruptAudioError(
                        f"truncated: the header announces {chunk_size} bytes of audio, the "
                        f"file holds {available}", path=path)
                return
            position += 8 + chunk_size + (chunk_size & 1)


def _check_rate(rate: int, path: Path | None) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise SampleRateError(
            f"sample rate {rate} Hz is implausible for a heart-sound recording "
            f"(expected {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)",
            path=path,
        )


def _as_rate(rate: object, path: str | Path | None) -> int:
    try:
        value = float(rate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SampleRateError(f"sample rate {rate!r} is not a number", path=path) from None
    if not np.isfinite(value) or value != int(value):
        raise SampleRateError(f"sample rate {rate!r} is not a whole number of Hz", path=path)
    _check_rate(int(value), None if path is None else Path(path))
    return int(value)


def _unfinished_wav(path: Path):
    """The layout of a WAV whose header says 0 samples but whose data chunk holds some (its
    writer was stopped before it closed the file), else None.
    """
    from .wav_layout import WavLayoutError, read_wav_layout

    try:
        layout = read_wav_layout(path)
    except (WavLayoutError, OSError):
        return None
    return layout if layout.frames > 0 else None


def _classify_open_error(path: Path, exc: Exception) -> Exception:
    message = _short(exc)
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError as error:  # no permission to read it, a vanished network file...
        return CorruptAudioError(f"the file cannot be read ({error.strerror or error})",
                                 path=path)
    known_magic = (b"RIFF", b"fLaC", b"OggS", b"ID3", b"FORM", b"RF64", b".snd")
    if head.startswith(known_magic) or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return CorruptAudioError(f"the audio file is damaged or truncated ({message})", path=path)
    return NotAudioError(
        "not an audio file this program can read (WAV, FLAC, OGG or MP3 expected)", path=path
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.split("Error : ")[-1][:160]
