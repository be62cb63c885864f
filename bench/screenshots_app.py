"""Screenshots of the main window for the README and docs/screenshots/.

main-window.png: the bundled abnormal example (PhysioNet 2016 e01289) classified by the bundled
model, the pointer resting on the spectrogram so that the crosshair and its read-out show.
batch-table.png: the 14 PhysioNet test recordings (tests/data) classified in the results table,
sorted by probability, the highest selected and shown above.
explain.png: the same recording with "What drove this?" on: the occlusion map over the
spectrogram, the pointer on one cell for its read-out.
unfamiliar-notice.png: PhysioNet f0046 (in the development set beside the checkout), whose
heart-cycle figures lie beyond the bundled model's familiarity limit: the amber notice.
recording.png: the Record panel 7.5 s into a recording, live views drawn. The machine that renders
these has no stethoscope: the "device" replays a real PASCAL murmur recording at its own speed
through the recorder (app.recording.FakeSource, as the tests do); the PhysioNet example where the
PASCAL samples are not beside the checkout.

Run:  xvfb-run -a .venv/bin/python bench/screenshots_app.py [--out docs/screenshots]
          [--shots main-window explain unfamiliar-notice batch-table recording]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.advanced.singletons import make_singletons_immortal  # noqa: E402

SIZE = (1440, 900)
SHOTS = ("main-window", "explain", "unfamiliar-notice", "batch-table", "recording")
# a validation recording of training-f whose heart-cycle figures lie beyond the bundled
# default's familiarity limit (docs/results.md, "Unfamiliar recordings")
UNFAMILIAR = REPO.parent / "shared/data/physionet2016-dev/training-f/f0046.flac"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--shots", nargs="+", default=list(SHOTS), choices=SHOTS,
                        help="which screenshots to make (all by default)")
    args = parser.parse_args()
    shots = set(args.shots)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    make_singletons_immortal()
    from PySide6.QtCore import QEvent, QPointF, QSettings, Qt
    from PySide6.QtGui import QIcon, QMouseEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationDisplayName("AudioFuse")
    from app.main_window import MainWindow
    from app.settings import Settings
    from audiofuse_core.resources import default_model_path, example_recordings, icon_path

    app.setWindowIcon(QIcon(str(icon_path(256))))
    settings_file = Path(tempfile.mkdtemp(prefix="audiofuse-shots-")) / "audiofuse.ini"
    settings = Settings(QSettings(str(settings_file), QSettings.Format.IniFormat))
    settings.recordings_folder = settings_file.parent / "AudioFuse recordings"
    window = MainWindow(settings, model_path=default_model_path())
    window.resize(*SIZE)
    record_dock = window.record_dock
    # The machine that renders these has no stethoscope: the Record panel would only say so in
    # red. It has its own screenshot, with a replayed recording (recording.png, below).
    record_dock.hide()
    window.show()

    def wait_until(condition, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("screenshot step timed out")
            app.processEvents()
            time.sleep(0.01)

    def settle(seconds: float = 0.5) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    example = next(p for p in example_recordings() if p.name.startswith("abnormal-"))
    shown: list = []
    window.result_shown.connect(shown.append)
    window.start([example])
    wait_until(lambda: bool(shown) and window.current_data is not None, 600)
    print(f"{example.name}: {shown[-1].label} {shown[-1].probability:.3f}", flush=True)
    settle()
    # the pointer on the spectrogram, over an S1 around 150 Hz: crosshair and read-out
    view = window.view
    position = view.time_to_viewport(4.2, view.spectrogram, 150.0)
    viewport = view.graphics.viewport()
    QApplication.sendEvent(viewport, QMouseEvent(
        QEvent.Type.MouseMove, QPointF(position), QPointF(viewport.mapToGlobal(position)),
        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    settle()
    if "main-window" in shots:
        window.grab().save(str(out / "main-window.png"))

    if "explain" in shots:
        explained: list = []
        window.explanation_shown.connect(explained.append)
        window.actions["explain"].trigger()
        wait_until(lambda: bool(explained), 900)
        settle(1.0)
        position = view.time_to_viewport(6.0, view.spectrogram, 60.0)  # a low band, near S1
        QApplication.sendEvent(viewport, QMouseEvent(
            QEvent.Type.MouseMove, QPointF(position), QPointF(viewport.mapToGlobal(position)),
            Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
        settle()
        window.grab().save(str(out / "explain.png"))
        window.actions["explain"].trigger()  # off again

    if "unfamiliar-notice" in shots and UNFAMILIAR.is_file():
        window.open_recording(UNFAMILIAR)
        wait_until(lambda: window.current_path == UNFAMILIAR.absolute()
                   and window.current_data is not None
                   and window.result_panel.prediction is not None, 600)
        settle(1.0)
        window.grab().save(str(out / "unfamiliar-notice.png"))

    if not shots & {"batch-table", "recording"}:
        window.close()
        return 0
    finished: list = []
    window.batch_finished.connect(lambda: finished.append(True))
    window.open_paths([REPO / "tests" / "data" / "physionet2016"])
    wait_until(lambda: bool(finished), 1200)
    panel = window.batch_panel
    panel.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    panel.table.selectRow(0)
    wait_until(lambda: window.current_path == panel.visible_rows()[0].path
               and window.current_data is not None, 120)
    settle()
    if "batch-table" in shots:
        window.grab().save(str(out / "batch-table.png"))
    print(panel.progress_label.text(), flush=True)

    window.batch_dock.hide()
    record_dock.show()
    record = window.record_panel
    replayed = REPO.parent / "shared/data/samples/pascal_chsc2011/set_a/murmur__201101051104.wav"
    if not replayed.is_file():
        replayed = example
    from app.recording import FakeSource, InputDevice

    stethoscope = InputDevice(name="Stethoscope replay (PASCAL murmur)", hostapi="ALSA", index=1,
                              max_channels=1, default_samplerate=44100.0, is_default=True)
    record.list_devices = lambda: [stethoscope]
    record.source_for = lambda device: FakeSource(replayed, name=device.name, end="loop")
    if record.refresh() is not None:
        raise RuntimeError(f"the Record panel refused the replay: {record.refresh()}")
    record.id_edit.setText("P-0173")
    record.site_combo.setCurrentIndex(record.site_combo.findData("mitral"))
    record.note_edit.setPlainText("Sitting, leaning forward; end-expiration")
    window.actions["record"].trigger()
    wait_until(lambda: record.session.elapsed_s >= 7.5, 60)
    if "recording" in shots:
        window.grab().save(str(out / "recording.png"))
    print(f"recording: {record.live_view.frames_drawn} live frames drawn", flush=True)
    saved: list = []
    record.recording_finished.connect(saved.append)
    window.actions["record"].trigger()  # stop: the file is saved (in the temporary folder)
    wait_until(lambda: bool(saved), 60)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
