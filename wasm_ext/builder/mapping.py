"""From C declarations to the typed model: which functions to export, and how each maps.

The rules: which C types are scalars (wasm32 is ILP32), when a pointer and the length
after it pair into one buffer parameter, when ``const char *`` is a string, what the
Python names are. Input is :class:`~.c_ast.SourceInfo`; output is
:class:`~.model.Function`. A function that cannot be mapped is a
:class:`~wasm_ext.errors.SignatureError` naming the function, the parameter and the fix.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from ..declarations import DIRECTIONS, FunctionDecl, HandleDecl, ParamSpec
from ..errors import SignatureError, WasmCompileError
from .c_ast import RawEnum, RawFunction, RawParam, SourceInfo
from .c_types import QUALIFIERS, canonical, enum_kind, is_integer, python_name, scalar_kind
from .model import SCALARS, VOID, EnumType, Function, HandleType, Param, StructType
from .structs import StructError, StructLayouts

LENGTH_NAMES = ("n", "len", "length", "size", "count")
LENGTH_SUFFIXES = ("_len", "_length", "_size", "_count", "_n")
_UNMAPPABLE_HINT = (
    "wrap it in a small C function that takes scalars or (pointer, length) pairs, or leave it out of `exports`"
)


def _expression_names(expression: str) -> list[str]:
    """The parameter names a capacity expression reads (not the functions it calls)."""
    tree = ast.parse(expression, mode="eval")
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called]


def expression_calls(expression: str) -> list[str]:
    """The functions a capacity expression calls."""
    tree = ast.parse(expression, mode="eval")
    return [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]


def _declare(fn: str, param: str, spec: str) -> str:
    return f'functions.{fn}.{param} = "{spec}"'


def _pointer_hint(fn: str, p: RawParam, pointee: str | None, counts: Sequence[str]) -> str:
    """Why a pointer the rules cannot place is unmappable, and the declarations that would place it."""
    if not p.name:
        return "is an unnamed pointer: name it in the function's definition, then declare what it is (`functions`)"
    count = counts[0] if counts else "N"
    declare_count = (
        f"declare the parameter that holds its count, {_declare(fn, p.name, f'in[{count}]')} "
        f'("inout[{count}]" if the function writes it)'
    )
    rename = f", or put its length right after it, named {', '.join(LENGTH_NAMES)} or {p.name}_len"
    as_value = f'{_declare(fn, p.name, "out")} (written by the function, then returned), "inout" or "in"'
    if pointee is None or pointee == VOID:
        return f"is a pointer with no length: if it is a buffer, {declare_count}{rename}; or leave it out of `exports`"
    if (
        _is_length_name("", p.name)
        or any(p.name.endswith(s) for s in LENGTH_SUFFIXES)
        or p.name.startswith(("out", "p_"))
    ):
        return (
            f"is a pointer to one value (an out-parameter?): declare {as_value}, or mark it @param[out] in its "
            f"doc comment; if it is a buffer, {declare_count}; or leave it out of `exports`"
        )
    return (
        f"is a pointer with no length: if it is a buffer, {declare_count}{rename}; if it points to one value, "
        f"declare {as_value}; or leave it out of `exports`"
    )


def _record_hint(spelling: str, base: str) -> str:
    """What to declare for a pointer to a struct the sources define (an object the library hands out)."""
    words = [w for w in spelling.replace("*", " ").split() if w not in QUALIFIERS]
    name = words[-1] if len(words) == 1 else f'"{base}"'  # a typedef name, or the tag (a quoted key)
    return (
        f"points to {base}: if the library hands these out as objects, declare it a handle, handles.{name} = "
        '{destroy = "the function that frees one"}'
    )


def _is_length_name(pointer: str, candidate: str) -> bool:
    return candidate in LENGTH_NAMES or any(candidate == pointer + suffix for suffix in LENGTH_SUFFIXES)


_DIRECTION_OF_COMMENT = {"out": "out", "in,out": "inout"}


def map_function(
    raw: RawFunction,
    typedefs: dict[str, str],
    *,
    module: str,
    declared: FunctionDecl | None = None,
    origin: str = "",
    warnings: list[str] | None = None,
    enums: dict[str, RawEnum] | None = None,
    handles: dict[str, HandleType] | None = None,
    structs: StructLayouts | None = None,
) -> Function:
    """Turn a C prototype into the stub's model, or raise :class:`SignatureError` saying why.

    *declared* says what the types leave open (see :mod:`wasm_ext.declarations`; a doc
    comment's ``@param[out]``/``@param[in,out]`` counts where it says nothing); a shape
    that is mapped but may not mean what it seems adds a message to *warnings*.
    """
    where = f"{module}: function {raw.name}() at {raw.location}"
    if raw.cxx:  # C++ that C cannot call (c_ast says why and what to do)
        raise SignatureError(f"{where}: {raw.cxx}")
    if raw.variadic:
        raise SignatureError(f"{where}: variadic functions (...) cannot be called from Python; {_UNMAPPABLE_HINT}")
    result_base, result_ptr, _ = canonical(raw.result, typedefs)
    handles = handles or {}
    used_handles: dict[str, HandleType] = {}
    used_structs: dict[str, StructType] = {}
    used_enums: dict[str, EnumType] = {}
    result_handle = result_struct = ""

    def enum_of(base: str) -> str:
        """The class of an enum type the sources define ("" for any other type), noted for the stub."""
        found = (enums or {}).get(base)
        if found is None:
            return ""
        used_enums[found.name] = EnumType(found.name, tuple(found.members), found.location)
        return found.name

    def struct_of(base: str, what: str) -> StructType:
        """The layout of a struct passed by value or by pointer, noted (with its nested structs and enums)."""
        assert structs is not None
        try:
            struct = structs.get(base)
        except StructError as exc:
            raise SignatureError(
                f"{where}: {what} is a {base}, which cannot be passed as a value: {base} {exc}"
            ) from None
        for t in structs.closure(struct.name):
            used_structs[t.name] = t
            for f in t.fields:
                if f.enum:
                    enum_of(next(k for k, e in (enums or {}).items() if e.name == f.enum))
        return struct

    result: str | None
    result_string = ""
    returns = declared.spec("return") if declared is not None else None
    error = returns if returns is not None and returns.direction == "error" else None
    if error is not None:
        returns = None
    char_pointer = result_ptr == 1 and result_base.split()[-1:] == ["char"]
    bytes_length = ""  # "bytes[*N]": N
    if returns is not None and returns.direction == "bytes":
        element = scalar_kind(result_base) if result_ptr == 1 else None
        if element not in ("i8", "u8", VOID):
            raise SignatureError(
                f"{where}: functions.{raw.name}.return = {returns.text!r} ({origin or 'declared'}): a bytes result "
                f"must point to bytes (char, uint8_t or void), not {raw.result!r}"
            )
        result, bytes_length = "u32", returns.length or ""
    elif returns is not None:
        if not char_pointer:
            raise SignatureError(
                f"{where}: functions.{raw.name}.return = {returns.text!r} ({origin or 'declared'}): a string "
                f"result must be a 'char *', not {raw.result!r}"
            )
        result, result_string = "u32", "free" if returns.free else "static"
    elif char_pointer and canonical(raw.result, typedefs)[2]:  # const char *: a static string
        result, result_string = "u32", "static"
    elif result_ptr == 1 and result_base in handles:
        result, result_handle = "u32", handles[result_base].name
        for kind_of_handle in _handle_chain(handles[result_base], handles):
            used_handles[kind_of_handle.name] = kind_of_handle
    elif result_ptr == 0 and structs is not None and structs.defines(result_base):
        struct = struct_of(result_base, f"its result ({raw.result})")
        result, result_struct = struct.direct or VOID, struct.name
    else:
        result = enum_kind(result_base, enums) or scalar_kind(result_base) if result_ptr == 0 else None
    if result is None:
        if result_ptr == 1 and result_base.split()[0] in ("struct", "union"):
            raise SignatureError(f"{where}: its result ({raw.result}) {_record_hint(raw.result, result_base)}")
        raise SignatureError(f"{where}: return type {raw.result!r} has no Python mapping; {_UNMAPPABLE_HINT}")
    raws = raw.params
    names = [p.name for p in raws]
    types = [canonical(p.spelling, typedefs) for p in raws]
    kinds = [enum_kind(base, enums) or scalar_kind(base) if pointers >= 0 else None for base, pointers, _ in types]

    def key_error(param: str, why: str) -> SignatureError:
        spec = declared.spec(param) if declared is not None else None
        if spec is None and param in raw.directions:
            return SignatureError(f"{where}: @param[{raw.directions[param]}] {param} (its doc comment): {why}")
        text = f" = {spec.text!r}" if spec is not None else ""
        return SignatureError(f"{where}: functions.{raw.name}.{param}{text} ({origin or 'declared'}): {why}")

    specs: dict[int, ParamSpec] = {}
    for pname, declared_spec in declared.params if declared is not None else ():
        if pname == "return":
            continue
        if pname not in names:
            raise key_error(pname, f"{raw.name}() has no parameter {pname} (it has: {', '.join(names) or 'none'})")
        specs[names.index(pname)] = declared_spec
    for i, p in enumerate(raws):
        direction = _DIRECTION_OF_COMMENT.get(raw.directions.get(p.name, ""))
        if i not in specs and direction is not None:
            specs[i] = ParamSpec(f"@param[{raw.directions[p.name]}]", direction)

    carriers: dict[int, int] = {}  # the parameter that carries an output buffer's capacity -> the buffer
    for i, output_spec in list(specs.items()):
        if not output_spec.is_output or output_spec.capacity_param is None:
            continue
        if output_spec.capacity_param not in names:
            raise key_error(
                names[i], f"{raw.name}() has no parameter {output_spec.capacity_param} to hold the capacity"
            )
        carrier = names.index(output_spec.capacity_param)
        if specs.get(carrier, ParamSpec("", "")).text.startswith("@param"):
            del specs[carrier]  # a declared carrier: what a doc comment says of it gives way
        if carrier in specs:
            raise key_error(names[carrier], f"it carries the capacity of {names[i]}, so it cannot be declared itself")
        carriers[carrier] = i
    length_of: dict[int, int] = {}  # buffer -> its length parameter
    for i, buffer_spec in specs.items():
        if buffer_spec.length is None:
            continue
        if buffer_spec.length not in names:
            raise key_error(names[i], f"{raw.name}() has no parameter {buffer_spec.length} to hold the length")
        length_of[i] = names.index(buffer_spec.length)
    for length in length_of.values():  # a declared length: what a doc comment says of it gives way
        if specs.get(length, ParamSpec("", "")).text.startswith("@param"):
            del specs[length]
    for i in range(len(raws) - 1):  # the rule: a pointer, then its length by name
        base, pointers, _ = types[i]
        nxt = i + 1
        if (
            i not in specs
            and i not in length_of.values()
            and pointers == 1
            and (kinds[i] is not None or (structs is not None and structs.defines(base) and base not in handles))
            and nxt not in specs
            and nxt not in carriers
            and _is_length_name(names[i], names[nxt])
            and types[nxt][1] == 0
            and is_integer(kinds[nxt])
        ):
            length_of[i] = nxt
    lengths = set(length_of.values())
    cursor_lengths = {length_of[b] for b, s in specs.items() if s.length_pointer and b in length_of}
    integers = [n for n, (_, ptr, _), k in zip(names, types, kinds) if ptr == 0 and is_integer(k)]

    params: list[Param] = []
    used: set[str] = set()
    for i, p in enumerate(raws):
        base, pointers, const = types[i]
        kind = kinds[i]
        spec = specs.get(i)
        pname = python_name(p.name, i)
        if i in cursor_lengths:
            cursors = [b for b, n in length_of.items() if n == i]
            if len(cursors) > 1 or spec is not None:
                raise key_error(
                    p.name, f"it is the length of the cursor {names[cursors[0]]}: it cannot be shared or declared"
                )
            if pointers != 1 or not is_integer(kind):
                raise key_error(
                    names[cursors[0]],
                    f"the cursor's length *{p.name} needs a pointer to an integer, not {p.spelling!r}",
                )
            assert kind is not None
            params.append(Param(pname, "cursor_length", kind, p.spelling, cname="" if pname == p.name else p.name))
            continue
        if i in lengths:
            if spec is not None:
                buffers = ", ".join(names[b] for b, n in length_of.items() if n == i)
                raise key_error(p.name, f"it is the length of {buffers}, so it cannot be declared itself")
            if pointers != 0 or not is_integer(kind):
                buffer = next(b for b, n in length_of.items() if n == i)
                raise key_error(names[buffer], f"the length {p.name} is a {p.spelling!r}, not an integer")
            assert kind is not None
            params.append(Param(pname, "length", kind, p.spelling, cname="" if pname == p.name else p.name))
            continue
        while pname in used:
            pname += "_"
        cname = "" if pname == p.name else p.name
        if i in carriers:
            output_spec = specs[carriers[i]]
            wanted = 1 if output_spec.capacity_pointer else 0
            if pointers != wanted or not is_integer(kind):
                shape = "a pointer to an integer" if wanted else "an integer"
                raise key_error(names[carriers[i]], f"its capacity {p.name} must be {shape}, not {p.spelling!r}")
            assert kind is not None
            if output_spec.capacity_pointer:
                kind_of = "capacity_ptr" if output_spec.capacity is not None else "capacity_ptr_arg"
            else:
                kind_of = "capacity" if output_spec.capacity is not None else "scalar"
            if kind_of in ("scalar", "capacity_ptr_arg"):
                used.add(pname)
            params.append(Param(pname, kind_of, kind, p.spelling, cname=cname))
            continue
        if spec is not None and spec.is_output:
            if pointers != 1 or kind is None or const:
                raise key_error(
                    p.name, f"an output buffer must be a writable pointer to numbers or void, not {p.spelling!r}"
                )
            carrier_index = next((c for c, o in carriers.items() if o == i), -1)
            capacity = spec.capacity if spec.capacity is not None else names[carrier_index]
            for name in _expression_names(capacity):
                own = (i, carrier_index) if spec.capacity is not None else (i,)  # out[N]: N is its capacity
                if name not in names or names.index(name) in own:
                    raise key_error(
                        p.name, f"its capacity refers to {name}, which is not another parameter of {raw.name}()"
                    )
            element = "u8" if kind in (VOID, "bool") else kind
            params.append(
                Param(
                    pname,
                    "output",
                    element,
                    p.spelling,
                    True,
                    carrier_index,
                    cname=cname,
                    capacity=capacity,
                    produced=spec.produced,
                )
            )
            continue
        if spec is not None and spec.direction in ("null", "fixed"):
            params.append(_constant_param(p, i, (pname, cname), spec, (base, pointers, const, kind), key_error))
            continue
        handle = handles.get(base) if pointers in (1, 2) else None
        if handle is not None and i not in length_of:
            if pointers == 2 and (spec is None or spec.direction != "out"):
                raise SignatureError(
                    f"{where}: parameter {p.name or i!s} ({p.spelling}) points to a {handle.name} handle: if the "
                    f"function stores a new one there, declare {_declare(raw.name, p.name or 'PARAM', 'out')}"
                )
            if pointers == 1 and spec is not None and spec.direction != "own":
                raise key_error(
                    p.name,
                    f'a {handle.name} handle is passed as it is: leave it undeclared (or "own" if the '
                    "function takes it over)",
                )
            for kind_of_handle in _handle_chain(handle, handles):
                used_handles[kind_of_handle.name] = kind_of_handle
            kind_of = "handle" if pointers == 1 else "handle_out"
            if pointers == 1:
                used.add(pname)
            owned = spec is not None and spec.direction == "own"
            params.append(Param(pname, kind_of, "u32", p.spelling, cname=cname, handle=handle.name, owned=owned))
            continue
        if spec is not None and spec.direction == "own":
            raise key_error(p.name, f'"own" is for a handle parameter, not {p.spelling!r}')
        if structs is not None and pointers in (0, 1) and structs.defines(base):
            params.append(
                _struct_param(
                    where, raw, p, i, (pname, cname), spec, (base, pointers, const), i in length_of, struct_of
                )
            )
            if params[-1].is_argument:
                used.add(pname)
            continue
        if i in length_of and i in specs and specs[i].length_pointer:
            if pointers != 2 or kind is None or kind == VOID or not const:
                raise key_error(p.name, f"a cursor must be a 'const T **' to numbers, not {p.spelling!r}")
            used.add(pname)
            element = "u8" if kind == "bool" else kind
            params.append(Param(pname, "buffer", element, p.spelling, False, length_of[i], cname=cname, cursor=True))
            continue
        if i in length_of:
            if pointers != 1 or kind is None:
                raise key_error(p.name, f"a buffer must be a pointer to numbers or void, not {p.spelling!r}")
            writable = spec.direction == "inout" if spec is not None else not const
            if writable and const and spec is not None:
                raise key_error(
                    p.name, f'{p.spelling!r} is const, so the function cannot write it: declare it "in[...]"'
                )
            element = "u8" if kind in (VOID, "bool") else kind
            counts_bytes = spec.count_bytes if spec is not None else False
            used.add(pname)
            params.append(Param(pname, "buffer", element, p.spelling, writable, length_of[i], counts_bytes, cname))
            continue
        if spec is not None and spec.direction in DIRECTIONS:
            if pointers != 1 or kind is None or kind == VOID:
                raise key_error(p.name, f"{spec.direction!r} is for a pointer to one number, not {p.spelling!r}")
            if spec.direction != "in" and const:
                raise key_error(p.name, f'{p.spelling!r} is const, so the function cannot write it: declare it "in"')
            if spec.direction != "out":
                used.add(pname)
            params.append(Param(pname, spec.direction, kind, p.spelling, cname=cname, enum=enum_of(base)))
            continue
        is_string = pointers == 1 and kind == "i8" and const and base.split()[-1] == "char" and "signed" not in base
        if spec is not None:  # "string"
            if not is_string:
                raise key_error(p.name, f"a string must be a 'const char *', not {p.spelling!r}")
        elif (
            warnings is not None
            and is_string
            and i + 1 < len(raws)
            and i + 1 not in specs
            and i + 1 not in lengths
            and names[i + 1] in integers
        ):
            follower = raws[i + 1]
            warnings.append(
                f"{where}: {p.name} ({p.spelling}) is followed by {follower.name} ({follower.spelling}): {p.name} is "
                f"passed as a NUL-terminated string and {follower.name} as a separate integer. If {follower.name} is the "
                f"length of {p.name}, declare {_declare(raw.name, p.name, f'in[{follower.name}]')}; if {p.name} "
                f"is a string, declare {_declare(raw.name, p.name, 'string')} to say so"
            )
        if pointers == 0 and kind is not None and kind != VOID:
            used.add(pname)
            params.append(Param(pname, "scalar", kind, p.spelling, cname=cname, enum=enum_of(base)))
            continue
        if is_string:
            used.add(pname)
            params.append(Param(pname, "string", "i8", p.spelling, cname=cname))
            continue
        if pointers == 1 and kind is not None:
            hint = _pointer_hint(raw.name, p, kind, [n for n in integers if n not in {names[j] for j in lengths}])
            raise SignatureError(f"{where}: parameter {p.name or i!s} ({p.spelling}) {hint}")
        if pointers < 0 and re.search(r"\(\*[^)]*\)\s*\(", base):  # T (*)(args): not T (*)[n]
            raise SignatureError(
                f"{where}: parameter {p.name or i!s} ({p.spelling}) is a function pointer: callbacks into Python "
                "cannot be bound yet; leave it out of `exports`"
            )
        if pointers in (1, 2) and base.split()[0] in ("struct", "union"):
            raise SignatureError(f"{where}: parameter {p.name or i!s} ({p.spelling}) {_record_hint(p.spelling, base)}")
        raise SignatureError(
            f"{where}: parameter {p.name or i!s} has type {p.spelling!r}, which has no Python "
            f"mapping; {_UNMAPPABLE_HINT}"
        )
    if error is not None:
        pointer = bool(result_handle or result_string)
        signed = result in SCALARS and SCALARS[result].signed and SCALARS[result].python == "int" and not pointer
        why = ""
        if result_struct:
            why = f"a struct result ({raw.result!r}) cannot be an error code"
        elif result == VOID:
            why = "the function returns nothing"
        elif pointer and error.error != "== 0":
            why = f"a pointer result ({raw.result!r}) can only be 'error if NULL'"
        elif error.error == "< 0" and not signed:
            why = f"'< 0' needs a signed integer result, not {raw.result!r}"
        elif result in ("f32", "f64"):
            why = f"a {raw.result!r} result cannot be an error code"
        if why:
            raise SignatureError(
                f"{where}: functions.{raw.name}.return = {error.text!r} ({origin or 'declared'}): {why}"
            )
    if any(p.kind == "output" and p.produced == "return" for p in params) and not is_integer(result):
        name = next(p.c_name for p in params if p.produced == "return")
        raise key_error(name, f"'-> return' needs an integer result holding the produced length, not {raw.result!r}")
    result_length = -1
    if bytes_length:
        found = next((j for j, q in enumerate(params) if q.c_name == bytes_length), -1)
        if found < 0 or params[found].kind not in ("out", "inout", "fixed") or not is_integer(params[found].ctype):
            raise key_error(
                "return",
                f'bytes[*{bytes_length}] needs {bytes_length}, a pointer to an integer declared "out", '
                '"inout" or "in = VALUE"',
            )
        result_length = found
    result_enum = enum_of(result_base) if result_ptr == 0 else ""
    return Function(
        raw.name,
        tuple(params),
        result,
        raw.result,
        raw.doc,
        raw.location,
        result_enum=result_enum,
        enums=tuple(used_enums.values()),
        result_handle=result_handle,
        handles=tuple(used_handles.values()),
        result_string=result_string,
        error="" if error is None else error.error or "",
        error_message="" if error is None else error.message or "",
        result_struct=result_struct,
        structs=tuple(used_structs.values()),
        result_length=result_length,
    )


def _constant_param(
    p: RawParam,
    index: int,
    names: tuple[str, str],
    spec: ParamSpec,
    ctype: tuple[str, int, bool, str | None],
    key_error: Callable[[str, str], SignatureError],
) -> Param:
    """A hidden parameter the stub fills itself: "null" (any pointer) or "in = VALUE" (a pointer to an integer)."""
    (pname, cname), (base, pointers, _, kind) = names, ctype
    if spec.direction == "null":
        function_pointer = pointers < 0 and re.search(r"\(\*[^)]*\)\s*\(", base) is not None
        if pointers <= 0 and not function_pointer:
            raise key_error(p.name, f'"null" is for a pointer, not {p.spelling!r}')
        return Param(pname, "null", "u32", p.spelling, cname=cname)
    if pointers != 1 or not is_integer(kind):
        raise key_error(p.name, f'"in = VALUE" is for a pointer to one integer, not {p.spelling!r}')
    assert kind is not None
    if not SCALARS[kind].lo <= spec.value <= SCALARS[kind].hi:
        raise key_error(p.name, f"{spec.value} does not fit its {p.spelling!r}")
    return Param(pname, "fixed", kind, p.spelling, cname=cname, fixed=spec.value)


def _struct_param(
    where: str,
    raw: RawFunction,
    p: RawParam,
    index: int,
    names: tuple[str, str],
    spec: ParamSpec | None,
    ctype: tuple[str, int, bool],
    is_buffer: bool,
    struct_of: Callable[[str, str], StructType],
) -> Param:
    """A struct by value (pointers 0) or a pointer to one struct: "in" (read), "out" or "inout"."""
    (pname, cname), (base, pointers, const) = names, ctype
    what = f"parameter {p.name or index!s} ({p.spelling})"
    if is_buffer:
        raise SignatureError(f"{where}: {what}: arrays of structs cannot be bound yet; {_UNMAPPABLE_HINT}")
    if pointers == 0:
        if spec is not None:
            raise SignatureError(f"{where}: {what} is a struct passed by value: leave it undeclared")
        struct = struct_of(base, what)
        kind, carried = ("scalar", struct.direct) if struct.direct else ("struct", "u32")
        return Param(pname, kind, carried, p.spelling, cname=cname, struct=struct.name)
    direction = spec.direction if spec is not None else ("in" if const else "")
    if direction not in DIRECTIONS:
        declared = "" if spec is None else f" (declared {spec.text!r})"
        raise SignatureError(
            f"{where}: {what} points to one struct{declared}: declare "
            f"{_declare(raw.name, p.name or 'PARAM', 'out')} if the function fills it (then it is returned), "
            f'"inout" if it also reads it, "in" if it only reads it; '
            f"{_record_hint(p.spelling, base).replace('points to', 'or, as it points to', 1)}"
        )
    if direction != "in" and const:
        raise SignatureError(f'{where}: {what} is const, so the function cannot write it: declare it "in"')
    struct = struct_of(base, what)
    return Param(pname, direction, "u32", p.spelling, cname=cname, struct=struct.name)


def _handle_chain(handle: HandleType, handles: dict[str, HandleType]) -> list[HandleType]:
    """*handle*'s type and the types it is a kind of (``base``), the most basic first."""
    by_name = {h.name: h for h in handles.values()}
    chain = [handle]
    while chain[-1].base and len(chain) <= len(by_name):
        chain.append(by_name[chain[-1].base])
    return chain[::-1]


def wrappable(fn: RawFunction) -> bool:
    """A static function defined in a header: the build exports it through a generated wrapper
    compiled in its source's translation unit (where the header defines it)."""
    return fn.static and fn.defined and bool(fn.unit) and fn.location.rpartition(":")[0] != fn.unit


def select_exports(info: SourceInfo, requested: Sequence[str] | None, *, module: str) -> list[str]:
    """The C functions to export: *requested* (checked to exist) or every marked one."""
    if requested is None:
        names = info.marked
        if not names:
            raise WasmCompileError(
                f"{module}: no function is marked for export. Mark kernels with WASM_EXPORT "
                f'(#include <wasm_ext.h>) or __attribute__((export_name("..."))), or list '
                f"them in `exports`. Functions defined: {', '.join(info.defined) or 'none'}"
            )
        return names
    missing = [name for name in requested if name not in info.defined]
    if missing:
        raise WasmCompileError(
            f"{module}: unknown export(s) {', '.join(missing)}: no such function is defined in "
            f"the sources or the project's headers. Functions defined: {', '.join(info.defined) or 'none'}"
        )
    internal = [name for name in requested if info.functions[name].static and not wrappable(info.functions[name])]
    if internal:
        raise WasmCompileError(
            f"{module}: {', '.join(f'{n}() ({info.functions[n].location})' for n in internal)} "
            f"{'is' if len(internal) == 1 else 'are'} static: the linker cannot export a function with "
            "internal linkage; export a non-static function that calls it (a static function defined in a "
            "header is exported through a wrapper the build generates)"
        )
    return list(dict.fromkeys(requested))


def handle_types(
    info: SourceInfo, declared: Sequence[HandleDecl], *, module: str, origin: str = ""
) -> dict[str, HandleType]:
    """The handle types by the C type mappings see (``"struct state"``): the declared ones, and every
    struct or union the sources declare but never define (named by a typedef of it, if there is one)."""
    found: dict[str, HandleType] = {}
    for decl in declared:
        base, pointers, _ = canonical(decl.ctype, info.typedefs)
        if pointers != 0 or base.split()[0] not in ("struct", "union") or base not in info.records:
            raise SignatureError(
                f"{module}: handles.{decl.ctype} ({origin or 'declared'}): not a struct or union the sources "
                f"declare (it is {base!r})"
            )
        name = decl.ctype if decl.ctype.isidentifier() else base.split()[1]
        found[base] = HandleType(name, decl.destroy or "", base)
    aliases: dict[str, str] = {}
    for alias, target in info.typedefs.items():
        aliases.setdefault(target, alias)
    for record, complete in info.records.items():
        if not complete and record not in found:
            found[record] = HandleType(aliases.get(record, record.split()[1]), "", record)
    for decl in declared:
        if decl.base is None:
            continue
        own = canonical(decl.ctype, info.typedefs)[0]
        base = canonical(decl.base, info.typedefs)[0]
        where = f"{module}: handles.{decl.ctype}.base = {decl.base!r} ({origin or 'declared'})"
        if base not in found:
            raise SignatureError(f"{where}: not a handle type (declare it in handles too)")
        found[own] = replace(found[own], base=found[base].name)
        seen = {own}
        while found[base].base:  # a kind of itself, through its bases, would never end
            base = next(k for k, h in found.items() if h.name == found[base].base)
            if base in seen:
                raise SignatureError(f"{where}: the bases of {decl.ctype} come back to it")
            seen.add(base)
    return found


def _check_destroy(fn: Function, handle: HandleType, origin: str, handles: dict[str, HandleType]) -> str | None:
    """Why *fn* cannot be the destroy function of *handle* (it takes one of it, or of a type it is a kind of)."""
    arguments = fn.arguments
    kinds = {h.name for h in _handle_chain(handle, handles)}
    if len(arguments) != 1 or arguments[0].handle not in kinds or fn.returned:
        return (
            f"handles.{handle.name}.destroy = {fn.name!r} ({origin or 'declared'}): {fn.name}() must take one "
            f"{handle.name} and nothing else"
        )
    return None


def _helper_problems(fn: Function, names: Sequence[str], origin: str, module: str) -> list[str]:
    """The error-convention functions *fn* names that are not exported (they are called from the stub)."""
    helpers = [h for h in (fn.error if fn.error[:1].isalpha() else "", fn.error_message) if h]
    helpers += [c for p in fn.params if p.kind == "output" for c in expression_calls(p.capacity)]
    return [
        f"{module}: functions.{fn.name}.return ({origin or 'declared'}): {h}() is not exported; add it to `exports`"
        for h in helpers
        if h not in names
    ]


def _fits(fn: Function, role: str) -> bool:
    """Whether *fn* can be called with an error code as an error predicate or message function."""
    arguments = fn.arguments
    one_integer = len(arguments) == 1 and arguments[0].kind == "scalar" and arguments[0].ctype not in ("f32", "f64")
    if role == "message":
        return one_integer and bool(fn.result_string)
    return one_integer and fn.result not in (VOID, "f32", "f64") and not fn.result_string and not fn.result_handle


def map_functions(
    info: SourceInfo,
    names: Iterable[str],
    *,
    module: str,
    declared: Sequence[FunctionDecl] = (),
    origin: str = "",
    warnings: list[str] | None = None,
    handles: Sequence[HandleDecl] = (),
) -> list[Function]:
    """The model of every function in *names*; one :class:`SignatureError` listing every one that cannot be mapped.

    All are tried, so a big library's unmappable functions come out in one build, not one a
    build. A declaration of a function that is not exported is an error too: it would be ignored.
    """
    names = list(names)
    by_name = {d.name: d for d in declared}
    types = handle_types(info, handles, module=module, origin=origin)
    layouts = StructLayouts(info)
    functions: list[Function] = []
    problems: list[str] = []
    for decl in declared:
        if decl.name not in names:
            known = "is not defined in the sources" if decl.name not in info.functions else "is not exported"
            problems.append(
                f"{module}: functions.{decl.name} ({origin or 'declared'}): {decl.name}() {known} "
                f"(exports: {', '.join(names)})"
            )
    for handle in types.values():
        if handle.destroy and handle.destroy not in names:
            problems.append(
                f"{module}: handles.{handle.name}.destroy = {handle.destroy!r} ({origin or 'declared'}): "
                f"{handle.destroy}() is not exported; add it to `exports`"
            )
    for name in names:
        try:
            fn = map_function(
                info.functions[name],
                info.typedefs,
                module=module,
                declared=by_name.get(name),
                origin=origin,
                warnings=warnings,
                enums=info.enums,
                handles=types,
                structs=layouts,
            )
        except SignatureError as exc:
            problems.append(str(exc))
            continue
        problems += _helper_problems(fn, names, origin, module)
        for handle in types.values():
            problem = _check_destroy(fn, handle, origin, types) if handle.destroy == name else None
            if problem is not None:
                problems.append(f"{module}: function {name}() at {fn.location}: {problem}")
            elif handle.destroy == name and handle not in fn.handles:  # it frees a kind of its parameter's type
                fn = replace(fn, handles=(*fn.handles, handle))
        functions.append(fn)
    by_c_name = {f.name: f for f in functions}
    for fn in functions:
        for p in fn.params:
            for called in expression_calls(p.capacity) if p.kind == "output" else ():
                other = by_c_name.get(called)
                if other is not None and (
                    other.result in (VOID, "f32", "f64") or other.returned or other.result_string
                ):
                    problems.append(
                        f"{module}: functions.{fn.name}.{p.c_name} ({origin or 'declared'}): its capacity calls "
                        f"{called}(), which must return an integer"
                    )
        for role, helper in (("predicate", fn.error if fn.error[:1].isalpha() else ""), ("message", fn.error_message)):
            other = by_c_name.get(helper)
            if other is not None and not _fits(other, role):
                problems.append(
                    f"{module}: functions.{fn.name}.return ({origin or 'declared'}): {helper}() cannot be its error "
                    f"{role}: it must take one integer"
                    + (" and return a string" if role == "message" else " and return an integer or bool")
                )
    if len(problems) == 1:
        raise SignatureError(problems[0])
    if problems:
        listed = "\n".join(f"  {p.replace(module + ': ', '', 1)}" for p in problems)
        raise SignatureError(f"{module}: {len(problems)} functions cannot be mapped:\n{listed}")
    return functions
