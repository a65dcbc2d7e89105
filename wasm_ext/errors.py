"""Build-time error types.

Each is a ``setuptools.errors`` type, so setuptools and pip print the message as
``error: ...`` instead of a traceback, and each also derives from
:class:`WasmExtError`, so callers can catch every plugin failure at once.
"""

from __future__ import annotations

from setuptools import errors


class WasmExtError(errors.BaseError):
    """Base class of every error the build side of setuptools-wasm raises."""


class ConfigError(WasmExtError, errors.OptionError):
    """A ``WasmExtension`` argument or ``[tool.wasm-ext]`` entry is invalid."""


class ToolchainError(WasmExtError, errors.PlatformError):
    """A required tool (C compiler for wasm32-wasi, wasm-opt, wasmtime) is missing or broken."""


class WasmCompileError(WasmExtError, errors.CompileError):
    """The C compiler failed, or its output breaks a rule (unknown export, WASI import)."""


class SignatureError(WasmExtError, errors.CompileError):
    """A C prototype cannot be turned into a typed Python function."""


class SizeLimitError(WasmExtError, errors.SetupError):
    """A module is larger than its ``max_size``."""
