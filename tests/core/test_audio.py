"""Reading recordings: every format and rate, and a precise error for every kind of bad input."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from audiofuse_core import errors
from audiofuse_core.audio import (
    bandpass,
    butter_sos,
    frame_windows,
    load_audio,
    prepare_samples,
)
from tests.conftest import CIRCOR, physionet_files


@pytest.fixture(scope="module")
def real(normal_wav):
    samples, rate = sf.read(normal_wav, dtype="float32")
    return samples, rate


@pytest.mark.parametrize("fmt,subtype,ext", [
    ("WAV", "PCM_16", ".wav"), ("WAV", "PCM_24", ".wav"), ("WAV", "FLOAT", ".wav"),
    ("FLAC", "PCM_16", ".flac"), ("OGG", "VORBIS", ".ogg"), ("MP3", "MPEG_LAYER_III", ".mp3"),
])
def test_reads_every_format(tmp_path, real, fmt, subtype, ext):
    samples, rate = real
    path = tmp_path / f"rec{ext}"
    up = 8000  # vorbis/mp3 encoders do not take 2 kHz; a real file at 8 kHz
    data = prepare_samples(samples, rate, sample_rate=up).samples
    sf.write(path, data, up, format=fmt, subtype=subtype)
    audio = load_audio(path, sample_rate=2000)
    assert audio.sample_rate == 2000 and audio.original_rate == up
    assert abs(audio.duration - len(samples) / rate) < 0.15
    n = min(len(samples), len(audio.samples))
    lag_free = np.corrcoef(samples[1000:n - 1000], audio.samples[1000:n - 1000])[0, 1]
    assert lag_free > 0.8  # lossy codecs included: the same heart sound comes back


def test_stereo_and_high_rate_are_mixed_and_resampled(tmp_path, real):
    samples, rate = real
    hi = prepare_samples(samples, rate, sample_rate=44100).samples
    stereo = np.stack([hi, 0.5 * hi], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 44100, subtype="PCM_24")
    audio = load_audio(path, sample_rate=2000)
    assert audio.samples.ndim == 1 and audio.original_rate == 44100
    n = min(len(samples), len(audio.samples))
    assert np.corrcoef(samples[:n], audio.samples[:n])[0, 1] > 0.99
    assert np.std(audio.samples) == pytest.approx(0.75 * np.std(samples), rel=0.05)


def test_reads_all_real_samples():
    files = physionet_files() + sorted(CIRCOR.glob("*.wav"))
    assert len(files) == 16
    for path in files:
        audio = load_audio(path, sample_rate=2000, min_seconds=2.0)
        assert audio.duration > 5 and np.isfinite(audio.samples).all()


def test_int_arrays_are_scaled():
    ints = (np.sin(np.linspace(0, 200, 8000)) * 20000).astype(np.int16)
    audio = prepare_samples(ints, 4000)
    assert 0.5 < np.max(np.abs(audio.samples)) <= 1.0


def test_integer_channels_are_scaled_before_they_are_mixed():
    wave = np.sin(np.linspace(0, 200, 8000))
    stereo = (np.stack([wave, wave], axis=1) * 16384).astype(np.int16)
    audio = prepare_samples(stereo, 4000)
    assert np.max(np.abs(audio.samples)) == pytest.approx(0.5, abs=0.01)
    unsigned = (128 + wave * 64).astype(np.uint8)  # 8-bit: silence is 128
    audio = prepare_samples(unsigned, 4000)
    assert abs(float(np.mean(audio.samples))) < 0.01
    assert np.max(np.abs(audio.samples)) == pytest.approx(0.5, abs=0.02)


def test_a_file_that_cannot_be_opened_again_is_an_audio_error(tmp_path):
    """When libsndfile failed and looking at the file's first bytes fails too (no permission, a
    network file gone): an audio error naming the file, never a bare OSError.
    """
    from audiofuse_core.audio import _classify_open_error

    gone = tmp_path / "gone.wav"
    error = _classify_open_error(gone, RuntimeError("Error opening"))
    assert isinstance(error, errors.InvalidAudioError)
    assert str(error).startswith("gone.wav:") and "cannot be read" in str(error)


def test_a_wav_whose_writer_never_finished_its_header_is_read_whole(tmp_path, real):
    """A recorder killed before it closed its WAV leaves the header's sizes at 0: libsndfile
    sees no samples, but every one is on disk and is read.
    """
    samples, rate = real
    ints = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    path = tmp_path / "unfinished.wav"
    _write_wav_header_only(path, rate=rate)  # sizes 0, as at the writer's start
    with open(path, "ab") as f:
        f.write(ints.tobytes() + b"\x01")  # and half a frame at the end
    assert sf.info(str(path)).frames == 0
    audio = load_audio(path)
    assert audio.sample_rate == rate and len(audio.samples) == len(ints)
    np.testing.assert_allclose(audio.samples, ints / 32767, atol=1e-4)


def test_frame_windows_cover_the_whole_recording():
    x = np.arange(23, dtype=np.float32)
    windows, starts = frame_windows(x, 10, 5)
    assert list(starts) == [0, 5, 10, 13]
    assert windows[-1][-1] == 22
    short, starts = frame_windows(x[:4], 10, 5)
    assert short.shape == (1, 10) and short[0, 4:].sum() == 0
    first, _ = frame_windows(x, 10, 5, whole=False)
    assert first.shape == (1, 10)


def test_bandpass_removes_out_of_band_energy():
    rate = 2000
    t = np.arange(rate * 4) / rate
    low, mid = np.sin(2 * np.pi * 3 * t), np.sin(2 * np.pi * 100 * t)
    out = bandpass((low + mid).astype(np.float32), rate, (25.0, 800.0))
    assert np.corrcoef(out[1000:-1000], mid[1000:-1000])[0, 1] > 0.99


def test_filter_designs_are_remembered_but_never_shared():
    """Designed once per setting, the same as scipy's own, and each caller gets its own copy:
    one that changes it cannot change the next caller's filter.
    """
    from scipy.signal import butter

    first = butter_sos(4, (25.0, 400.0), "bandpass", 2000)
    np.testing.assert_array_equal(
        first, butter(4, (25.0, 400.0), btype="bandpass", fs=2000, output="sos"))
    first[:] = 0.0
    again = butter_sos(4, (25.0, 400.0), "bandpass", 2000)
    assert again is not first and np.abs(again).sum() > 0
    np.testing.assert_array_equal(butter_sos(1, 0.008, "lowpass"),
                                  butter(1, 0.008, btype="lowpass", output="sos"))


# --- bad input: a typed error naming the file and the cause -------------------------------------

def _write_wav_header_only(path, rate=2000, frames=0):
    data_bytes = frames * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes)
    path.write_bytes(header)


def bad_cases(tmp_path, real):
    samples, rate = real
    cases = {}
    cases["missing"] = (tmp_path / "nope.wav", errors.AudioFileNotFoundError, "not found")
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    cases["folder"] = (folder, errors.AudioFileNotFoundError, "not a file")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    cases["empty"] = (empty, errors.EmptyAudioError, "empty")
    text = tmp_path / "notes.wav"
    text.write_text("patient notes, not audio\n" * 20)
    cases["not audio"] = (text, errors.NotAudioError, "not an audio file")
    good = tmp_path / "good.wav"
    sf.write(good, samples, rate, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:2000])
    cases["truncated"] = (truncated, errors.CorruptAudioError, "truncated")
    flac = tmp_path / "good.flac"
    sf.write(flac, samples, rate)
    corrupt = tmp_path / "corrupt.flac"
    raw = bytearray(flac.read_bytes())
    raw[200:] = bytes(len(raw) - 200)
    corrupt.write_bytes(bytes(raw))
    cases["corrupt"] = (corrupt, errors.InvalidAudioError, "")
    zero = tmp_path / "zero.wav"
    _write_wav_header_only(zero)
    cases["zero samples"] = (zero, errors.EmptyAudioError, "no audio samples")
    short = tmp_path / "short.wav"
    sf.write(short, samples[: rate // 2], rate)
    cases["too short"] = (short, errors.TooShortError, "at least 2 s")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(rate * 10, np.float32), rate)
    cases["silent"] = (silent, errors.SilentAudioError, "silent")
    nan = tmp_path / "nan.wav"
    broken = samples.copy()
    broken[500] = np.nan
    sf.write(nan, broken, rate, subtype="FLOAT")
    cases["nan"] = (nan, errors.NonFiniteAudioError, "NaN or infinite")
    inf = tmp_path / "inf.wav"
    broken = samples.copy()
    broken[700] = np.inf
    sf.write(inf, broken, rate, subtype="DOUBLE")
    cases["inf"] = (inf, errors.NonFiniteAudioError, "NaN or infinite")
    slow = tmp_path / "slow.wav"
    sf.write(slow, samples, 100)
    cases["rate too low"] = (slow, errors.SampleRateError, "implausible")
    return cases


BAD = ["missing", "folder", "empty", "not audio", "truncated", "corrupt", "zero samples",
       "too short", "silent", "nan", "inf", "rate too low"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_a_precise_error(tmp_path, real, case):
    path, kind, words = bad_cases(tmp_path, real)[case]
    with pytest.raises(kind) as info:
        load_audio(path, sample_rate=2000, min_seconds=2.0)
    message = str(info.value)
    assert message.startswith(path.name + ":"), message
    assert words in message
    assert "\n" not in message and "Traceback" not in message


def test_too_long_is_refused_with_the_limit(tmp_path, real):
    samples, rate = real
    path = tmp_path / "long.wav"
    sf.write(path, np.tile(samples, 4), rate)
    with pytest.raises(errors.TooLongError, match="at most 0 min|at most"):
        load_audio(path, max_seconds=20.0)


@pytest.mark.parametrize("rate", [0, -2000, 10_000_000, float("nan"), "fast", 2000.5])
def test_absurd_rates_for_arrays(rate):
    with pytest.raises(errors.SampleRateError):
        prepare_samples(np.ones(10000, np.float32), rate)


def test_arrays_of_wrong_shape_or_type():
    with pytest.raises(errors.EmptyAudioError):
        prepare_samples(np.zeros((2, 2, 2)), 2000)
    with pytest.raises(errors.NotAudioError):
        prepare_samples(np.array(["a", "b"]), 2000)
    with pytest.raises(errors.EmptyAudioError):
        prepare_samples(np.zeros(0), 2000)
