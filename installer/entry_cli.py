"""Entry script of the bundled command line ``audiofuse`` (PyInstaller runs this file)."""

import sys

from audiofuse_core.cli import main

sys.exit(main())
