"""The build directory's cache of stage outputs, keyed by a hash of their inputs.

One API for every stage (compile, wasm-opt, precompile). An entry is a blob, a JSON
record of metadata and the key it was made for. A stage whose inputs include files it
only discovers while running (the compile: every header the preprocessor read, from the
depfiles) records those files with the entry, and the entry hits only while their
contents are unchanged. A hit skips the tool entirely, so a no-op rebuild costs only the
hashing. One entry per stage is kept: a changed input replaces it.

Paths inside the plugin's own include directory are recorded as ``$WASM_EXT_INCLUDE/...``:
pip's build isolation installs the plugin at a new temporary path for every build, and a
key or record naming that path would never match again (an unchanged rebuild of a big
amalgamation recompiled for a minute). Their contents are still hashed.

A cached module is shipped as if built, so the cache is used only while ``trust`` finds
its directory, and every one above it, writable by nobody but the user (a build
directory restored from a CI cache shared with others is the usual case where it is
not); otherwise every stage runs, and the reason is logged once.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import INCLUDE_DIR
from ..log import get_logger
from ..runtime import trust

log = get_logger(__name__)
_warned: set[str] = set()


def digest(*parts: Any) -> str:
    """A stable hash of JSON-serializable *parts*."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


INCLUDE_ALIAS = "$WASM_EXT_INCLUDE"


def portable(path: str | Path) -> str:
    """*path* as recorded: below the plugin's include directory, relative to ``$WASM_EXT_INCLUDE``."""
    text = os.fspath(path)
    root = os.path.join(INCLUDE_DIR, "")
    return INCLUDE_ALIAS + "/" + text[len(root) :].replace(os.sep, "/") if text.startswith(root) else text


def local(recorded: str) -> str:
    """A recorded path (see :func:`portable`) as a path on this machine, in this build."""
    prefix = INCLUDE_ALIAS + "/"
    return os.path.join(INCLUDE_DIR, *recorded[len(prefix) :].split("/")) if recorded.startswith(prefix) else recorded


def files_digest(paths: Iterable[str | Path]) -> str | None:
    """Hash of the (portable) paths and contents of *paths*; ``None`` if one is missing."""
    h = hashlib.sha256()
    for path in sorted({portable(p) for p in paths}):
        try:
            data = Path(local(path)).read_bytes()
        except OSError:
            return None
        h.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    data: bytes
    meta: dict[str, Any]


class StageCache:
    """``get``/``put`` of one entry per stage, under *directory*."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _trusted(self, *, create: bool) -> bool:
        try:
            reason = trust.make_private(self.directory) if create else trust.untrusted(self.directory)
        except OSError as exc:
            reason = f"{self.directory}: cannot be created ({exc.strerror or exc})"
        if reason is not None and reason not in _warned:
            _warned.add(reason)
            log.warning("not using the stage cache: %s", reason)
        return reason is None

    def _paths(self, stage: str) -> tuple[Path, Path]:
        return self.directory / f"{stage}.bin", self.directory / f"{stage}.json"

    def get(self, stage: str, key: str) -> Entry | None:
        """The entry of *stage* made for *key*, if the files it read are unchanged too."""
        blob, record_file = self._paths(stage)
        if not record_file.is_file() or not self._trusted(create=False):
            return None
        try:
            record = json.loads(trust.read(record_file).decode("utf-8"))
            if not isinstance(record, dict) or record.get("key") != key:
                return None
            files = record.get("files", [])
            if files and files_digest(files) != record.get("files_digest"):
                return None
            data = trust.read(blob)
        except (OSError, ValueError):
            return None
        if record.get("sha256") != hashlib.sha256(data).hexdigest():
            return None
        log.info("%s: up to date (cached)", stage)
        meta = record.get("meta", {})
        return Entry(data, meta if isinstance(meta, dict) else {})

    def put(
        self, stage: str, key: str, data: bytes, meta: dict[str, Any] | None = None, files: Iterable[str] = ()
    ) -> None:
        """Store *data* for *key*; *files*: inputs found while running (an entry whose files are gone is not kept)."""
        listed = sorted({portable(f) for f in files})
        files_hash = files_digest(listed) if listed else None
        if listed and files_hash is None or not self._trusted(create=True):
            return
        blob, record_file = self._paths(stage)
        record = {
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
            "files": listed,
            "files_digest": files_hash,
            "meta": meta or {},
        }
        trust.write(blob, data)
        trust.write(record_file, json.dumps(record, indent=1).encode())
