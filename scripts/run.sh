#!/usr/bin/env bash
# Set up (when needed) and open the AudioFuse desktop program. Arguments are recordings to open.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "audiofuse: no display found; classifying the example recordings on the command line." >&2
  exec .venv/bin/audiofuse predict "${@:-resources/examples}"
fi
exec .venv/bin/audiofuse gui "$@"
