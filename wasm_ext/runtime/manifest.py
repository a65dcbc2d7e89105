"""The manifest written beside each module: what the build made and how to trust it.

``<stem>.wasm-manifest.json`` records the sha256 of the portable ``.wasm`` and, per
precompiled artifact, the target triple, wasmtime version, engine-config fingerprint and
sha256. The loader deserializes an artifact only when all of these match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT = 1
SUFFIX = ".wasm-manifest.json"


def manifest_path(directory: Path, stem: str) -> Path:
    return directory / f"{stem}{SUFFIX}"


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at *path*, or ``{}`` if it is missing, unreadable or of another format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    return data


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps({"format": FORMAT, **data}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
