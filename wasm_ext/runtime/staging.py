"""Moving buffer arguments in and out of a kernel's linear memory, whatever the engine.

Both engines (wasmtime on CPython, the JavaScript engine under Pyodide) subclass
:class:`Staging` and supply the engine-specific parts: making a :class:`Binding`, the
size of linear memory, and the byte copies. Allocation policy lives here once: small
buffers share a per-instance scratch area, larger ones get their own ``malloc`` and are
always freed, and every address the module hands back is range-checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import KernelError, KernelTrap
from .memory import WasmBuffer

if TYPE_CHECKING:
    from .fastcall import Binding
    from .loader import KernelModule

SCRATCH_BYTES = 64 * 1024  # per instance; larger buffer arguments get their own malloc
MAX_ALLOCATION = (1 << 32) - (1 << 16)  # 4 GiB of wasm32 memory, less one page


class Staging:
    """One thread's instance of a module, seen from the buffer-marshalling side."""

    owner: KernelModule
    dead: bool
    exports: Any  # the export names this instance has (``in`` works on it)
    _bindings: dict[str, Binding]
    _scratch: int
    _scratch_used: int

    def __init__(self, owner: KernelModule) -> None:
        self.owner = owner
        self.dead = False
        self._scratch = 0  # a scratch area for small buffer arguments: no malloc/free per call
        self._scratch_used = 0

    # -- what each engine supplies ---------------------------------------------------------

    def binding(self, export: str) -> Binding:
        raise NotImplementedError

    def memory_size(self, end: int) -> int:
        """The size of linear memory (engines may answer from a cache while *end* fits)."""
        raise NotImplementedError

    def copy_in(self, address: int, source: Any, nbytes: int) -> None:
        raise NotImplementedError

    def copy_out(self, target: Any, address: int, nbytes: int) -> None:
        raise NotImplementedError

    def read(self, address: int, nbytes: int) -> bytes:
        raise NotImplementedError

    def view(self, address: int, nbytes: int) -> memoryview:
        raise NotImplementedError

    # -- shared policy -----------------------------------------------------------------------

    def _call_allocator(self, export: str, value: int, function: str) -> int:
        b = self.binding(export)
        b.u32[0] = value
        error = b.call()
        if error or b.trap[0] or b.pending is not None:
            self.owner.fail(function, b, error)
        return int(b.u32[0])

    def malloc(self, nbytes: int, function: str) -> int:
        if "malloc" not in self.exports:
            raise KernelError(f"{self.owner.name}: the wasm module exports no malloc (it has no buffer parameters)")
        # Near 4 GiB some libc mallocs overflow their size arithmetic and hand back a small
        # block, so such requests never reach malloc, and every result is checked.
        if nbytes > MAX_ALLOCATION:
            raise MemoryError(f"{function}(): the wasm module could not allocate {nbytes} bytes (wasm32 limit)")
        address = self._call_allocator("malloc", max(nbytes, 1), function)
        if address == 0:
            raise MemoryError(f"{function}(): the wasm module could not allocate {nbytes} bytes")
        if address + nbytes > 1 << 32:
            self.free(address)
            raise MemoryError(f"{function}(): malloc returned a block that cannot hold {nbytes} bytes")
        return address

    def free(self, address: int) -> None:
        if not self.dead:
            self._call_allocator("free", address, "free")

    def write(self, address: int, data: Any, function: str) -> None:
        """Copy bytes-like *data* to *address* (range-checked)."""
        source = memoryview(data).cast("B")
        self._check_range(address, source.nbytes, function)
        if source.nbytes:
            self.copy_in(address, source, source.nbytes)

    def _check_range(self, address: int, nbytes: int, function: str) -> None:
        if address + nbytes > self.memory_size(address + nbytes):
            raise KernelTrap(function, "memory_out_of_bounds", f"buffer {address}+{nbytes} lies outside memory")

    def stage(self, source: Any, nbytes: int, function: str) -> int:
        """Copy *source* into linear memory (scratch area or a fresh allocation); return its address."""
        if isinstance(source, WasmBuffer):
            if source.check(function) is not self:
                raise ValueError(f"{function}(): the WasmBuffer belongs to another module")
            return source.address
        padded = (nbytes + 15) & ~15
        if self._scratch_used + padded <= SCRATCH_BYTES:
            if not self._scratch:
                self._scratch = self.malloc(SCRATCH_BYTES, function)
            address = self._scratch + self._scratch_used
            self._scratch_used += padded
        else:
            address = self.malloc(nbytes, function)
        self._check_range(address, nbytes, function)
        if nbytes:
            self.copy_in(address, source, nbytes)
        return address

    def unstage(self, target: Any, address: int, nbytes: int, function: str) -> None:
        """Copy a written buffer back out of linear memory (no-op for a WasmBuffer)."""
        if isinstance(target, WasmBuffer) or not nbytes:
            return
        self._check_range(address, nbytes, function)
        self.copy_out(target, address, nbytes)

    def release(self, source: Any, address: int) -> None:
        """End of a call: give back what :meth:`stage` took for *source*."""
        if not address or self.dead or isinstance(source, WasmBuffer):
            return
        if self._scratch <= address < self._scratch + SCRATCH_BYTES:
            self._scratch_used = 0  # calls do not nest: the whole scratch area is free again
        else:
            self.free(address)
