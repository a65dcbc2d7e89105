"""Build-time error types.

Each is a ``setuptools.errors`` type, so setuptools and pip print the message as
``error: ...`` instead of a traceback, and each also derives from
:class:`WasmExtError`, so callers can catch every plugin failure at once.
"""

from __future__ import annotations

import errno
import os
import tempfile
from typing import NoReturn

from setuptools import errors


class WasmExtError(errors.BaseError):
    """Base class of every error the build side of setuptools-wasm raises."""


class ConfigError(WasmExtError, errors.OptionError):
    """A ``WasmExtension`` argument or ``[tool.wasm-ext]`` entry is invalid."""


class UnsupportedSetuptoolsError(WasmExtError, errors.SetupError):
    """The installed setuptools is older than the plugin needs (the message names both versions)."""


class ToolchainError(WasmExtError, errors.PlatformError):
    """A required tool (C compiler for wasm32-wasi, wasm-opt, wasmtime) is missing or broken."""


class WasmCompileError(WasmExtError, errors.CompileError):
    """The C compiler failed, or its output breaks a rule (unknown export, WASI import)."""


class SignatureError(WasmExtError, errors.CompileError):
    """A C prototype cannot be turned into a typed Python function."""


class SizeLimitError(WasmExtError, errors.SetupError):
    """A module is larger than its ``max_size``."""


class BuildEnvironmentError(WasmExtError, errors.FileError):
    """The build could not write where it must: no space, no permission, a read-only file system."""


_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
}


def environment_error(exc: OSError, what: str) -> BuildEnvironmentError | None:
    """*exc* as an error naming the file, the reason and what to change; ``None`` if it is not one of those."""
    reason = _REASONS.get(exc.errno or 0)
    if reason is None:
        return None
    if not exc.filename:  # the OS did not say where: name both places a build writes
        tmp = tempfile.gettempdir()
        return BuildEnvironmentError(
            f"{what}: a write failed: {reason}; free space in the build directory and in {tmp} "
            "(or set TMPDIR to a directory with room)"
        )
    path = os.fspath(exc.filename)
    where, fix = _whose(path)
    return BuildEnvironmentError(f"{what}: cannot write {path} ({where}): {reason}; {fix}")


def reraise_explained(exc: OSError, what: str) -> NoReturn:
    """Raise *exc* as :func:`environment_error` explains it, or as it is."""
    explained = environment_error(exc, what)
    if explained is None:
        raise exc
    raise explained from exc


def _whose(path: str) -> tuple[str, str]:
    tmp = tempfile.gettempdir()
    if os.path.abspath(path).startswith(os.path.join(os.path.abspath(tmp), "")):
        return "the temporary directory", f"free space in {tmp} or set TMPDIR to a directory with room"
    return "the build directory", "free space there, or point the build elsewhere (setuptools' --build-temp)"
