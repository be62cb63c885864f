#!/usr/bin/env bash
# Set up (when needed) and run the whole test suite: lint, the import contract, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check audiofuse_core app tests bench scripts
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
