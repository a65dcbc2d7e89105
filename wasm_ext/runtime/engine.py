"""What the loader asks of an engine: the protocol ``wasmtime_engine`` and ``js_engine`` implement.

An engine loads a module's files into something it can instantiate (choosing among
precompiled artifacts, caches and the portable ``.wasm`` as it sees fit), makes one
:class:`~.instance.Native` instance per thread, and enforces a sandbox's limits. The loader
knows engines only through this protocol, and engines never import the loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Protocol

if TYPE_CHECKING:
    from .instance import Native, Owner
    from .layout import ModuleFiles
    from .sandbox import Limits


class Loaded(NamedTuple):
    """A module an engine has loaded, and where it came from."""

    module: Any  # the engine's own object (wasmtime.Module, or a js_engine.JsModule)
    loaded_from: str  # "precompiled", "cache" or "wasm"
    initial_memory: int  # bytes of linear memory at instantiation


class Engine(Protocol):
    def load(self, files: ModuleFiles, name: str) -> Loaded:
        """Load the module of *files* (*name*, the stub's module name, is for messages)."""

    def instantiate(self, loaded: Loaded, owner: Owner, *, wasi: bool, limits: Limits | None) -> Native:
        """A new instance for the calling thread; ``KernelError`` when the module cannot be instantiated."""

    def enforce(self, limits: Limits, owner: object) -> Callable[[], None]:
        """Start what *limits* need for as long as *owner* lives (a timer); return what stops it."""
