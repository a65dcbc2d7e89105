"""One thread's instance of a kernel module, whatever the engine: bindings and buffer staging.

An engine (``wasmtime_engine``, ``js_engine``) supplies a :class:`Native` instance: its
exports, how to bind one, and raw access to linear memory. :class:`Instance` wraps it
with what is the same everywhere: a cache of bindings, and the staging policy for buffer
arguments. Small buffers share a per-instance scratch area, larger ones get their own
``malloc`` and are always freed, and every address the module hands back is range-checked.
Failures go to the :class:`Owner` (the stub's ``KernelModule``), which decides what they raise.
"""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Protocol

from .buffer import WasmBuffer
from .exceptions import KernelError, KernelTrap

if TYPE_CHECKING:
    from .binding import Binding

SCRATCH_BYTES = 64 * 1024  # per instance; larger buffer arguments get their own malloc
MAX_ALLOCATION = (1 << 32) - (1 << 16)  # 4 GiB of wasm32 memory, less one page
# wasi-libc's malloc (dlmalloc) grows the heap only by less than half the address space at
# a time (its sbrk increment is signed), so with it one block is always under 2 GiB; a
# module with its own malloc may do better, so the request still goes to malloc.
LIBC_MALLOC_LIMIT = "2 GiB or more: wasi-libc's malloc, the default, never hands out one block that large"


class Owner(Protocol):
    """What an instance reports to: the module it belongs to."""

    name: str
    closed: bool  # a closed sandbox: its calls must not run

    def fail(self, function: str, binding: Binding, error: int) -> NoReturn:
        """Raise for a failed call (and drop the calling thread's instance)."""

    def allocation_failed(self) -> None:
        """A ``malloc`` for a buffer returned NULL; a sandbox replaces its instance then."""


class Native(Protocol):
    """An engine's instance: exports, bindings and raw access to linear memory."""

    @property
    def exports(self) -> Container[str]:
        """The names of its exported functions."""

    def bind(self, export: str, instance: Instance) -> Binding: ...
    def memory_size(self, end: int) -> int:
        """The size of linear memory (an engine may answer from a cache while *end* fits)."""

    def copy_in(self, address: int, source: Any, nbytes: int) -> None: ...
    def copy_out(self, target: Any, address: int, nbytes: int) -> None: ...
    def read(self, address: int, nbytes: int) -> bytes: ...
    def view(self, address: int, nbytes: int) -> memoryview: ...
    def window(self, address: int, nbytes: int) -> memoryview | None:
        """A writable view of that range for the instance's life (memory never moves), or ``None``
        where Python cannot view linear memory."""


class Instance:
    """One thread's instance of a module: bindings by export, and buffers in and out of memory."""

    def __init__(self, owner: Owner, native: Native) -> None:
        self.owner = owner
        self.native = native
        self.dead = False
        self._bindings: dict[str, Binding] = {}
        # A scratch area for small buffer arguments (no malloc/free per call), used as a stack:
        # a call stages above scratch_used and puts it back when it ends. Stubs stage into it
        # inline through scratch_view while it has room below scratch_limit (0 until the area
        # and its view exist, and always 0 where an engine cannot view memory from Python).
        self.scratch = 0
        self.scratch_used = 0
        self.scratch_view: Any = None
        self.scratch_limit = 0
        self._deferred: list[tuple[str, int]] = []  # handles collected in another thread: (destroy, address)

    def binding(self, export: str, nested: bool = False) -> Binding:
        """The binding of *export*, kept; *nested*: a new one for a call inside a call (see ``Binding.busy``)."""
        found = None if nested else self._bindings.get(export)
        if found is None:
            if export not in self.native.exports:
                raise KernelError(f"{self.owner.name}: the wasm module has no function {export!r}")
            found = self.native.bind(export, self)
            if not nested:
                self._bindings[export] = found
        return found

    def close(self, refusal: str | None = None) -> None:
        """Mark the instance dead (its buffers become invalid) and drop its bindings.

        Bindings point back here, so without this the engine's objects (a wasmtime Store)
        would wait for a garbage collection. They are never freed explicitly: a call still
        running on this thread (one a signal handler interrupted) may hold a binding.
        With *refusal* (a closed sandbox, closed from any thread) every binding handed out
        raises ``KernelError(refusal)`` from then on, in whichever thread holds it.
        """
        self.dead = True
        if refusal is not None:
            for binding in self._bindings.values():
                binding.call = _refuse(refusal)
        self._bindings.clear()

    # -- allocation ------------------------------------------------------------------------

    def call_u32(self, export: str, value: int, function: str) -> int:
        """Call *export* with one 32-bit argument (an address), reading back a 32-bit result (if any)."""
        return self._call_allocator(export, value, function)

    def defer(self, export: str, address: int) -> None:
        """Call *export* (a handle's destroy function) on *address* at this thread's next :meth:`run_deferred`."""
        self._deferred.append((export, address))

    def run_deferred(self) -> None:
        """Run what :meth:`defer` kept (on the instance's own thread)."""
        while self._deferred and not self.dead:
            export, address = self._deferred.pop()
            self._call_allocator(export, address, export)

    def _call_allocator(self, export: str, value: int, function: str) -> int:
        b = self.binding(export)
        if b.busy:
            b = self.binding(export, nested=True)
        b.busy = True
        try:
            b.u32[0] = value
            error = b.call()
            if error or b.trap[0]:
                self.owner.fail(function, b, error)
            return int(b.u32[0])
        finally:
            b.busy = False

    def malloc(self, nbytes: int, function: str) -> int:
        if "malloc" not in self.native.exports:
            raise KernelError(f"{self.owner.name}: the wasm module exports no malloc (it has no buffer parameters)")
        # Near 4 GiB some libc mallocs overflow their size arithmetic and hand back a small
        # block, so such requests never reach malloc, and every result is checked.
        if nbytes > MAX_ALLOCATION:
            self.owner.allocation_failed()
            raise MemoryError(f"{function}(): the wasm module could not allocate {nbytes} bytes (wasm32 limit)")
        address = self._call_allocator("malloc", max(nbytes, 1), function)
        if address == 0:
            self.owner.allocation_failed()
            why = f" ({LIBC_MALLOC_LIMIT})" if nbytes >= 1 << 31 else ""
            raise MemoryError(f"{function}(): the wasm module could not allocate {nbytes} bytes{why}")
        if address + nbytes > 1 << 32:
            self.free(address)
            self.owner.allocation_failed()
            raise MemoryError(f"{function}(): malloc returned a block that cannot hold {nbytes} bytes")
        return address

    def free(self, address: int) -> None:
        if not self.dead:
            self._call_allocator("free", address, "free")

    # -- buffers ---------------------------------------------------------------------------
    # (the hot path calls the engine's methods through self.native: method calls on its class
    # cost less than bound methods kept on this instance)

    def memory_size(self, end: int) -> int:
        return self.native.memory_size(end)

    def view(self, address: int, nbytes: int) -> memoryview:
        return self.native.view(address, nbytes)

    def read(self, address: int, nbytes: int) -> bytes:
        return self.native.read(address, nbytes)

    def read_returned(self, address: int, nbytes: int, function: str) -> bytes:
        """*nbytes* at *address*, a pointer and length the library returned (a trap-like error outside memory)."""
        if nbytes:
            self._check_range(address, nbytes, function)
        return self.native.read(address, nbytes) if nbytes else b""

    def read_string(self, address: int, function: str) -> bytes:
        """The bytes from *address* to the first NUL (a trap-like error if memory ends first)."""
        data = b""
        chunk = 256
        while True:
            size = self.native.memory_size(address + 1)
            if address >= size:
                raise KernelTrap(function, "memory_out_of_bounds", "the returned string runs past the end of memory")
            piece = self.native.read(address, min(chunk, size - address))
            end = piece.find(b"\0")
            if end >= 0:
                return data + piece[:end]
            data += piece
            address += len(piece)
            chunk = min(chunk * 4, 1 << 20)

    def write(self, address: int, data: Any, function: str) -> None:
        """Copy bytes-like *data* to *address* (range-checked)."""
        source = memoryview(data).cast("B")
        self._check_range(address, source.nbytes, function)
        if source.nbytes:
            self.native.copy_in(address, source, source.nbytes)

    def _check_range(self, address: int, nbytes: int, function: str) -> None:
        if address + nbytes > self.native.memory_size(address + nbytes):
            raise KernelTrap(function, "memory_out_of_bounds", f"buffer {address}+{nbytes} lies outside memory")

    def stage(self, source: Any, nbytes: int, function: str) -> int:
        """Copy *source* into linear memory (scratch area or a fresh allocation); return its address."""
        if isinstance(source, WasmBuffer):
            if source.check(function) is not self:
                raise ValueError(f"{function}(): the WasmBuffer belongs to another module")
            return source.address
        padded = (nbytes + 15) & ~15  # _room(), inline: this is every buffer argument's path
        if self.scratch and self.scratch_used + padded <= SCRATCH_BYTES:
            address = self.scratch + self.scratch_used  # inside the scratch block: inside memory
            self.scratch_used += padded
        else:
            address = self._room(nbytes, function)
            self._check_range(address, nbytes, function)
        if nbytes:
            self.native.copy_in(address, source, nbytes)
        return address

    def reserve(self, nbytes: int, function: str) -> int:
        """Room for *nbytes* the kernel writes (an output buffer): as :meth:`stage`, with nothing copied in."""
        address = self._room(nbytes, function)
        self._check_range(address, nbytes, function)
        return address

    def _room(self, nbytes: int, function: str) -> int:
        """An address for *nbytes*: in the scratch area while it has room, else a fresh allocation."""
        padded = (nbytes + 15) & ~15
        if self.scratch_used + padded <= SCRATCH_BYTES:
            if not self.scratch:
                scratch = self.malloc(SCRATCH_BYTES, function)
                if self.scratch:  # a nested call made one meanwhile
                    self.free(scratch)
                else:
                    self.scratch = scratch
                    self.scratch_view = self.native.window(scratch, SCRATCH_BYTES)
                    self.scratch_limit = SCRATCH_BYTES if self.scratch_view is not None else 0
            address = self.scratch + self.scratch_used
            self.scratch_used += padded
            return address
        return self.malloc(nbytes, function)

    def unstage(self, target: Any, address: int, nbytes: int, function: str) -> None:
        """Copy a written buffer back out of linear memory (no-op for a WasmBuffer)."""
        if isinstance(target, WasmBuffer) or not nbytes:
            return
        self._check_range(address, nbytes, function)
        self.native.copy_out(target, address, nbytes)

    def release(self, source: Any, address: int) -> None:
        """End of a call: give back what :meth:`stage` took for *source*."""
        if not address or self.dead or isinstance(source, WasmBuffer):
            return
        offset = address - self.scratch
        if 0 <= offset < SCRATCH_BYTES and self.scratch:
            # A stack: a call nested in this one (from a signal handler or __del__) staged
            # above this call's buffers and is over by now; whatever lies from here up is free.
            if offset < self.scratch_used:  # noqa: PLR1730 - cheaper than calling min() on the hot path
                self.scratch_used = offset
        else:
            self.free(address)


def _refuse(message: str) -> Callable[[], int]:
    def refused() -> int:
        raise KernelError(message)

    return refused
