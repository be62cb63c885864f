"""The Qt-free parts of the app: navigation arithmetic, strip tiles, file expansion, CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from app import navigation as nav
from app.batch_results import CSV_COLUMNS, BatchRow, write_csv
from app.files import expand_paths
from app.probability_strip import window_tiles


def test_zoom_keeps_the_anchor_in_place():
    view = (10.0, 20.0)
    zoomed = nav.zoom(view, 2.0, 12.5, 60.0)
    assert zoomed == pytest.approx((11.25, 16.25))
    # the anchor sits at the same fraction of the view before and after
    assert (12.5 - zoomed[0]) / (zoomed[1] - zoomed[0]) == pytest.approx(0.25)


def test_zoom_is_clamped_to_the_recording_and_a_minimum_span():
    assert nav.zoom((0.0, 10.0), 0.1, 5.0, 30.0) == (0.0, 30.0)
    deep = nav.zoom((5.0, 5.1), 100.0, 5.05, 30.0)
    assert deep[1] - deep[0] == pytest.approx(nav.MIN_SPAN_S)
    assert nav.zoom((28.0, 30.0), 0.5, 29.0, 30.0) == pytest.approx((26.0, 30.0))


def test_scroll_step_home_end_follow():
    assert nav.scroll((0.0, 10.0), 0.1, 30.0) == pytest.approx((1.0, 11.0))
    assert nav.scroll((0.0, 10.0), -0.1, 30.0) == (0.0, 10.0)
    assert nav.scroll((15.0, 25.0), 1.0, 30.0) == (20.0, 30.0)
    assert nav.to_start((12.0, 17.0), 30.0) == (0.0, 5.0)
    assert nav.to_end((2.0, 7.0), 30.0) == (25.0, 30.0)
    assert nav.follow((0.0, 5.0), 3.0, 30.0) == (0.0, 5.0)
    assert nav.follow((0.0, 5.0), 6.0, 30.0) == (6.0, 11.0)
    assert nav.wheel_zoom_factor(120) == pytest.approx(nav.WHEEL_ZOOM)
    assert nav.wheel_zoom_factor(-240) == pytest.approx(nav.WHEEL_ZOOM ** -2)


def test_window_tiles_cover_the_recording_without_overlap():
    # the default model: 5 s windows every 2.5 s, the last aligned to the end of 12.8 s
    starts = np.array([0.0, 2.5, 5.0, 7.5, 7.8])
    left, right = window_tiles(starts, 5.0, 12.8)
    assert left[0] == 0.0 and right[-1] == 12.8
    assert np.all(left[1:] == right[:-1])
    assert np.all(right > left)
    short_left, short_right = window_tiles(np.array([0.0]), 5.0, 3.0)
    assert (short_left[0], short_right[0]) == (0.0, 3.0)


def test_expand_paths_opens_folders_recursively_and_keeps_given_files(recordings_folder, tmp_path):
    hidden = recordings_folder / ".trash"
    hidden.mkdir()
    (hidden / "x.wav").write_bytes(b"RIFF")
    odd = tmp_path / "notes.txt"
    odd.write_text("x")
    files = expand_paths([recordings_folder, odd, recordings_folder / "training-a" / "a0238.wav"])
    wavs = [f for f in files if f.suffix == ".wav"]
    assert len(wavs) == 14  # every real recording once; no .hea, no hidden folder
    assert files[-1] == odd.absolute()  # a file given by name is kept: the reader says why not


def test_csv_export_writes_every_row(tmp_path, normal_wav):
    done = BatchRow(path=normal_wav, status="done", duration=9.3, label="normal",
                    probability=0.1234567, threshold=0.5, model="m", model_version="1")
    failed = BatchRow(path=tmp_path / "bad.wav")
    failed.set_failed("bad.wav: not an audio file")
    out = write_csv([done, failed], tmp_path / "out.csv")
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["probability_abnormal"] == "0.123457" and rows[0]["result"] == "normal"
    assert rows[1]["status"] == "failed" and rows[1]["reason"] == "bad.wav: not an audio file"
    assert rows[1]["probability_abnormal"] == ""
