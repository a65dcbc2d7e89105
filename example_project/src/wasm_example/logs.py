"""Log analytics over newline-separated JSON log lines, in one wasm call per buffer.

    >>> from wasm_example.logs import parse_logs
    >>> parse_logs(b'{"ts":"2024-09-15T10:30:00Z","level":"error","ip":"10.0.0.42","msg":"disk full"}\\n')
    LogStats(lines=1, malformed=0, levels={'DEBUG': 0, 'INFO': 0, 'WARN': 0, 'ERROR': 1, ...

The rules, shared by the C kernel (``csrc/logparse.c``) and the pure-Python reference
:func:`parse_logs_python` here (tests check that they agree):

- The buffer is split at ``\\n``; each line is stripped of spaces, tabs and ``\\r``; blank
  lines are skipped. Every other line counts in ``lines``.
- A line is *malformed* unless it is UTF-8 holding one strict JSON object (RFC 8259: no
  NaN/Infinity, nesting at most 64 deep; a repeated key's last value wins) in which
  ``"ts"`` and ``"level"`` are strings, ``"ip"`` (optional) is a string, each of the three
  is at most 64 bytes of UTF-8, and ``ts`` is ``YYYY-MM-DDTHH:MM:SS[.fraction]`` followed by
  ``Z`` or ``+HH:MM``/``-HH:MM``, a real date and time (no leap seconds).
- ``level`` is trimmed of spaces/tabs, upper-cased (ASCII) and mapped: DEBUG, INFO,
  WARN/WARNING -> WARN, ERROR/ERR -> ERROR, CRITICAL/FATAL -> CRITICAL, anything else OTHER.
- Timestamps become epoch seconds (the fraction is dropped); ``ts_min``/``ts_max``/``ts_sum``
  cover valid lines. IPs are compared as text, ASCII-lower-cased; ``distinct_ips`` counts them.
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from . import _logparse

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "OTHER")
_ALIASES = {
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "ERR": "ERROR",
    "CRITICAL": "CRITICAL",
    "FATAL": "CRITICAL",
}
MAX_VALUE = 64
MAX_DEPTH = 64
_N_OUT = 2 + len(LEVELS) + 4


@dataclass(frozen=True)
class LogStats:
    """What one buffer of log lines says, in sum."""

    lines: int  # non-blank lines
    malformed: int
    levels: dict[str, int]  # every name in LEVELS
    ts_min: int | None  # epoch seconds; None when no line was valid
    ts_max: int | None
    ts_sum: int
    distinct_ips: int

    @property
    def valid(self) -> int:
        return self.lines - self.malformed


def parse_logs(data: Any, sandbox: _logparse.Sandbox | None = None) -> LogStats:
    """Summarise *data* (bytes, bytearray, memoryview, ...) with the wasm kernel: one call.

    For untrusted input pass a sandbox, e.g. ``_logparse.sandbox(timeout=1.0,
    max_memory="64MiB")``: a runaway parse raises ``KernelTimeout``, one that needs more
    memory raises ``MemoryError``, and the next call starts from a fresh instance.
    """
    out = array("q", bytes(8 * _N_OUT))
    parse = _logparse.parse_logs if sandbox is None else sandbox.parse_logs
    status = parse(data, out)
    if status == -2:
        raise MemoryError("parse_logs: the wasm module ran out of memory for the set of IPs")
    if status != 0:
        raise RuntimeError(f"parse_logs: the kernel returned status {status}")
    valid = out[0] - out[1]
    return LogStats(
        lines=out[0],
        malformed=out[1],
        levels=dict(zip(LEVELS, out[2 : 2 + len(LEVELS)])),
        ts_min=out[2 + len(LEVELS)] if valid else None,
        ts_max=out[3 + len(LEVELS)] if valid else None,
        ts_sum=out[4 + len(LEVELS)],
        distinct_ips=out[5 + len(LEVELS)],
    )


# ---- the pure-Python reference (json + datetime) ----------------------------------------

_TS = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _too_deep(value: Any, depth: int) -> bool:
    if depth > MAX_DEPTH:
        return True
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(_too_deep(child, depth + 1) for child in children)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _epoch(ts: str) -> int | None:
    match = _TS.fullmatch(ts)
    if not match:
        return None
    y, mo, d, h, mi, s = (int(g) for g in match.groups()[:6])
    zone = match.group(7)
    offset = (
        timedelta(0)
        if zone == "Z"
        else (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    )
    try:
        moment = datetime(y, mo, d, h, mi, s, tzinfo=timezone(offset))
    except ValueError:  # no such date or time, or an offset of 24 h or more
        return None
    return (moment - _EPOCH) // timedelta(seconds=1)


def _record(line: bytes) -> tuple[int, str, str | None] | None:
    """(epoch, level, ip) of a valid line, else None."""
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or any(_too_deep(v, 1) for v in obj.values()):
        return None
    ts, level, ip = obj.get("ts"), obj.get("level"), obj.get("ip")
    if not isinstance(ts, str) or not isinstance(level, str) or ("ip" in obj and not isinstance(ip, str)):
        return None
    if _utf8_len(ts) > MAX_VALUE or _utf8_len(level) > MAX_VALUE or (ip is not None and _utf8_len(ip) > MAX_VALUE):
        return None
    epoch = _epoch(ts)
    if epoch is None:
        return None
    name = _ALIASES.get(level.strip(" \t").translate(_UPPER), "OTHER")
    return epoch, name, None if ip is None else ip.translate(_LOWER)


def parse_logs_python(data: Any) -> LogStats:
    """The same summary as :func:`parse_logs`, in pure Python: the reference it is tested against."""
    lines = malformed = ts_sum = 0
    levels = dict.fromkeys(LEVELS, 0)
    ts_min: int | None = None
    ts_max: int | None = None
    ips: set[str] = set()
    for raw in bytes(data).split(b"\n"):
        line = raw.strip(b" \t\r")
        if not line:
            continue
        lines += 1
        record = _record(line)
        if record is None:
            malformed += 1
            continue
        epoch, level, ip = record
        levels[level] += 1
        ts_min = epoch if ts_min is None else min(ts_min, epoch)
        ts_max = epoch if ts_max is None else max(ts_max, epoch)
        ts_sum += epoch
        if ip is not None:
            ips.add(ip)
    return LogStats(lines, malformed, levels, ts_min, ts_max, ts_sum, len(ips))
