"""The shape of the house: the core never imports Qt, plotting, audio devices or the app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contract_holds():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "KEPT" in done.stdout


def test_core_imports_are_light():
    code = ("import sys, audiofuse_core, audiofuse_core.cli, audiofuse_core.audio, "
            "audiofuse_core.datasets, audiofuse_core.inference, audiofuse_core.evaluation; "
            "heavy = [m for m in ('tensorflow', 'keras', 'PySide6', 'sounddevice', 'pyqtgraph') "
            "if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
