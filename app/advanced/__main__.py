"""``python -m app.advanced``: the Advanced panel on its own (for trying it out)."""

from __future__ import annotations

import sys


def main() -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    app.setOrganizationName("AudioFuse")
    app.setApplicationName("AudioFuse")
    from . import open_advanced_panel

    panel = open_advanced_panel(None)
    for folder in sys.argv[1:]:
        panel.data_tab.add_folder(folder)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
