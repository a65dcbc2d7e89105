"""The exceptions of kernel calls; each names the kernel function.

Each pickles with its type, message and fields (``__reduce__`` passes the constructor's
own arguments: ``BaseException`` pickling would pass the formatted message alone), so a
trap in a process-pool worker reaches the parent as itself.
"""

from __future__ import annotations


class KernelError(RuntimeError):
    """The wasm module could not be loaded or instantiated."""


class LibraryError(KernelError):
    """A C function reported an error by its declared convention (its result said so).

    Each stub subclasses it as its own ``Error``; ``function`` is the C function,
    ``code`` the value it returned, ``detail`` the library's message for it (or ``None``).
    """

    def __init__(self, function: str, code: int, detail: str | None = None) -> None:
        self.function = function
        self.code = code
        self.detail = detail
        super().__init__(f"{function}() failed: {detail or 'error'} (returned {code})")

    def __reduce__(self) -> tuple[object, ...]:
        return type(self), (self.function, self.code, self.detail), self.__dict__


class KernelTrap(RuntimeError):
    """A kernel trapped (unreachable, out-of-bounds access, division by zero, ...).

    The instance that trapped is discarded; the next call gets a fresh one.
    """

    function: str
    trap_code: str | None  # wasmtime's trap code in lower case ("unreachable", "interrupt", ...)
    detail: str

    def __init__(self, function: str, trap_code: str | None, message: str) -> None:
        self.function = function
        self.trap_code = trap_code
        self.detail = message
        super().__init__(f"{function}: wasm trap ({trap_code or 'unknown'}): {message}")

    def __reduce__(self) -> tuple[object, ...]:
        return type(self), (self.function, self.trap_code, self.detail), self.__dict__


class KernelTimeout(KernelTrap):
    """A sandboxed kernel ran past its timeout and was interrupted.

    A subclass of :class:`KernelTrap` (it is one: an epoch interruption), so code that
    already handles traps handles it; the sandbox's instance is replaced as after any trap.
    """

    timeout: float

    def __init__(self, function: str, timeout: float) -> None:
        self.timeout = timeout
        RuntimeError.__init__(self, f"{function}: interrupted after the {timeout:g} s timeout")
        self.function = function
        self.trap_code: str | None = "interrupt"  # declared as in KernelTrap: no ambiguous override
        self.detail: str = str(self)

    def __reduce__(self) -> tuple[object, ...]:
        return type(self), (self.function, self.timeout), self.__dict__


def not_picklable(what: str, instead: str = "") -> TypeError:
    """The error for pickling an object that lives in this process's wasm instances only."""
    return TypeError(
        f"cannot pickle {what}: it lives in a wasm instance of this process and means nothing in another; "
        + (
            instead
            or "pass the module-level kernel functions and plain data between processes, and make sandboxes "
            "where they are used (e.g. in a process pool's initializer)"
        )
    )


# How engines without wasm SIMD refuse a module that uses it: wasmtime with SIMD disabled
# ("SIMD support is not enabled"; a precompiled artifact: "... feature `simd` but it is not
# enabled for the host"), V8 on an x86 CPU without SSE4.1 ("Wasm SIMD unsupported").
_NO_SIMD = ("not enabled", "unsupported", "not supported")


def compile_error(name: str, what: str, engine_message: str) -> KernelError:
    """The error for a module the engine refused to compile; where it lacks wasm SIMD, say so and how to fix it."""
    lowered = engine_message.lower()
    if "simd" in lowered and any(s in lowered for s in _NO_SIMD):
        return KernelError(
            f"{name}: cannot compile {what}: the module needs WebAssembly SIMD (simd128), which this engine does "
            f"not support ({engine_message.strip()}). Rebuild it with simd=False (the default: WasmExtension(simd=False), "
            "or simd = false in [[tool.wasm-ext.modules]]); the memchr, memcmp and strlen the plugin links in "
            "use SIMD even then: a module that calls them also needs its own definitions of them. Or run it where wasm "
            "SIMD is available: wasmtime on x86_64 and aarch64, V8 (Chrome, Node) on x86 CPUs with SSE4.1, "
            "Firefox, Safari 16.4+"
        )
    return KernelError(f"{name}: cannot compile {what}: {engine_message}")
