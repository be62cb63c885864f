"""Screenshots of the Advanced panel's Data, Models and Evaluation tabs for docs/advanced_panel.md.

advanced-data.png: the Data tab after scanning the shared PhysioNet development set and the PASCAL
samples (with their skipped files). advanced-models.png: the Models tab after importing the
bundled waveform baseline and comparing it with the active (bundled fusion) model on the CirCor
development recordings. advanced-evaluation.png and advanced-refit.png: the Evaluation tab after
evaluating the bundled model on the CirCor development recordings, then after pressing "Refit
threshold...".

Run:  xvfb-run -a nice .venv/bin/python bench/screenshots_advanced.py [--only data models refit]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.advanced.singletons import make_singletons_immortal  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "docs" / "screenshots"


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", choices=("data", "models", "refit"),
                        default=["data", "models", "refit"])
    shots = parser.parse_args().only
    make_singletons_immortal()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    from app.advanced.library import ModelLibrary
    from app.advanced.panel import AdvancedPanel

    panel = AdvancedPanel(library=ModelLibrary(tempfile.mkdtemp(prefix="audiofuse-shots-")))
    panel.resize(1400, 860)
    panel.show()

    def wait_until(condition, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("screenshot step timed out")
            app.processEvents()
            time.sleep(0.01)

    if "data" in shots:
        panel.data_tab.set_folders([SHARED / "physionet2016-dev",
                                    SHARED / "samples" / "pascal_chsc2011"])
        wait_until(lambda: panel.data_tab.summary is not None, 600)
        app.processEvents()
        panel.grab().save(str(OUT / "advanced-data.png"))
    if "models" in shots:
        models_shot(panel, wait_until, app)
    if "refit" in shots:
        evaluation = panel.evaluation_tab
        panel.tabs.setCurrentWidget(evaluation)
        evaluation.folder.setText(str(SHARED / "circor2022-dev"))
        added: list = []
        evaluation.model_added.connect(added.append)
        evaluation.runner.error.connect(lambda name, exc, _t: added.append(f"{name}: {exc}"))
        evaluation.start()
        wait_until(lambda: evaluation.report is not None or bool(added), 1800)
        app.processEvents()
        panel.grab().save(str(OUT / "advanced-evaluation.png"))
        evaluation.refit_threshold()
        wait_until(lambda: bool(added), 600)
        print(added, flush=True)
        app.processEvents()
        panel.grab().save(str(OUT / "advanced-refit.png"))
    panel.close()
    return 0


def models_shot(panel, wait_until, app) -> None:
    from audiofuse_core.resources import models_dir

    models = panel.models_tab
    panel.tabs.setCurrentWidget(models)
    done: list = []
    models.runner.done.connect(lambda name, _r: done.append(name))
    models.runner.error.connect(lambda name, exc, _t: done.append(f"{name}: {exc}"))
    models.import_file(models_dir() / "audiofuse-waveform.keras")
    wait_until(lambda: bool(done), 600)
    models.compare_folder.setText(str(SHARED / "circor2022-dev"))
    models.compare()
    wait_until(lambda: len(done) >= 2, 1800)
    print(done, flush=True)
    app.processEvents()
    panel.grab().save(str(OUT / "advanced-models.png"))


if __name__ == "__main__":
    sys.exit(main())
