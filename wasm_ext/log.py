"""The build's logging: ``logging.getLogger(__name__)`` per module, with one prefix for all.

setuptools routes the standard ``logging`` tree to its output (``pip wheel -v`` shows
INFO), so every message here reaches the user through setuptools' logger, and each one
starts with ``wasm-ext:`` so it is clear which tool is speaking among pip's lines.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

PREFIX = "wasm-ext: "

if TYPE_CHECKING:
    Logger = logging.LoggerAdapter[logging.Logger]
else:  # LoggerAdapter is subscriptable only from Python 3.11
    Logger = logging.LoggerAdapter


class _Prefixed(Logger):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return f"{PREFIX}{msg}", kwargs


def get_logger(name: str) -> Logger:
    """The logger of module *name* (a child of ``wasm_ext``), prefixing every message."""
    return _Prefixed(logging.getLogger(name), {})
