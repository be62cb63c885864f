#!/usr/bin/env bash
# Install AudioFuse for the current user, no administrator rights and no Python needed:
# the program to ~/.local/opt/AudioFuse, a launcher "audiofuse-gui" and the command line
# "audiofuse" in ~/.local/bin, the menu entry and the icon (freedesktop.org locations).
#
#   ./install.sh              install (or update: the previous copy is replaced)
#   ./install.sh --uninstall  remove everything install.sh put there (recordings and settings stay)
#   PREFIX=/opt ./install.sh  system-wide, as root (menu entry and icon under /usr/local/share)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ "${PREFIX:-}" ]]; then
    opt="$PREFIX/AudioFuse" bin=/usr/local/bin share=/usr/local/share
else
    opt="$HOME/.local/opt/AudioFuse" bin="$HOME/.local/bin"
    share="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
apps="$share/applications" icons="$share/icons/hicolor"
sizes="16 24 32 48 64 128 256 512"

refresh() {
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$apps" || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$icons" || true
}

if [[ "${1:-}" == "--uninstall" ]]; then
    rm -rf "$opt"
    rm -f "$bin/audiofuse-gui" "$bin/audiofuse" "$apps/audiofuse.desktop"
    for size in $sizes; do rm -f "$icons/${size}x${size}/apps/audiofuse.png"; done
    rm -f "$icons/scalable/apps/audiofuse.svg"
    refresh
    echo "AudioFuse removed (your recordings, settings and logs were left in place)."
    exit 0
fi

if [[ ! -x "$here/AudioFuse/audiofuse-gui" ]]; then
    echo "install.sh: AudioFuse/audiofuse-gui not found beside this script" >&2
    exit 1
fi

mkdir -p "$(dirname "$opt")" "$bin" "$apps"
# Copy beside the old copy, then swap, so a failed copy never leaves a half-installed program.
rm -rf "$opt.new"
cp -a "$here/AudioFuse" "$opt.new"
rm -rf "$opt"
mv "$opt.new" "$opt"
ln -sfn "$opt/audiofuse-gui" "$bin/audiofuse-gui"
ln -sfn "$opt/audiofuse" "$bin/audiofuse"

resources="$opt/_internal/resources/icons"
for size in $sizes; do
    mkdir -p "$icons/${size}x${size}/apps"
    cp "$resources/audiofuse-$size.png" "$icons/${size}x${size}/apps/audiofuse.png"
done
mkdir -p "$icons/scalable/apps"
cp "$resources/audiofuse.svg" "$icons/scalable/apps/audiofuse.svg"
sed "s|@BIN@|$opt/audiofuse-gui|g" "$here/audiofuse.desktop" > "$apps/audiofuse.desktop"
chmod 644 "$apps/audiofuse.desktop"
refresh

echo "AudioFuse installed in $opt"
echo "Start it from the applications menu (AudioFuse), or run: $bin/audiofuse-gui"
case ":$PATH:" in *":$bin:"*) ;; *) echo "(add $bin to PATH to run audiofuse-gui by name)" ;; esac
