"""Writing the build's output files: only when their content changed.

Unchanged files keep their timestamps, so a no-op rebuild touches nothing that
setuptools, an editable install or a later build would take for new.
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
    path.write_bytes(data)
    return True
