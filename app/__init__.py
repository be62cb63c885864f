"""AudioFuse desktop program (PySide6 + pyqtgraph)."""
