"""A build-directory cache for the pipeline's stages, keyed by a hash of their inputs.

Each stage's key covers everything that decides its output: file contents (sources and
every header the preprocessor read, from a depfile), flags, tool versions. A hit skips
the tool entirely, so a no-op rebuild costs only the hashing. One entry per stage is
kept: a changed input replaces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .process import log


def digest(*parts: Any) -> str:
    """A stable hash of JSON-serializable *parts*."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def files_digest(paths: Iterable[str | Path]) -> str | None:
    """Hash of the paths and contents of *paths*; ``None`` if one is missing."""
    h = hashlib.sha256()
    for path in sorted({os.fspath(p) for p in paths}):
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        h.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def read_depfile(path: Path) -> list[str]:
    """The prerequisites listed in a make-style depfile written by ``-MD -MF``."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\\\n", " ")
    deps: list[str] = []
    for rule in text.splitlines():
        _, sep, rest = rule.partition(": ")
        if sep:
            deps += [d.replace("\\ ", " ") for d in re.split(r"(?<!\\)\s+", rest.strip()) if d]
    return deps


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


class StageCache:
    """``get``/``put`` of one blob and one JSON record per stage, under *directory*."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _paths(self, stage: str) -> tuple[Path, Path]:
        return self.directory / f"{stage}.bin", self.directory / f"{stage}.json"

    def get(self, stage: str, key: str) -> tuple[bytes, dict[str, Any]] | None:
        blob, record = self._paths(stage)
        try:
            meta = json.loads(record.read_text(encoding="utf-8"))
            data = blob.read_bytes()
        except (OSError, ValueError):
            return None
        if meta.get("key") != key or meta.get("sha256") != hashlib.sha256(data).hexdigest():
            return None
        log.info("wasm-ext: %s: up to date (cached)", stage)
        return data, meta.get("data", {})

    def record(self, stage: str) -> dict[str, Any]:
        """The last record of *stage*, whatever its key (to re-check its dependencies)."""
        try:
            meta = json.loads(self._paths(stage)[1].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def put(self, stage: str, key: str, data: bytes, meta: dict[str, Any] | None = None) -> None:
        blob, record = self._paths(stage)
        self.directory.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        record.write_text(
            json.dumps({"key": key, "sha256": hashlib.sha256(data).hexdigest(), "data": meta or {}}, indent=1),
            encoding="utf-8",
        )
