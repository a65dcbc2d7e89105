"""What a sandbox may do: the limits ``kernels.sandbox(...)`` asks for, checked into one value.

A sandbox is a ``KernelModule`` of its own over the same ``.wasm`` (own instances, so its
own linear memory), made with a :class:`Limits`; the engine turns the limits into its own
settings (``wasmtime_engine``: an epoch-interruption engine and a deadline per call for
``timeout``, store limits for ``max_memory``, a ``WasiConfig`` of only what is granted).
Under Pyodide there is no sandbox (``KernelError``: nothing can interrupt or cap a
WebAssembly instance from Python there).

- ``timeout``: seconds per call; a runaway call raises ``KernelTimeout``.
- ``max_memory``: a cap on linear memory; ``malloc`` returns NULL past it, a buffer
  argument that does not fit raises ``MemoryError``.
- ``wasi``: for modules built with ``wasi=True``, the capabilities granted (stdio, argv,
  env, preopened directories); by default nothing, as for module-level calls.

After a trap, a timeout or a failed allocation the calling thread's instance is
replaced, so a kernel never continues from the state a hostile input left behind.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, TypedDict

from .units import SizeSpec, parse_size

WASI_GRANTS = frozenset({"stdin", "stdout", "stderr", "argv", "env", "preopens", "read_only"})


class WasiGrants(TypedDict, total=False):
    """What a sandbox grants a module built with ``wasi=True``; every key is optional.

    ``stdin``/``stdout``/``stderr``: share the process's stream (else closed); ``argv``,
    ``env``: what the module sees; ``preopens``: ``{guest path: host directory}``, the only
    files it can reach; ``read_only``: preopened directories cannot be written.
    """

    stdin: bool
    stdout: bool
    stderr: bool
    argv: list[str]
    env: dict[str, str]
    preopens: dict[str, str | os.PathLike[str]]
    read_only: bool


class Limits(NamedTuple):
    """A sandbox's limits, checked: what the engine is asked to enforce."""

    timeout: float | None = None  # seconds per call
    max_memory: int | None = None  # bytes of linear memory
    wasi: Mapping[str, Any] = MappingProxyType({})  # granted capabilities; preopens resolved

    @classmethod
    def checked(
        cls,
        module: str,
        *,
        wasi_module: bool,
        timeout: object = None,
        max_memory: SizeSpec = None,
        wasi: WasiGrants | Mapping[str, Any] | None = None,
    ) -> Limits:
        """The limits ``sandbox()`` was given, or ``TypeError``/``ValueError`` saying what is wrong."""
        seconds = _check_timeout(timeout)
        try:
            memory = parse_size(max_memory, what="sandbox(): max_memory")
        except TypeError:
            raise TypeError(
                f"sandbox(): max_memory must be a byte count or a string like '64MiB', not {max_memory!r}"
            ) from None
        return cls(seconds, memory, _check_wasi(module, wasi_module, wasi))


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"sandbox(): timeout must be a number of seconds, not {type(timeout).__name__}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"sandbox(): timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def _check_wasi(module: str, wasi_module: bool, wasi: WasiGrants | Mapping[str, Any] | None) -> dict[str, Any]:
    if wasi is None:
        return {}
    if not isinstance(wasi, Mapping):
        raise TypeError(f"sandbox(): wasi must be a dict of grants, not {type(wasi).__name__}")
    if not wasi_module:
        raise ValueError(f"sandbox(): {module} was built without wasi=True: it imports no WASI to grant")
    unknown = sorted(set(wasi) - WASI_GRANTS)
    if unknown:
        raise ValueError(f"sandbox(): unknown WASI grant(s) {unknown}; known: {sorted(WASI_GRANTS)}")
    grants = dict(wasi)
    for key in ("stdin", "stdout", "stderr", "read_only"):
        if not isinstance(grants.get(key, False), bool):
            raise TypeError(f"sandbox(): wasi[{key!r}] must be True or False")
    argv = grants.get("argv", [])
    if not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv):
        raise TypeError("sandbox(): wasi['argv'] must be a list of str")
    env = grants.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise TypeError("sandbox(): wasi['env'] must be a dict of str to str")
    preopens = grants.get("preopens", {})
    if not isinstance(preopens, Mapping):
        raise TypeError("sandbox(): wasi['preopens'] must be a dict {guest path: host directory}")
    resolved = {}
    for guest, host in preopens.items():
        if not isinstance(guest, str) or not isinstance(host, (str, os.PathLike)):
            raise TypeError("sandbox(): wasi['preopens'] must map str guest paths to host directories")
        host_dir = Path(host).resolve()
        if not host_dir.is_dir():
            raise ValueError(f"sandbox(): wasi['preopens'][{guest!r}]: {host_dir} is not a directory")
        resolved[guest] = str(host_dir)
    grants["preopens"] = resolved
    return grants
