"""The size gate on the shipped ``.wasm``: one rule and one message, for the build and ``wasm-ext check``."""

from __future__ import annotations

from ..errors import SizeLimitError

SHRINK_HINT = "Shrink the kernel (opt_level='Os' or 'Oz', fewer libc calls) or raise max_size."


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.2f} MiB"


def over_limit(size: int, limit: int | None) -> str | None:
    """What is wrong when a module of *size* bytes is over *limit*; ``None`` when it fits."""
    if limit is None or size <= limit:
        return None
    return (
        f"the wasm module is {size} bytes ({format_size(size)}), over its "
        f"max_size of {limit} bytes ({format_size(limit)}) by {size - limit} bytes"
    )


def check_size(module: str, size: int, limit: int | None) -> None:
    """The build's gate: :class:`SizeLimitError` when the module is over its limit."""
    problem = over_limit(size, limit)
    if problem is not None:
        raise SizeLimitError(f"{module}: {problem}. {SHRINK_HINT}")
