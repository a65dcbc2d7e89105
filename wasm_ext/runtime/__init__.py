"""The run-time wing: what every built package carries, as ``<package>/_wasm_ext_runtime``.

It needs nothing but ``wasmtime`` (imported on the first kernel call, never at import),
or, under Pyodide, the JavaScript engine (``jsengine.py``); it never imports the build side. The build copies this whole directory next to each
generated stub, so a stub and the runtime it was generated for always match.
"""

from .errors import KernelError, KernelTimeout, KernelTrap
from .loader import KernelModule
from .memory import WasmBuffer

RUNTIME_VERSION = "3"

__all__ = ["RUNTIME_VERSION", "KernelError", "KernelModule", "KernelTimeout", "KernelTrap", "WasmBuffer"]
