"""The exceptions of kernel calls; each names the kernel function."""

from __future__ import annotations


class KernelError(RuntimeError):
    """The wasm module could not be loaded or instantiated."""


class KernelTrap(RuntimeError):
    """A kernel trapped (unreachable, out-of-bounds access, division by zero, ...).

    The instance that trapped is discarded; the next call gets a fresh one.
    """

    def __init__(self, function: str, trap_code: str | None, message: str) -> None:
        self.function = function
        self.trap_code = trap_code
        super().__init__(f"{function}: wasm trap ({trap_code or 'unknown'}): {message}")


class KernelTimeout(KernelTrap):
    """A sandboxed kernel ran past its timeout and was interrupted.

    A subclass of :class:`KernelTrap` (it is one: an epoch interruption), so code that
    already handles traps handles it; the sandbox's instance is replaced as after any trap.
    """

    def __init__(self, function: str, timeout: float) -> None:
        self.timeout = timeout
        RuntimeError.__init__(self, f"{function}: interrupted after the {timeout:g} s timeout")
        self.function = function
        self.trap_code = "interrupt"
