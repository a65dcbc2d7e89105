"""Buffers that live inside a kernel's linear memory, for calls without copying."""

from __future__ import annotations

from _thread import get_ident  # threading.get_ident, without importing threading

from .exceptions import not_picklable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import sys
    from typing import Any, Protocol

    # what a buffer parameter takes (PEP 688), with no typing_extensions in a built package
    if sys.version_info >= (3, 12):
        from collections.abc import Buffer as Buffer  # noqa: PLC0414 - re-exported through stubapi
    else:

        class Buffer(Protocol):
            """An object with the buffer protocol: bytes, bytearray, memoryview, array, numpy arrays..."""

            def __buffer__(self, flags: int, /) -> memoryview: ...

    class _Memory(Protocol):
        """What a buffer needs of the instance it lives in (an :class:`~.instance.Instance`)."""

        dead: bool

        def memory_size(self, end: int) -> int: ...
        def view(self, address: int, nbytes: int) -> memoryview: ...
        def read(self, address: int, nbytes: int) -> bytes: ...
        def write(self, address: int, data: Any, function: str) -> None: ...
        def free(self, address: int) -> None: ...


class WasmBuffer:
    """``nbytes`` bytes allocated with the module's ``malloc``, owned by the calling thread.

    Pass it wherever a kernel takes a buffer: the kernel works on it in place, with no
    copy in or out. Read and write it through :meth:`view` (a fresh memoryview each time:
    a view goes stale when the kernel grows its memory) or :meth:`read`/:meth:`write`.
    It belongs to one thread's instance; after a trap that instance is replaced and the
    buffer becomes invalid. Free it with :meth:`free` or a ``with`` block.
    """

    __slots__ = ("_instance", "_owner", "address", "nbytes")
    address: int  # where it starts in the module's memory (0 once freed)
    nbytes: int

    def __init__(self, instance: _Memory, address: int, nbytes: int) -> None:
        self._instance = instance
        self._owner = get_ident()
        self.address = address
        self.nbytes = nbytes

    def __init_subclass__(cls, **kwargs: object) -> None:
        # stubs recognise a WasmBuffer by its exact class on the hot path (a subclass would be
        # taken for a bytes-like object), and it wraps one module's memory: nothing to extend
        raise TypeError("WasmBuffer cannot be subclassed: get one from the module's alloc()")

    def __len__(self) -> int:
        return self.nbytes

    def __reduce__(self) -> tuple[object, ...]:
        raise not_picklable(
            f"a WasmBuffer ({self.nbytes} bytes)",
            "pickle its contents (buffer.read()) and write them into a buffer allocated where they are used",
        )

    def __repr__(self) -> str:
        state = "freed" if self.address == 0 else f"at {self.address:#x}"
        return f"<WasmBuffer {self.nbytes} bytes {state}>"

    def check(self, function: str) -> _Memory:
        """The instance that owns this buffer, if the calling thread may use it now."""
        if self.address == 0:
            raise ValueError(f"{function}(): the WasmBuffer was freed")
        if self._owner != get_ident():
            raise ValueError(f"{function}(): a WasmBuffer can only be used by the thread that allocated it")
        if self._instance.dead:
            raise ValueError(f"{function}(): the WasmBuffer's instance was reset after a trap; allocate a new one")
        return self._instance

    def view(self, format: str = "B") -> memoryview[Any]:
        """A writable memoryview of the buffer (cast to *format*), valid until memory grows.

        Only with wasmtime: under Pyodide linear memory lives in a JavaScript ArrayBuffer
        that Python cannot view; use :meth:`read` and :meth:`write` there.
        """
        instance = self.check("WasmBuffer.view")
        if self.address + self.nbytes > instance.memory_size(self.address + self.nbytes):
            raise ValueError("WasmBuffer.view(): the buffer lies outside linear memory")
        flat: Any = instance.view(self.address, self.nbytes)
        view: memoryview[Any] = flat.cast(format)
        return view

    def read(self) -> bytes:
        """A copy of the buffer's bytes."""
        return bytes(self.check("WasmBuffer.read").read(self.address, self.nbytes))

    def write(self, data: Any, offset: int = 0) -> None:
        """Copy bytes-like *data* into the buffer at *offset*."""
        source = memoryview(data).cast("B")
        if offset < 0 or offset + source.nbytes > self.nbytes:
            raise ValueError(
                f"WasmBuffer.write(): {source.nbytes} bytes at offset {offset} do not fit in {self.nbytes}"
            )
        self.check("WasmBuffer.write").write(self.address + offset, source, "WasmBuffer.write")

    def free(self) -> None:
        """Give the memory back to the module (idempotent; only the owning thread may)."""
        if not self.address:
            return
        if self._owner != get_ident():
            raise ValueError("WasmBuffer.free(): a WasmBuffer can only be used by the thread that allocated it")
        if not self._instance.dead:
            self._instance.free(self.address)
        self.address = 0

    def __enter__(self) -> WasmBuffer:  # noqa: PYI034 - no typing_extensions at run time
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()
