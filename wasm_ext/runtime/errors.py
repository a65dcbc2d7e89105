"""Exceptions a kernel call can raise; each names the kernel function."""

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
