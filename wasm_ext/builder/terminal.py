"""Warnings the user must see even when pip hides the build's output.

pip runs build backends with stdout and stderr captured (stderr merged into stdout) and
shows them only with ``-v`` or when the build fails (pip/_internal/utils/subprocess.py
``call_subprocess``): a logging warning or ``warnings.warn`` never reaches the screen. The
controlling terminal is the one channel pip does not capture, so a warning is also written
to ``/dev/tty`` when stderr is not already a terminal. Without a terminal (CI, Windows) the
log line and the manifest (``toolchain.wasm_opt`` is null) are what is left;
``wasm-ext check --require-optimized`` turns that into a failure.
"""

from __future__ import annotations

import os
import sys

TTY = "/dev/tty"


def warn(message: str) -> bool:
    """Write *message* to the controlling terminal if stderr is not one; True if it was written."""
    if os.name != "posix" or os.environ.get("WASM_EXT_NO_TTY", "") not in ("", "0"):
        return False
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return False  # the log line already reached the terminal
    except (AttributeError, ValueError):
        pass
    try:
        with open(TTY, "w", encoding="utf-8") as tty:
            tty.write(f"WARNING (setuptools-wasm): {message}\n")
    except OSError:  # no controlling terminal
        return False
    return True
