"""C++ sources: which files are C++, the flags their options make, and what their errors mean.

A module with any C++ source is compiled per language (C sources to objects with the C
driver, C++ sources with the C++ driver, ``-std=c++NN`` and, unless asked for,
``-fno-exceptions -fno-rtti``) and linked by the C++ driver, which links the
toolchain's libc++ and libc++abi. A module of C sources only is built exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from .. import INCLUDE_DIR
from ..extension import CXX_SUFFIXES  # case-sensitive, as gcc and clang read them: ".C" is C++, ".c" is C

# Linked into C++ modules built with wasi=False: libc++'s abort message without stderr (see the file).
QUIET_ABORT_SOURCE = Path(INCLUDE_DIR) / "wasm_ext_cxx.cpp"


def is_cxx(source: str | Path) -> bool:
    """Whether *source* is a C++ file, by its suffix (:data:`CXX_SUFFIXES`)."""
    return Path(source).suffix in CXX_SUFFIXES


def language(source: str | Path) -> str:
    """``"c++"`` for a C++ source, ``"c"`` for anything else (clang's ``-x`` names)."""
    return "c++" if is_cxx(source) else "c"


def any_cxx(sources: Iterable[str | Path]) -> bool:
    return any(is_cxx(s) for s in sources)


def flags(std: int, exceptions: bool, rtti: bool) -> tuple[str, ...]:
    """The flags the C++ options make, for the compile and the AST dump alike."""
    return (
        f"-std=c++{std}",
        "-fexceptions" if exceptions else "-fno-exceptions",
        "-frtti" if rtti else "-fno-rtti",
    )


_EXCEPTIONS_OFF = re.compile(r"cannot use '(throw|try)' with exceptions disabled")
_RTTI_OFF = re.compile(
    r"(use of (typeid|dynamic_cast) requires -frtti|cannot use (typeid|dynamic_cast) with -fno-rtti)"
)
_NO_EH_RUNTIME = re.compile(
    r"undefined symbol: (__cxa_throw|__cxa_allocate_exception|__cxa_begin_catch|__cpp_exception)"
)

EXCEPTIONS_UNSUPPORTED = (
    "zig's libc++ and libc++abi for wasm32-wasi are built with -fno-exceptions (zig: \"WASI doesn't "
    'support exceptions yet"): they define no __cxa_throw, no __cpp_exception tag and no unwinder, so code '
    "compiled with exceptions fails to link"
)


def explain(message: str, *, exceptions: bool, rtti: bool, toolchain: str) -> str:
    """*message* (a compiler's failure) with what the C++ options have to do with it, if anything."""
    hints = []
    if not exceptions and _EXCEPTIONS_OFF.search(message):
        hints.append(
            "C++ exceptions are off (cxx_exceptions=False, the default): report errors through return "
            'values instead (the stub can raise for you: functions.NAME.return = "error if < 0"), or build '
            "the code with -fno-exceptions in mind (std containers then abort on failure)"
            + (
                ""
                if toolchain != "ziglang"
                else f"; cxx_exceptions=True cannot help with zig: {EXCEPTIONS_UNSUPPORTED}"
            )
        )
    if not rtti and _RTTI_OFF.search(message):
        hints.append("RTTI is off (cxx_rtti=False, the default): pass cxx_rtti=True to use typeid and dynamic_cast")
    if _NO_EH_RUNTIME.search(message):
        hints.append(
            "the toolchain's libc++abi has no exception support for wasm32-wasi: compile without exceptions "
            "(cxx_exceptions=False, the default)"
        )
    if not hints:
        return message
    return message + "\n" + "\n".join(f"hint: {h}" for h in hints)
