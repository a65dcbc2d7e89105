"""Read ``[[tool.wasm-ext.modules]]`` from ``pyproject.toml`` into ``WasmExtension`` objects.

Validation is strict: an unknown key or a value of the wrong type is an error that names
the key, the entry and the file, so a typo never silently builds something else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError
from .extension import WasmExtension

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11
    import tomli as tomllib


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# dashed key -> (WasmExtension keyword, type check, what the check expects)
_KEYS: dict[str, tuple[str, Callable[[object], bool], str]] = {
    "name": ("name", lambda v: isinstance(v, str), "a string"),
    "sources": ("sources", _is_str_list, "a list of strings"),
    "include-dirs": ("include_dirs", _is_str_list, "a list of strings"),
    "define-macros": ("define_macros", _is_str_list, "a list of 'NAME' or 'NAME=VALUE' strings"),
    "undef-macros": ("undef_macros", _is_str_list, "a list of strings"),
    "extra-compile-args": ("extra_compile_args", _is_str_list, "a list of strings"),
    "extra-link-args": ("extra_link_args", _is_str_list, "a list of strings"),
    "depends": ("depends", _is_str_list, "a list of strings"),
    "exports": ("exports", _is_str_list, "a list of strings"),
    "opt-level": ("opt_level", lambda v: isinstance(v, str), "a string such as 'O3'"),
    "wasm-opt": ("wasm_opt", lambda v: v in (True, False, "auto"), "true, false or 'auto'"),
    "precompile": ("precompile", lambda v: isinstance(v, bool), "true or false"),
    "max-size": (
        "max_size",
        lambda v: isinstance(v, (int, str)) and not isinstance(v, bool),
        "a byte count or a string like '64KiB'",
    ),
    "wasi": ("wasi", lambda v: isinstance(v, bool), "true or false"),
    "functions": ("functions", lambda v: isinstance(v, dict), "a table of C function name -> {parameter = spec}"),
    "handles": ("handles", lambda v: isinstance(v, dict), "a table of C type name -> {destroy = 'function'}"),
    "cxx-std": (
        "cxx_std",
        lambda v: isinstance(v, int) and not isinstance(v, bool),
        "the C++ standard as a number, e.g. 17 for -std=c++17",
    ),
    "cxx-exceptions": ("cxx_exceptions", lambda v: isinstance(v, bool), "true or false"),
    "cxx-rtti": ("cxx_rtti", lambda v: isinstance(v, bool), "true or false"),
    "simd": ("simd", lambda v: isinstance(v, bool), "true or false"),
}
_TABLE_KEYS = {"modules"}


def load_pyproject(path: Path) -> dict[str, Any]:
    """Parse a ``pyproject.toml``; a syntax error becomes a :class:`ConfigError`."""
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def extensions_from_pyproject(path: Path) -> list[WasmExtension]:
    """The modules declared in ``[tool.wasm-ext]`` of *path* (``[]`` if it has none)."""
    if not path.is_file():
        return []
    table = load_pyproject(path).get("tool", {}).get("wasm-ext")
    if table is None:
        return []
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.wasm-ext] must be a table")
    for key in table:
        if key not in _TABLE_KEYS:
            raise ConfigError(
                f"{path}: unknown key {key!r} in [tool.wasm-ext] (known: {', '.join(sorted(_TABLE_KEYS))})"
            )
    modules = table.get("modules", [])
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise ConfigError(f"{path}: tool.wasm-ext.modules must be an array of tables ([[tool.wasm-ext.modules]])")
    return [_extension_from_table(path, index, entry) for index, entry in enumerate(modules)]


def _extension_from_table(path: Path, index: int, entry: dict[str, Any]) -> WasmExtension:
    where = f"{path}: [[tool.wasm-ext.modules]] entry {index + 1}"
    if "name" in entry and isinstance(entry["name"], str):
        where += f" ({entry['name']})"
    kwargs: dict[str, Any] = {}
    for key, value in entry.items():
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
        keyword, check, expected = _KEYS[key]
        if not check(value):
            raise ConfigError(f"{where}: {key!r} must be {expected}, got {value!r}")
        kwargs[keyword] = value
    for required in ("name", "sources"):
        if required not in kwargs:
            raise ConfigError(f"{where}: missing required key {required!r}")
    name = kwargs.pop("name")
    sources = kwargs.pop("sources")
    try:
        ext = WasmExtension(name, sources, **kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    ext.declared_in = f"{path} [[tool.wasm-ext.modules]]"
    return ext
