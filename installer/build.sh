#!/usr/bin/env bash
# Build the AudioFuse desktop bundle for Linux: the one-folder program (PyInstaller), then a
# tarball with install.sh; with --smoke, start the built bundle offscreen on an example recording
# and fail unless it logs its ready line and classifies (installer/smoke_test.py).
#
#   installer/build.sh [--smoke] [--no-tarball] [--clean]
#
# Needs the project's virtual environment with the installer extra:
#   python -m venv .venv && .venv/bin/pip install -e '.[installer]'
# Outputs (git-ignored): installer/dist/AudioFuse/ and installer/dist/AudioFuse-<version>-linux-<arch>.tar.gz
# Takes 10-20 minutes on 2 cores; runs at low priority (nice) so the machine stays usable.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

smoke=0 tarball=1 clean=()
for arg in "$@"; do
    case "$arg" in
        --smoke) smoke=1 ;;
        --no-tarball) tarball=0 ;;
        --clean) clean=(--clean) ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
    esac
done

python="${PYTHON:-$root/.venv/bin/python}"
if ! "$python" -c 'import PyInstaller' 2>/dev/null; then
    echo "PyInstaller is missing: $python -m pip install -e '.[installer]'" >&2
    exit 1
fi
version="$("$python" -c 'import audiofuse_core; print(audiofuse_core.__version__)')"
arch="$(uname -m)"
dist="$here/dist"

started=$(date +%s)
nice -n "${NICE:-5}" "$python" -m PyInstaller --noconfirm "${clean[@]}" \
    --distpath "$dist" --workpath "$here/build" "$here/audiofuse.spec"
# TensorFlow's two libraries carry 250 MB of symbol tables that running does not need. Only these
# two: stripping the auditwheel-patched libraries (numpy.libs, scipy.libs ...) breaks them.
if [[ "$(uname -s)" == Linux ]] && command -v strip >/dev/null; then
    for lib in "$dist"/AudioFuse/_internal/tensorflow/libtensorflow_{cc,framework}.so.2; do
        [[ -f "$lib" ]] && nice -n "${NICE:-5}" strip --strip-unneeded "$lib"
    done
fi
echo "built $dist/AudioFuse in $(( $(date +%s) - started )) s: $(du -sh "$dist/AudioFuse" | cut -f1)"

if (( tarball )); then
    name="AudioFuse-$version-linux-$arch"
    stage="$here/build/tarball/$name"
    rm -rf "$here/build/tarball"
    mkdir -p "$stage"
    cp -a "$dist/AudioFuse" "$stage/AudioFuse"
    cp "$here/install.sh" "$here/audiofuse.desktop" "$stage/"
    cp "$here/README-install.txt" "$stage/README.txt"
    chmod +x "$stage/install.sh"
    tar -C "$here/build/tarball" -czf "$dist/$name.tar.gz" "$name"
    echo "tarball $dist/$name.tar.gz: $(du -h "$dist/$name.tar.gz" | cut -f1)"
fi

if (( smoke )); then
    "$python" "$here/smoke_test.py" "$dist/AudioFuse"
fi
