"""Everything a generated stub imports, in one place, and the check that stub and runtime match.

A stub imports only from here. :data:`RUNTIME_VERSION` names this surface and the binding
protocol behind it (``binding.py``); it changes whenever either does. Each stub is
generated for one version and calls :func:`require` at import, so a stub and a runtime
copy from different builds fail at once with a clear error instead of misbehaving later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .arguments import (
    Values,
    bad_capacity,
    bad_length,
    check_float,
    check_int,
    in_buffer,
    in_string,
    length_mismatch,
    overflow,
    read_string,
)
from .buffer import WasmBuffer
from .enums import CEnum
from .exceptions import KernelError, KernelTimeout, KernelTrap, LibraryError
from .handles import Handle, check_handle, disown, wrap_handle
from .loader import KernelModule
from .sandbox import WasiGrants
from .structs import CStruct, c_new, c_struct, check_struct

if TYPE_CHECKING:  # stubs use it only in annotations: ctypes waits for the first call
    from .binding import Binding as Binding  # noqa: PLC0414 - an explicit re-export, for mypy --strict
    from .buffer import Buffer as Buffer  # noqa: PLC0414 - what buffer parameters take (no typing_extensions)

RUNTIME_VERSION = "7"

__all__ = [
    "RUNTIME_VERSION",
    "CEnum",
    "CStruct",
    "Handle",
    "KernelError",
    "KernelModule",
    "KernelTimeout",
    "KernelTrap",
    "LibraryError",
    "Values",
    "WasiGrants",
    "WasmBuffer",
    "bad_capacity",
    "bad_length",
    "c_new",
    "c_struct",
    "check_float",
    "check_handle",
    "check_int",
    "check_struct",
    "disown",
    "in_buffer",
    "in_string",
    "length_mismatch",
    "overflow",
    "read_string",
    "require",
    "wrap_handle",
]


def require(version: str, stub: str) -> None:
    """Raise ``ImportError`` unless the stub *stub* was generated for this runtime's version."""
    if version != RUNTIME_VERSION:
        raise ImportError(
            f"{stub} was generated for setuptools-wasm runtime {version}, but the runtime beside it "
            f"({__name__.rpartition('.')[0]}) is version {RUNTIME_VERSION}: a stub and its runtime must "
            "come from one build; rebuild the package"
        )
