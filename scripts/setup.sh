#!/usr/bin/env bash
# Set up AudioFuse on a Debian/Ubuntu machine: system libraries (where apt can be used), a
# virtual environment in .venv, and the project with its dependencies. Safe to run again: it
# only does what is missing. Usage: scripts/setup.sh [--dev]
#   --dev  also install what the tests need (pytest, PulseAudio for the audio tests...)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1

say() { printf 'audiofuse setup: %s\n' "$*" >&2; }

# 1. Python 3.11 or newer
python=""
for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$(command -v "$candidate"); break
  fi
done
if [ -z "$python" ]; then
  say "Python 3.11 or newer is needed and was not found."
  say "On Debian/Ubuntu: sudo apt-get install python3 python3-venv (Debian 12+, Ubuntu 24.04+)"
  exit 1
fi

# 2. System libraries: PortAudio (recording/playback), Qt's X11 plugin needs, and for the tests
#    a PulseAudio server with a null sink and Xvfb.
packages=(libportaudio2 libsndfile1 libegl1 libgl1 libfontconfig1 libxkbcommon-x11-0 libdbus-1-3
          libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
          libxcb-xkb1 libxcb-shape0)
if [ "$dev" = 1 ]; then
  packages+=(pulseaudio pulseaudio-utils libasound2-plugins xvfb)
fi
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
    say "installing system packages: ${missing[*]}"
    if ! { $sudo apt-get update -qq && \
           DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
             "${missing[@]}" >/dev/null; }; then
      say "could not install: ${missing[*]} (continuing; recording/playback may be disabled)"
    fi
  else
    say "missing system packages: ${missing[*]}"
    say "install them with: sudo apt-get install ${missing[*]}"
    say "(continuing: the program runs without them, with recording/playback disabled)"
  fi
fi

# 3. Virtual environment and the project (reinstalled only when pyproject.toml changes)
if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment in .venv"
  "$python" -m venv .venv || { say "python3-venv is missing: sudo apt-get install python3-venv"; exit 1; }
fi
extra=""
[ "$dev" = 1 ] && extra="[dev]"
stamp=".venv/.audiofuse-installed$extra"
hash=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  say "installing AudioFuse and its dependencies (TensorFlow is large: a few minutes the first time)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".$extra"
  echo "$hash" > "$stamp"
fi
say "ready"
