#!/usr/bin/env bash
# Installs the system libraries and players Segue needs on Debian/Ubuntu, once: Qt's
# runtime libraries (QtMultimedia needs libpulse0, the xcb platform its libxcb-* set) and
# the real players the tests drive. Uses apt-get as root, sudo when available; otherwise
# prints one line naming the packages and the command, and fails.
set -euo pipefail

# package  file that shows it is installed (a library in ldconfig, or a command)
wanted=(
    "libpulse0 lib:libpulse.so.0"
    "libegl1 lib:libEGL.so.1"
    "libgl1 lib:libGL.so.1"
    "libxkbcommon0 lib:libxkbcommon.so.0"
    "libxkbcommon-x11-0 lib:libxkbcommon-x11.so.0"
    "libfontconfig1 lib:libfontconfig.so.1"
    "libdbus-1-3 lib:libdbus-1.so.3"
    "libxcb-cursor0 lib:libxcb-cursor.so.0"
    "libxcb-icccm4 lib:libxcb-icccm.so.4"
    "libxcb-keysyms1 lib:libxcb-keysyms.so.1"
    "libxcb-shape0 lib:libxcb-shape.so.0"
    "libxcb-render-util0 lib:libxcb-render-util.so.0"
    "libxcb-image0 lib:libxcb-image.so.0"
    "dbus cmd:dbus-run-session"
)
if [ "${SEGUE_SETUP_PLAYERS:-1}" = 1 ]; then
    # The real players the host tests drive (skipped when absent, so optional for `make run`).
    wanted+=(
        "mpd cmd:mpd"
        "mpc cmd:mpc"
        "mpv cmd:mpv"
        "mpv-mpris file:/etc/mpv/scripts/mpris.so"
        "playerctl cmd:playerctl"
        "vlc-bin cmd:cvlc"
        "vlc-plugin-base file:/usr/lib/x86_64-linux-gnu/vlc/plugins/control/libdbus_plugin.so"
    )
fi

missing=()
libs=$(ldconfig -p 2>/dev/null || true)
for entry in "${wanted[@]}"; do
    package=${entry%% *}
    probe=${entry#* }
    case $probe in
        lib:*) grep -q "${probe#lib:}" <<<"$libs" || missing+=("$package") ;;
        cmd:*) command -v "${probe#cmd:}" >/dev/null 2>&1 || missing+=("$package") ;;
        file:*) [ -e "${probe#file:}" ] || missing+=("$package") ;;
    esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo)
else
    echo "segue setup: missing system packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "segue setup: missing system packages: ${missing[*]} (no apt-get here: install them with your package manager)" >&2
    exit 1
fi
echo "segue setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" "${install[@]}" >/dev/null
