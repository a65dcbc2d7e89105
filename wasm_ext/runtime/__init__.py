"""The run-time wing: what every built package carries, as ``<package>/_wasm_ext_runtime``.

It needs nothing but ``wasmtime`` (imported on the first kernel call, never at import),
or, under Pyodide, the JavaScript engine (``js_engine.py``); it never imports the build
side. The build copies this whole directory next to each generated stub, so a stub and
the runtime it was generated for always match (``stubapi.require`` checks it).

    stubapi          all a stub imports; RUNTIME_VERSION
    loader           KernelModule: picks the engine, one instance per thread, sandboxes
    engine           the protocol an engine implements
    wasmtime_engine  everything that touches wasmtime
    js_engine        the JavaScript engine under Pyodide
    instance         one thread's instance: bindings, buffer staging
    binding          the raw-slot protocol between stubs and engines
    arguments        argument checks the stubs call
    buffer           WasmBuffer
    sandbox          a sandbox's limits, checked
    manifest         the build's record of a module (the build <-> runtime contract)
    layout           the name of every file a build writes
    module_cache     the per-user cache of modules compiled at run time
    trust            whether a cache directory and its files could only be the user's
    exceptions, units, paths
"""

from .stubapi import RUNTIME_VERSION, KernelError, KernelModule, KernelTimeout, KernelTrap, WasmBuffer

__all__ = ["RUNTIME_VERSION", "KernelError", "KernelModule", "KernelTimeout", "KernelTrap", "WasmBuffer"]
