"""Whether files on disk can be trusted: only the current user could have written them.

The run-time module cache holds native code, the zig copy holds the compiler the build
runs, and the build's stage cache holds modules that get shipped. Anything read from
them is as good as what it was made from only if no other local user could have planted
or changed it. So a directory is trusted when it, and every directory above it (the
path as given and as resolved), is owned by the current user or root and writable by
nobody else: the rule of OpenSSH's ``StrictModes``. Two exceptions keep ordinary set-ups
working: a sticky directory such as ``/tmp`` above (others may add entries but cannot
replace ours), and group write on a directory whose group is the user's private group
with no other members (Debian's patch to OpenSSH allows the same, for ``umask 002``).
Every file read is checked again on its open descriptor (owner, mode, a regular file).

On Windows there are no POSIX owners and modes to check: the per-user profile's ACLs
keep other users out of ``%LOCALAPPDATA%``, and a directory set by an environment
variable is the user's choice. Everything here is a no-op there.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_POSIX = hasattr(os, "getuid")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NOBODY_ELSE = stat.S_IWGRP | stat.S_IWOTH


def _uid() -> int:
    return os.getuid()


def _private_group(gid: int) -> bool:
    """True if *gid* is the user's primary group and has no other member."""
    if gid != os.getgid():
        return False
    try:
        import grp
        import pwd

        members = set(grp.getgrgid(gid).gr_mem)
        name = pwd.getpwuid(_uid()).pw_name
    except (ImportError, KeyError, OSError):
        return False
    return members <= {name}


def _problem(st: os.stat_result, *, mine: bool, sticky_ok: bool) -> str | None:
    uid = _uid()
    if st.st_uid != uid and (mine or st.st_uid != 0):
        return f"it is owned by uid {st.st_uid}, not by you (uid {uid})"
    mode = stat.S_IMODE(st.st_mode)
    if sticky_ok and mode & stat.S_ISVTX:
        return None
    if mode & stat.S_IWOTH or (mode & stat.S_IWGRP and not _private_group(st.st_gid)):
        return f"it is writable by {'others' if mode & stat.S_IWOTH else 'its group'} (mode {mode:04o})"
    return None


def _chain(path: Path) -> list[Path]:
    """*path* and every directory above it, as given (absolute) and as resolved."""
    seen: dict[Path, None] = {}
    for start in (Path(os.path.abspath(path)), Path(os.path.realpath(path))):
        for directory in (start, *start.parents):
            seen.setdefault(directory, None)
    return list(seen)


def untrusted(directory: Path) -> str | None:
    """Why *directory* cannot be trusted ("DIR: reason; fix"), or ``None`` if it can."""
    if not _POSIX:
        return None
    leaf = Path(os.path.realpath(directory))
    for each in _chain(directory):
        try:
            st = os.stat(each)
        except OSError as exc:
            return f"{each}: cannot be checked ({exc.strerror or exc})"
        problem = _problem(st, mine=each == leaf, sticky_ok=each != leaf)
        if problem is not None:
            return f"{each}: {problem}; only a directory that you own and nobody else can write is trusted"
    return None


def make_private(directory: Path) -> str | None:
    """Create *directory* (each missing part with mode 0700) and say why it cannot be trusted, if so.

    Raises ``OSError`` if it cannot be created.
    """
    for each in reversed([d for d in (directory, *directory.parents) if not d.is_dir()]):
        try:
            each.mkdir(mode=0o700)
        except FileExistsError:
            pass
    return untrusted(directory)


def read(path: Path) -> bytes:
    """The bytes of *path* in a trusted directory, if the file itself is trusted too.

    Raises ``OSError`` (``PermissionError`` for a file someone else could have written)
    so callers treat it as a miss, like a missing file.
    """
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        if _POSIX:
            st = os.fstat(fd)
            problem = "it is not a regular file" if not stat.S_ISREG(st.st_mode) else None
            problem = problem or _problem(st, mine=True, sticky_ok=False)
            if problem is not None:
                raise PermissionError(f"{path}: not trusted: {problem}")
        return fh.read()


def untrusted_file(path: Path) -> str | None:
    """Why the file *path* (owned by you or root, writable by nobody else) cannot be trusted, or ``None``."""
    if not _POSIX:
        return None
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"{path}: cannot be checked ({exc.strerror or exc})"
    problem = _problem(st, mine=False, sticky_ok=False)
    return None if problem is None else f"{path}: {problem}"


def write(path: Path, data: bytes) -> None:
    """Replace *path* atomically with *data*, in a file only the user can read or write (0600)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
