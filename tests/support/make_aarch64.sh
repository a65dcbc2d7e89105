#!/bin/sh
# An aarch64 Python for the tests, run under qemu-user (`make aarch64`; tests/support/aarch64.py uses it).
#
# usage: make_aarch64.sh PYTHON      (PYTHON: the test venv's python; its wasmtime version is matched)
#
# Into $XDG_CACHE_HOME/setuptools-wasm-tests/aarch64 (default ~/.cache/...), outside the repository:
#   root/             an arm64 Debian bookworm root (python3.11 and pip; nothing of it is installed on the
#                     host) made by `mmdebstrap --variant=extract`, its .pyc compiled once (this environment
#                     sets PYTHONDONTWRITEBYTECODE, and under qemu every import would compile again: pip
#                     starts in 5 s instead of 20)
#   wasmtime-X/       the aarch64 manylinux wheel of wasmtime X (the version PYTHON has), installed there
#   wheels/           that wheel as downloaded
# Each is made in a temporary directory and renamed into place, so a killed run leaves nothing half made;
# with both present this takes well under a second. Debian's qemu-user-static and mmdebstrap come from apt
# (root, or `sudo -n`); the host's architectures are never changed (no `dpkg --add-architecture`, which
# would replace the host's python3). It never fails: where something cannot be had it prints one `note:`
# line saying why the aarch64 tests will be skipped, and exits 0.
set -u

PYTHON=${1:?usage: make_aarch64.sh PYTHON}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/setuptools-wasm-tests/aarch64
SUITE=bookworm
QEMU=qemu-aarch64-static

skip() {
    echo "note: $*; the aarch64 tests will be skipped"
    exit 0
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

# The first Debian mirror of the host's apt sources that serves $SUITE (deb822 .sources or one-line
# .list), so mmdebstrap fetches from where apt here does. AARCH64_MIRROR overrides it.
host_mirror() {
    if [ -n "${AARCH64_MIRROR:-}" ]; then echo "$AARCH64_MIRROR"; return; fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '
            function stanza() { if (uri != "" && deb && ok) { print uri; uri = ""; exit } uri = ""; deb = 0; ok = 0 }
            /^[[:space:]]*$/ { stanza(); next }
            /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END { stanza() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue  # deb [options] URI SUITE COMPONENTS...
        sed -n "s/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]\{1,\}\)[[:space:]]\{1,\}$SUITE[[:space:]].*/\2/p" "$f"
    done
}

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || skip "this host is $(uname -s) $(uname -m), not x86_64 Linux"

WASMTIME=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("wasmtime"))' 2>/dev/null) ||
    skip "$PYTHON has no wasmtime (run make setup)"
SITE=$CACHE/wasmtime-$WASMTIME
if [ -x "$CACHE/root/usr/bin/python3.11" ] && [ -d "$SITE/wasmtime" ] && command -v $QEMU >/dev/null; then
    exit 0  # already there
fi

if ! command -v $QEMU >/dev/null || ! command -v mmdebstrap >/dev/null; then
    command -v apt-get >/dev/null || skip "no apt-get to install qemu-user-static and mmdebstrap"
    [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null || skip "installing qemu-user-static needs root or sudo -n"
    as_root apt-get install -y -q qemu-user-static mmdebstrap >/dev/null 2>&1 ||
        { as_root apt-get update -q >/dev/null 2>&1 &&
          as_root apt-get install -y -q qemu-user-static mmdebstrap >/dev/null 2>&1; } ||
        skip "apt-get could not install qemu-user-static and mmdebstrap"
fi

mkdir -p "$CACHE" || skip "cannot create $CACHE"
# One run at a time; leftovers of killed runs go.
exec 9>"$CACHE/.lock"
command -v flock >/dev/null && flock 9
rm -rf "$CACHE"/*.tmp

# Bytecode for a tree of the arm64 root: with PYTHON where its bytecode is the arm64 Python's (same
# magic number: the bytecode format is per minor version, not per arch), else with that Python under qemu.
compile_tree() {
    magic_host=$("$PYTHON" -c 'import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())')
    magic_arm=$($QEMU -L "$1" "$1/usr/bin/python3.11" -c 'import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())')
    shift_root=$1; shift
    if [ -n "$magic_arm" ] && [ "$magic_host" = "$magic_arm" ]; then
        "$PYTHON" -m compileall -q -j 0 "$@" >/dev/null 2>&1
    else
        $QEMU -L "$shift_root" "$shift_root/usr/bin/python3.11" -m compileall -q "$@" >/dev/null 2>&1
    fi
    return 0  # a file that does not compile (test data in the stdlib) is no reason to fail
}

if ! [ -x "$CACHE/root/usr/bin/python3.11" ]; then
    echo "making an arm64 Debian $SUITE root with python3.11 in $CACHE/root (~15 s)"
    rm -rf "$CACHE/root"
    mirror=$(host_mirror | head -n 1)
    # shellcheck disable=SC2086 # no mirror given: mmdebstrap's default
    mmdebstrap --quiet --variant=extract --arch=arm64 --include=python3.11,python3-pip \
        "$SUITE" "$CACHE/root.tmp" $mirror >"$CACHE/mmdebstrap.log" 2>&1 ||
        skip "mmdebstrap could not make the arm64 root (see $CACHE/mmdebstrap.log)"
    $QEMU -L "$CACHE/root.tmp" "$CACHE/root.tmp/usr/bin/python3.11" -c 'import platform' ||
        skip "$QEMU cannot run the arm64 root's python3.11"
    compile_tree "$CACHE/root.tmp" "$CACHE/root.tmp/usr/lib/python3.11" "$CACHE/root.tmp/usr/lib/python3/dist-packages"
    mv "$CACHE/root.tmp" "$CACHE/root" || skip "cannot rename $CACHE/root.tmp"
fi

if ! [ -d "$SITE/wasmtime" ]; then
    echo "fetching the aarch64 wheel of wasmtime $WASMTIME into $SITE"
    mkdir -p "$CACHE/wheels"
    wheel() { ls "$CACHE"/wheels/wasmtime-"$WASMTIME"-*aarch64*.whl 2>/dev/null | head -n 1; }
    [ -n "$(wheel)" ] ||
        "$PYTHON" -m pip download --quiet --no-deps --platform manylinux2014_aarch64 --only-binary :all: \
            --python-version 3.11 -d "$CACHE/wheels" "wasmtime==$WASMTIME" >/dev/null 2>&1 ||
        skip "pip could not download the aarch64 wheel of wasmtime $WASMTIME"
    # The host's pip installs it (RECORD, dist-info and all) for the arm64 interpreter's platform.
    "$PYTHON" -m pip install --quiet --no-deps --no-index --no-compile --target "$SITE.tmp" \
        --platform manylinux2014_aarch64 --only-binary :all: --python-version 3.11 "$(wheel)" >/dev/null 2>&1 ||
        skip "pip could not install $(wheel) into $SITE.tmp"
    compile_tree "$CACHE/root" "$SITE.tmp"
    # Other versions' sites go: only the venv's version is ever used.
    for old in "$CACHE"/wasmtime-* "$CACHE"/wheels/wasmtime-*; do
        case $old in "$SITE.tmp" | "$(wheel)") ;; *) rm -rf "$old" ;; esac
    done
    mv "$SITE.tmp" "$SITE" || skip "cannot rename $SITE.tmp"
fi
echo "aarch64 Python ready: $QEMU -L $CACHE/root $CACHE/root/usr/bin/python3.11 (wasmtime $WASMTIME in $SITE)"
