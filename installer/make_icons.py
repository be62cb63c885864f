"""Render ``resources/icons/audiofuse.svg`` to the PNG sizes a desktop wants (16-512 px) and,
for Windows, a multi-size ``audiofuse.ico``, with Qt's own SVG renderer (no extra package).

Run from the repository root: ``python installer/make_icons.py``. The outputs are committed, so a
build does not need to run it; run it again after editing the SVG. macOS's ``.icns`` is made on a
Mac with ``iconutil`` (docs/installer.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ICONS / "audiofuse.svg"))
    if not renderer.isValid():
        print("audiofuse.svg could not be read", file=sys.stderr)
        return 1
    for size in SIZES:
        path = ICONS / f"audiofuse-{size}.png"
        if not render(renderer, size).save(str(path), "PNG"):
            print(f"could not write {path}", file=sys.stderr)
            return 1
    # Qt's ICO writer stores one image: 256 px, which Windows scales down for smaller views.
    if not render(renderer, 256).save(str(ICONS / "audiofuse.ico"), "ICO"):
        print("this Qt has no ICO writer: skipped audiofuse.ico", file=sys.stderr)
    print(f"wrote {len(SIZES)} PNG sizes to {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
