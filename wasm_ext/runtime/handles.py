"""Opaque handles: C objects that live inside one instance of a module, as Python objects.

A stub makes one class per handle type (``class lib_state(Handle)``). A handle belongs
to the instance whose kernel returned it: that is one thread's instance of one module or
sandbox, and after a trap it is replaced. The stub checks at every call that the handle
is of the right class, open, and of the calling thread's current instance, so a handle
can never reach another instance's memory or a block already freed.

The destroy function (declared, e.g. ``destroy = "lib_free"``) runs exactly once: on
:meth:`Handle.close`, on leaving a ``with`` block, when the stub's own destroy function
is called, or when the handle is garbage collected. A collection in another thread than
the owner's cannot call into the owner's instance (an instance is one thread's): the
block is freed by the owner thread at its next handle operation. Nothing runs at
interpreter exit, after a fork, or for an instance that is dead: its memory is gone.
"""

from __future__ import annotations

import os
import weakref
from _thread import get_ident  # threading.get_ident, without importing threading

from .exceptions import KernelError, not_picklable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    from .instance import Instance

    H = TypeVar("H", bound="Handle")


class Handle:
    """One C object inside a kernel module's memory, made by the kernels that return one."""

    __slots__ = ("__weakref__", "_address", "_finalizer", "_instance", "_owner")
    _destroy: ClassVar[str] = ""  # the export that frees one ("" for none)
    _address: int  # 0 once closed
    _instance: Instance
    _owner: int  # the thread that made it
    _finalizer: weakref.finalize[Any, Any] | None

    def __init__(self) -> None:
        raise TypeError(f"{type(self).__name__} objects are made by the kernels that return them")

    def __reduce__(self) -> tuple[object, ...]:
        raise not_picklable(f"a {type(self).__name__} handle", "it lives inside one instance of the module")

    def __repr__(self) -> str:
        state = "closed" if not self._address else f"at {self._address:#x}"
        return f"<{type(self).__name__} handle {state}>"

    @property
    def closed(self) -> bool:
        return not self._address

    def close(self) -> None:
        """Free the C object (idempotent); only the thread that made it may."""
        if not self._address:
            return
        if self._owner != get_ident():
            raise ValueError(f"{type(self).__name__}.close(): a handle can only be used by the thread that made it")
        self._address = 0
        if self._finalizer is not None:
            self._finalizer()  # runs the destroy function once, whichever comes first

    def __enter__(self: H) -> H:  # noqa: PYI019 - no typing_extensions (Self) at run time
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wrap_handle(cls: type[H], instance: Instance, address: int, function: str = "") -> H | None:
    """A new handle of *cls* for *address* in *instance*: ``None`` for NULL, or with *function* (a call
    whose error convention said it succeeded) a :class:`KernelError` naming it."""
    instance.run_deferred()
    if not address:
        if function:
            raise KernelError(f"{function}(): the call succeeded but gave no {cls.__name__} (NULL)")
        return None
    handle = object.__new__(cls)
    handle._address = address
    handle._instance = instance
    handle._owner = get_ident()
    handle._finalizer = None
    if cls._destroy:
        finalizer = weakref.finalize(handle, _destroy, instance, cls._destroy, address, handle._owner, os.getpid())
        settable: Any = finalizer  # typeshed's finalize for Python 3.9 lists no atexit attribute
        settable.atexit = False  # nothing runs at interpreter exit: the instances go with the process
        handle._finalizer = finalizer
    return handle


def _destroy(instance: Instance, export: str, address: int, owner: int, pid: int) -> None:
    if instance.dead or pid != os.getpid():
        return
    if get_ident() != owner:
        instance.defer(export, address)  # collected in another thread: the owner frees it
        return
    instance.call_u32(export, address, export)


def disown(handle: Handle) -> None:
    """*handle* was taken over by the C function it was passed to (declared "own"): closed, never freed here."""
    if handle._finalizer is not None:
        handle._finalizer.detach()
    handle._address = 0


def check_handle(value: Any, cls: type[Handle], instance: Instance, function: str, name: str) -> None:
    """Raise the error that says why *value* cannot be passed as *name* to *function* in *instance*."""
    if not isinstance(value, cls):
        raise TypeError(f"{function}(): {name} must be a {cls.__name__} handle, not {type(value).__name__}")
    if not value._address:
        raise ValueError(f"{function}(): the {cls.__name__} handle {name} is closed")
    if value._owner != get_ident():
        raise ValueError(f"{function}(): {name} was made by another thread; a handle can only be used by its own")
    if value._instance.dead:
        raise ValueError(
            f"{function}(): {name} belongs to an instance that was reset after a trap (or closed); make a new one"
        )
    if value._instance is not instance:
        raise ValueError(f"{function}(): {name} belongs to another instance of the module (another sandbox)")
