"""Writing the build's files: only when their content changed, naming the file when it fails.

Unchanged files keep their timestamps, so a no-op rebuild touches nothing that
setuptools, an editable install or a later build would take for new. A failed
``write()`` (a full disk) raises an ``OSError`` without a file name; :func:`write`
adds it, so the error can say which directory is full.
"""

from __future__ import annotations

from pathlib import Path


def write_if_changed(path: Path, content: str | bytes) -> bool:
    """Write *content* to *path* unless it already holds exactly that; True if written."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, data)
    return True


def write(path: Path, data: bytes) -> None:
    """``path.write_bytes(data)``, with *path* in the error if it fails."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
