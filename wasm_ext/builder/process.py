"""The one way the build runs a tool: log ``+ command``, capture output, raise with it."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import ToolchainError, WasmExtError
from ..log import get_logger

log = get_logger(__name__)


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    error: type[WasmExtError],
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run *argv*; on a non-zero exit raise *error* with *what* and the tool's own output.

    A tool that cannot be started at all raises :class:`ToolchainError`.
    """
    args = [os.fspath(a) for a in argv]
    log.info("+ %s", shlex.join(args))
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise ToolchainError(f"{what}: cannot run {args[0]!r}: {exc}") from exc
    if proc.returncode != 0:
        output = "\n".join(part.strip() for part in (proc.stderr, proc.stdout) if part.strip())
        raise error(f"{what} failed (exit code {proc.returncode}):\n{output or '(no output)'}")
    return proc
