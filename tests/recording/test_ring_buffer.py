"""The display ring buffer: order, wrap-around, partial fills, and a writer racing a reader."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
import soundfile as sf

from app.recording.ring_buffer import RingBuffer


def test_latest_frames_in_order_across_wraparound(normal_wav):
    audio, _ = sf.read(normal_wav, dtype="int16", always_2d=True)
    ring = RingBuffer(1000, 1, "int16")
    sizes = [37, 250, 1, 999, 400, 123]  # uneven blocks, one nearly the capacity
    pos = 0
    for n in sizes * 5:
        ring.write(audio[pos:pos + n])
        pos += n
    data, end = ring.snapshot(800)
    assert end == pos == ring.frames_written
    np.testing.assert_array_equal(data, audio[pos - 800:pos])
    full, _ = ring.snapshot()
    np.testing.assert_array_equal(full, audio[pos - 1000:pos])


def test_early_snapshot_is_shorter_and_block_larger_than_capacity_keeps_its_tail():
    ring = RingBuffer(100, 2, "float32")
    assert ring.snapshot(50)[0].shape == (0, 2)
    block = np.arange(60, dtype=np.float32).reshape(30, 2)
    ring.write(block)
    data, end = ring.snapshot(50)
    assert end == 30 and data.shape == (30, 2)
    big = np.arange(500, dtype=np.float32).reshape(250, 2)
    ring.write(big)
    data, end = ring.snapshot()
    assert end == 280
    np.testing.assert_array_equal(data, big[-100:])


def test_invalid_sizes_are_refused():
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_snapshots_are_never_torn_while_a_writer_runs():
    # The writer writes a ramp (frame k holds k); any snapshot must be a run of consecutive
    # integers ending at the count it reports. Switching threads every microsecond makes the
    # writer overwrite frames in the middle of snapshots (this test fails without the check).
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    ring = RingBuffer(4096, 1, "int64")
    stop = threading.Event()

    def write() -> None:
        k = 0
        while not stop.is_set():
            n = 1 + (k * 7) % 300
            ring.write(np.arange(k, k + n, dtype=np.int64)[:, None])
            k += n

    writer = threading.Thread(target=write)
    writer.start()
    try:
        checked = 0
        while checked < 2000:
            data, end = ring.snapshot(4000)
            if len(data):
                col = data[:, 0]
                assert col[-1] == end - 1
                assert np.all(np.diff(col) == 1)
                checked += 1
    finally:
        stop.set()
        writer.join()
        sys.setswitchinterval(old)
