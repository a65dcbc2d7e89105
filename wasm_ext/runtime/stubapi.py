"""Everything a generated stub imports, in one place, and the check that stub and runtime match.

A stub imports only from here. :data:`RUNTIME_VERSION` names this surface and the binding
protocol behind it (``binding.py``); it changes whenever either does. Each stub is
generated for one version and calls :func:`require` at import, so a stub and a runtime
copy from different builds fail at once with a clear error instead of misbehaving later.
"""

from __future__ import annotations

from .arguments import (
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
from .exceptions import KernelError, KernelTimeout, KernelTrap, LibraryError
from .loader import KernelModule

# What only some stubs use is imported when a stub asks for it (``from .stubapi import CEnum``):
# enum, dataclasses, weakref and typing each cost more to import than a whole stub.
_LAZY = {
    "CEnum": "enums",
    "CStruct": "structs",
    "c_new": "structs",
    "c_struct": "structs",
    "check_struct": "structs",
    "Handle": "handles",
    "check_handle": "handles",
    "disown": "handles",
    "wrap_handle": "handles",
    "WasiGrants": "sandbox",
}

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers know the name)
if TYPE_CHECKING:
    from struct import Struct as Values

    from .binding import Binding as Binding  # noqa: PLC0414 - an explicit re-export, for mypy --strict
    from .buffer import Buffer as Buffer  # noqa: PLC0414 - what buffer parameters take (no typing_extensions)
    from .enums import CEnum
    from .handles import Handle, check_handle, disown, wrap_handle
    from .sandbox import WasiGrants
    from .structs import CStruct, c_new, c_struct, check_struct
else:

    def __getattr__(name: str) -> object:
        """A name of ``_LAZY`` (or ``Values``), imported from its module on first use."""
        if name == "Values":  # the block of values a call passes by pointer, packed and unpacked at once
            import struct

            value = struct.Struct
        elif name in _LAZY:
            value = getattr(__import__(_LAZY[name], globals(), None, (name,), 1), name)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value


RUNTIME_VERSION = "9"

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
