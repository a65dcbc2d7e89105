"""Byte sizes written as ``65536``, ``"64KiB"``, ``"1.5MiB"`` or ``"100kB"``.

Both sides read them: the build (``max_size``) and the run time (a sandbox's
``max_memory``). The runtime never imports the build side, so the parser lives here.
"""

from __future__ import annotations

import re
from typing import Union

SizeSpec = Union[int, str, None]

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|K|M|G)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "k": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gib": 1024**3,
}


def parse_size(value: SizeSpec, *, what: str = "max_size") -> int | None:
    """Turn ``65536``, ``"64KiB"``, ``"1.5MiB"`` or ``"100kB"`` into bytes (``None`` stays ``None``).

    ``K``/``M``/``G`` alone are binary (1024-based), ``kB``/``MB``/``GB`` decimal.
    Anything else raises ``ValueError`` (``TypeError`` for a bool) naming *what*.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a byte count or a string like '64KiB', not {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"{what} must be positive, got {value}")
        return value
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match:
            number, unit = match.groups()
            size = int(float(number) * _SIZE_UNITS[(unit or "b").lower()])
            if size > 0:
                return size
    raise ValueError(f"{what} must be a positive byte count or a string like '64KiB' or '1MiB', got {value!r}")
