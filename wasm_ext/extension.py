"""``WasmExtension``: what a package author declares, validated up front.

It subclasses :class:`setuptools.Extension` so it can sit in ``ext_modules`` beside
ordinary extensions (and so sdists pick up its sources); the plugin's ``build_ext``
recognises it and builds it with the wasm pipeline instead of the host compiler.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

from setuptools import Extension

from .declarations import FunctionDecl, HandleDecl, parse_functions, parse_handles
from .errors import ConfigError
from .runtime.units import SizeSpec
from .runtime.units import parse_size as _parse_size

OPT_LEVELS = ("O0", "O1", "O2", "O3", "Os", "Oz")
CXX_STANDARDS = (11, 14, 17, 20, 23, 26)  # cxx_std, as pybind11's Pybind11Extension takes it: -std=c++NN
CXX_SUFFIXES = (".cpp", ".cc", ".cxx", ".c++", ".cp", ".CPP", ".C")  # the suffixes gcc and clang compile as C++
WasmOptSetting = Union[bool, str]  # True, False or "auto"
Macro = tuple[str, Optional[str]]

_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_size(value: SizeSpec, *, what: str = "max_size") -> int | None:
    """Turn ``65536``, ``"64KiB"``, ``"1.5MiB"`` or ``"100kB"`` into bytes (``None`` stays ``None``).

    ``K``/``M``/``G`` alone are binary (1024-based), ``kB``/``MB``/``GB`` decimal. The parser
    is the runtime's (a sandbox's ``max_memory`` reads the same way); errors become ``ConfigError``.
    """
    try:
        return _parse_size(value, what=what)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def _str_list(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"{what} must be a list of strings, got {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{what} must be a list of strings, got item {item!r}")
    return items


def _macro_list(value: object, ext_name: str) -> list[Macro]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"{ext_name}: define_macros must be a list of (name, value) pairs")
    macros: list[Macro] = []
    for item in value:
        if isinstance(item, str):  # "NAME" or "NAME=VALUE", the form pyproject.toml uses
            name, sep, val = item.partition("=")
            macros.append((name, val if sep else None))
        elif (
            isinstance(item, (tuple, list))
            and len(item) == 2
            and isinstance(item[0], str)
            and (item[1] is None or isinstance(item[1], str))
        ):
            macros.append((item[0], item[1]))
        else:
            raise ConfigError(
                f"{ext_name}: define_macros entries must be (name, value) pairs or 'NAME=VALUE' strings, got {item!r}"
            )
    for name, _ in macros:
        if not _IDENTIFIER_RE.match(name):
            raise ConfigError(f"{ext_name}: {name!r} is not a valid macro name")
    return macros


_CXX_OPTION_FLAGS = {
    "-fexceptions": "cxx_exceptions=True",
    "-fno-exceptions": "cxx_exceptions=False (the default)",
    "-fcxx-exceptions": "cxx_exceptions=True",
    "-fno-cxx-exceptions": "cxx_exceptions=False (the default)",
    "-frtti": "cxx_rtti=True",
    "-fno-rtti": "cxx_rtti=False (the default)",
}


def _check_cxx_args(ext_name: str, args: Sequence[str]) -> None:
    """What the C++ options say must not be said again in *args*: one place decides, and the cache key sees it."""
    for arg in args:
        option = _CXX_OPTION_FLAGS.get(arg)
        if option is None and re.match(r"^-std=(c|gnu)\+\+", arg):
            number = arg.rsplit("+", 1)[1]
            option = f"cxx_std={number}" if number.isdigit() else "cxx_std (a number: 11, 14, 17, 20, 23 or 26)"
        if option is not None:
            raise ConfigError(
                f"{ext_name}: extra_compile_args has {arg!r}; for C++ sources say it with the option {option} "
                "(extra_compile_args reach the C sources too)"
            )


class WasmExtension(Extension):
    """A C extension compiled to a wasm32-wasi reactor module with a typed Python stub.

    ``name`` is the dotted name of the generated stub module (``"mypkg.kernels"``); the
    built package gets ``mypkg/kernels.py`` + ``.pyi``, ``kernels.wasm``, a precompiled
    artifact for the build host and a manifest.
    """

    def __init__(
        self,
        name: str,
        sources: Sequence[str],
        *,
        include_dirs: Sequence[str] | None = None,
        define_macros: Sequence[tuple[str, str | None]] | Sequence[str] | None = None,
        undef_macros: Sequence[str] | None = None,
        extra_compile_args: Sequence[str] | None = None,
        extra_link_args: Sequence[str] | None = None,
        depends: Sequence[str] | None = None,
        exports: Sequence[str] | None = None,
        opt_level: str = "O3",
        wasm_opt: WasmOptSetting = "auto",
        precompile: bool = True,
        max_size: SizeSpec = None,
        wasi: bool = False,
        functions: Mapping[str, Mapping[str, str]] | None = None,
        handles: Mapping[str, Mapping[str, str]] | None = None,
        cxx_std: int = 17,
        cxx_exceptions: bool = False,
        cxx_rtti: bool = False,
        simd: bool = False,
    ) -> None:
        if not isinstance(name, str) or not all(_IDENTIFIER_RE.match(part) for part in name.split(".")):
            raise ConfigError(f"WasmExtension name must be a dotted module name, got {name!r}")
        source_list = _str_list(sources, f"{name}: sources")
        if not source_list:
            raise ConfigError(f"{name}: sources must name at least one C file")
        if opt_level not in OPT_LEVELS:
            raise ConfigError(f"{name}: opt_level must be one of {', '.join(OPT_LEVELS)}, got {opt_level!r}")
        if wasm_opt not in (True, False, "auto"):
            raise ConfigError(f"{name}: wasm_opt must be True, False or 'auto', got {wasm_opt!r}")
        for flag_name, flag in (
            ("precompile", precompile),
            ("wasi", wasi),
            ("cxx_exceptions", cxx_exceptions),
            ("cxx_rtti", cxx_rtti),
            ("simd", simd),
        ):
            if not isinstance(flag, bool):
                raise ConfigError(f"{name}: {flag_name} must be True or False, got {flag!r}")
        export_list = None if exports is None else _str_list(exports, f"{name}: exports")
        if export_list == []:
            raise ConfigError(f"{name}: exports is empty; name the C functions to export, or leave it out")
        for export in export_list or ():
            if "::" in export or "(" in export:
                raise ConfigError(
                    f"{name}: export {export!r} is a C++ name: only functions with C linkage can be exported; "
                    'export an extern "C" function that calls it, and name that one'
                )
            if not _IDENTIFIER_RE.match(export):
                raise ConfigError(f"{name}: export {export!r} is not a C identifier")
        if not isinstance(cxx_std, int) or isinstance(cxx_std, bool) or cxx_std not in CXX_STANDARDS:
            raise ConfigError(
                f"{name}: cxx_std must be the C++ standard as a number, one of "
                f"{', '.join(map(str, CXX_STANDARDS))} (17 means -std=c++17), got {cxx_std!r}"
            )
        compile_args = _str_list(extra_compile_args, f"{name}: extra_compile_args")
        has_cxx = any(Path(s).suffix in CXX_SUFFIXES for s in source_list)
        if has_cxx:
            _check_cxx_args(name, compile_args)

        super().__init__(
            name,
            source_list,
            include_dirs=_str_list(include_dirs, f"{name}: include_dirs"),
            define_macros=_macro_list(define_macros, name),
            undef_macros=_str_list(undef_macros, f"{name}: undef_macros"),
            extra_compile_args=compile_args,
            extra_link_args=_str_list(extra_link_args, f"{name}: extra_link_args"),
            depends=_str_list(depends, f"{name}: depends"),
            language="c++" if has_cxx else "c",
        )
        self.exports: list[str] | None = export_list
        self.opt_level: str = opt_level
        self.wasm_opt: WasmOptSetting = wasm_opt
        self.precompile: bool = precompile
        self.max_size: int | None = parse_size(max_size, what=f"{name}: max_size")
        self.wasi: bool = wasi
        # what C cannot say about some functions (see wasm_ext.declarations), and where it was said
        self.functions: tuple[FunctionDecl, ...] = parse_functions(functions, where=name)
        self.handles: tuple[HandleDecl, ...] = parse_handles(handles, where=name)
        self.declared_in: str = "WasmExtension(functions=...)"
        # for C++ sources (any of CXX_SUFFIXES): -std=c++NN, and exceptions and RTTI off unless asked
        self.cxx_std: int = cxx_std
        self.cxx_exceptions: bool = cxx_exceptions
        self.cxx_rtti: bool = cxx_rtti
        # every source compiled with wasm simd128 (-msimd128): the module then needs an engine with SIMD
        self.simd: bool = simd

    @property
    def basename(self) -> str:
        """The last part of the module name: the stem of every file built for it."""
        name: str = self.name
        return name.rpartition(".")[2]

    @property
    def package(self) -> str:
        """The package the stub module lives in (``""`` for a top-level module)."""
        name: str = self.name
        return name.rpartition(".")[0]

    def __repr__(self) -> str:
        return f"WasmExtension({self.name!r}, sources={self.sources!r})"
