#!/usr/bin/env bash
# Build a free-threaded CPython 3.13 (--disable-gil) once, cached outside the repository.
#
# No free-threaded CPython package is reachable from here (Debian ships none), so this builds
# one from Debian trixie's python3.13 source package. It never fails its caller: when the
# build cannot be done it prints one "note:" line saying why and exits 0, and the free-threaded
# session then skips. Usage:
#   build_python_ft.sh          build if missing (seconds when already built)
#   build_python_ft.sh --path   print the interpreter's path if it is built, else nothing
#
# Where: ${XDG_CACHE_HOME:-~/.cache}/setuptools-wasm-tests/python3.13t (WASM_EXT_PYTHON_FT_PREFIX
# overrides). Atomic: configure with the final prefix, `make install DESTDIR=` a temporary
# directory next to it, check the result, then rename it into place. The host's apt state is not
# touched: apt runs with a throw-away source list, lists directory, cache and an empty status.
set -uo pipefail

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/setuptools-wasm-tests"
PREFIX="${WASM_EXT_PYTHON_FT_PREFIX:-$CACHE/python3.13t}"
PY="$PREFIX/bin/python3.13t"
JOBS="${WASM_EXT_PYTHON_FT_JOBS:-2}"

note() { echo "note: free-threaded CPython not built ($1); the tests-3.13t session will skip"; exit 0; }

# The check every result must pass: it runs, the GIL is off, and ctypes (which wasmtime-py needs)
# and venv/ensurepip (which nox needs) are there.
check() {
  "$1" -c 'import sys, ctypes, venv, ensurepip; assert sys._is_gil_enabled() is False, "GIL on"' 2>/dev/null
}

if [ "${1:-}" = "--path" ]; then
  if [ -x "$PY" ]; then echo "$PY"; fi
  exit 0
fi

if [ -x "$PY" ] && check "$PY"; then exit 0; fi

for tool in apt-get gcc make tar flock; do
  command -v "$tool" >/dev/null 2>&1 || note "no $tool on PATH"
done
mkdir -p "$CACHE" 2>/dev/null || note "cannot create $CACHE"

# One build at a time (nox and make may both ask); a second caller waits, then finds it built.
exec 9>"$CACHE/python3.13t.lock"
flock 9
if [ -x "$PY" ] && check "$PY"; then exit 0; fi

# The Debian mirror the host already uses (first http(s) URI of a Debian source), so no host name
# is written here; WASM_EXT_DEBIAN_MIRROR overrides.
mirror="${WASM_EXT_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v "^[[:space:]]*#" |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')
fi
[ -n "$mirror" ] || note "no Debian mirror in the host's apt sources; set WASM_EXT_DEBIAN_MIRROR"
keyring=/usr/share/keyrings/debian-archive-trixie-stable.gpg
[ -r "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || note "no Debian archive keyring to verify trixie's sources"

work=$(mktemp -d "$CACHE/python3.13t.build.XXXXXX") || note "cannot create a build directory in $CACHE"
trap 'rm -rf "$work"' EXIT
log="$CACHE/python3.13t-build.log"
: >"$log"
echo "building free-threaded CPython 3.13 into $PREFIX (once, ~6 minutes; log: $log)"

mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/parts" "$work/src"
echo "deb-src [signed-by=$keyring] $mirror trixie main" >"$work/apt/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=$work/apt/parts"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::State::status=/dev/null"
  -o "Dir::Cache=$work/apt/cache" -o "Debug::NoLocking=1" -q)
apt-get "${apt_opts[@]}" update >>"$log" 2>&1 || note "apt-get update for trixie's sources failed (see $log)"
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only python3.13) >>"$log" 2>&1 ||
  note "apt-get source python3.13 failed (see $log)"
orig=$(ls "$work"/src/python3.13_*.orig.tar.* 2>/dev/null | head -n1)
[ -n "$orig" ] || note "no upstream tarball in the source package (see $log)"
tar -xf "$orig" -C "$work/src" >>"$log" 2>&1 || note "cannot unpack $orig"
srcdir=$(find "$work/src" -maxdepth 1 -type d -name 'Python-3.13*' | head -n1)
[ -n "$srcdir" ] || note "no Python-3.13 directory in $orig"

(cd "$srcdir" && ./configure --disable-gil --prefix="$PREFIX" &&
  make -j"$JOBS" && make install DESTDIR="$work/stage") >>"$log" 2>&1 ||
  note "configure/make failed (see $log)"
staged="$work/stage$PREFIX"
check "$staged/bin/python3.13t" || note "the built interpreter fails the check (GIL off, ctypes, venv)"

rm -rf "$PREFIX.old"
[ -e "$PREFIX" ] && mv "$PREFIX" "$PREFIX.old"
mkdir -p "$(dirname "$PREFIX")"
mv "$staged" "$PREFIX" || note "cannot move the result to $PREFIX"
rm -rf "$PREFIX.old"
echo "free-threaded CPython: $PY"
