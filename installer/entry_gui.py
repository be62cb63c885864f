"""Entry script of the bundled desktop program ``audiofuse-gui`` (PyInstaller runs this file)."""

import sys

from app.main import main

sys.exit(main())
