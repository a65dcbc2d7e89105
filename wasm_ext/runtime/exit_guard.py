"""At interpreter exit, the wasmtime objects the runtime made stay alive: none is finalized.

Free-threaded CPython 3.13 can clear wasmtime-py's modules before the last reference to one
of its objects goes (a Store reached from a ``KernelTimeout`` kept in a global, say); the
object's ``Managed.__del__`` then finds wasmtime-py's ``ffi`` gone and prints ``Exception
ignored in: Managed.__del__ ... 'NoneType' object has no attribute 'wasmtime_store_delete'``.
An exit handler, which runs before modules are torn down, takes one more reference to each
object still alive, so none is freed late; its native memory goes with the process, as it
would anyway.
"""

from __future__ import annotations

import atexit
import weakref
from _thread import allocate_lock

_live: weakref.WeakSet[object] = weakref.WeakSet()
_lock = allocate_lock()
_registered = False


def keep(obj: object) -> None:
    """Never finalize *obj* (a wasmtime-py object) at interpreter exit."""
    global _registered
    if not _registered:
        with _lock:
            if not _registered:
                atexit.register(_keep_all)
                _registered = True
    _live.add(obj)


def _keep_all() -> None:
    try:
        import ctypes

        incref = ctypes.PYFUNCTYPE(None, ctypes.py_object)(("Py_IncRef", ctypes.pythonapi))
    except (ImportError, AttributeError):  # pragma: no cover - not CPython: no such teardown
        return
    for obj in list(_live):
        incref(obj)
