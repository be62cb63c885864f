"""Screenshots of the main window for the README and docs/screenshots/.

main-window.png: the bundled abnormal example (PhysioNet 2016 e01289) classified by the bundled
model, the pointer resting on the spectrogram so that the crosshair and its read-out show.
batch-table.png: the 14 PhysioNet test recordings (tests/data) classified in the results table,
sorted by probability, the highest selected and shown above.

Run:  xvfb-run -a .venv/bin/python bench/screenshots_app.py [--out docs/screenshots]
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = parser.parse_args()
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
    window = MainWindow(Settings(QSettings(str(settings_file), QSettings.Format.IniFormat)),
                        model_path=default_model_path())
    window.resize(*SIZE)
    record_dock = getattr(window, "record_dock", None)
    if record_dock is not None:
        # The machine that renders these has no stethoscope: the Record panel would only say
        # so in red. It has its own screenshot (docs/screenshots/recording.png).
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
    window.grab().save(str(out / "main-window.png"))

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
    window.grab().save(str(out / "batch-table.png"))
    print(panel.progress_label.text(), flush=True)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
