"""The size gate: a shipped module over its ``max_size`` fails the build."""

from __future__ import annotations

from ..errors import SizeLimitError


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.2f} MiB"


def check_size(module: str, size: int, limit: int | None) -> None:
    if limit is not None and size > limit:
        raise SizeLimitError(
            f"{module}: the wasm module is {size} bytes ({format_size(size)}), over its "
            f"max_size of {limit} bytes ({format_size(limit)}) by {size - limit} bytes. "
            "Shrink the kernel (opt_level='Os' or 'Oz', fewer libc calls) or raise max_size."
        )
