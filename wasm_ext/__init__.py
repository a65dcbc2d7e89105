"""setuptools-wasm: ship C kernels as WebAssembly inside an ordinary wheel.

Declare :class:`WasmExtension` objects in ``ext_modules`` (or ``[[tool.wasm-ext.modules]]``
in ``pyproject.toml``); ``pip wheel .`` compiles each to a wasm32-wasi reactor module,
optimizes it with wasm-opt, precompiles it with wasmtime and generates a typed stub.
"""

from pathlib import Path

from .extension import WasmExtension

__version__ = "0.1.0"

INCLUDE_DIR = str(Path(__file__).resolve().parent / "include")
"""Directory holding ``wasm_ext.h`` (the ``WASM_EXPORT`` macro); always on the include path."""

__all__ = ["INCLUDE_DIR", "WasmExtension", "__version__"]
