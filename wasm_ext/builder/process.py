"""The one way the build runs a tool: log ``+ command``, capture output, raise with it.

:func:`run` captures both streams; :func:`stream` hands stdout to a reader as it comes
(clang's JSON AST can be gigabytes) and reports only stderr when the tool fails.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from ..errors import ToolchainError, WasmExtError
from ..log import get_logger

log = get_logger(__name__)


T = TypeVar("T")
P = TypeVar("P")


def _start(
    launch: Callable[..., P],
    argv: Sequence[str | os.PathLike[str]],
    what: str,
    *,
    env: Mapping[str, str] | None,
    **options: Any,
) -> P:
    """*launch* (``subprocess.run`` or ``Popen``) on *argv*, logged; a tool that cannot start is a ToolchainError."""
    args = [os.fspath(a) for a in argv]
    log.info("+ %s", shlex.join(args))
    try:
        return launch(args, env=None if env is None else dict(env), stdin=subprocess.DEVNULL, **options)
    except OSError as exc:
        raise ToolchainError(f"{what}: cannot run {args[0]!r}: {exc}") from exc


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
    proc = _start(
        subprocess.run,
        argv,
        what,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    if proc.returncode != 0:
        output = "\n".join(part.strip() for part in (proc.stderr, proc.stdout) if part.strip())
        raise error(f"{what} failed (exit code {proc.returncode}):\n{output or '(no output)'}")
    return proc


def stream(
    argv: Sequence[str | os.PathLike[str]],
    read: Callable[[IO[bytes]], T],
    *,
    error: type[WasmExtError],
    what: str,
    env: Mapping[str, str] | None = None,
) -> T:
    """Run *argv* with its stdout given to *read* while it runs; what *read* returns.

    On a non-zero exit raise *error* with *what* and the tool's stderr only (its stdout
    may be partial output of any size); an error *read* raises is reported the same way
    if the tool failed, so a broken stream never hides the tool's own diagnostics.
    """
    with tempfile.TemporaryFile() as stderr:
        proc: subprocess.Popen[bytes] = _start(
            subprocess.Popen, argv, what, env=env, stdout=subprocess.PIPE, stderr=stderr
        )
        assert proc.stdout is not None
        failure: Exception | None = None
        result = None
        try:
            result = read(proc.stdout)
        except Exception as exc:  # noqa: BLE001 - re-raised below unless the tool failed
            failure = exc
        finally:
            proc.stdout.close()  # a reader that stopped early must not leave the tool blocked on a full pipe
            code = proc.wait()
        if code != 0:
            stderr.seek(0)
            output = stderr.read().decode("utf-8", "replace").strip()
            raise error(f"{what} failed (exit code {code}):\n{output or '(no output)'}")
        if failure is not None:
            raise failure
        return result  # type: ignore[return-value]
