"""Python source of each stub function: inline checks, then one fast call.

Every function follows the runtime's binding protocol (see
``wasm_ext.runtime.fastcall``): get this thread's binding, write each argument into the
typed view of its raw-value slot, call, check error and trap, read the result from slot 0.
Checks with messages and buffer staging go through the runtime's helpers. Generated
names all start with ``_``; parameter names never do (see ``signatures._python_name``).
"""

from __future__ import annotations

from .scalars import SCALARS, VOID
from .signatures import Function, Param

# view names on the binding, by C scalar kind: (view, slot stride)
_VIEWS = {
    "i8": ("i32", 4),
    "i16": ("i32", 4),
    "i32": ("i32", 4),
    "u8": ("u32", 4),
    "u16": ("u32", 4),
    "u32": ("u32", 4),
    "bool": ("u32", 4),
    "i64": ("i64", 2),
    "u64": ("u64", 2),
    "f32": ("f32", 4),
    "f64": ("f64", 2),
}


def annotation(param: Param) -> str:
    if param.kind == "buffer":
        return "Buffer | WasmBuffer"
    if param.kind == "string":
        return "str | bytes"
    return SCALARS[param.ctype].python


def result_annotation(fn: Function) -> str:
    return "None" if fn.result == VOID else SCALARS[fn.result].python


def signature(fn: Function, *, method: bool = False) -> str:
    params = ", ".join(["self"] * method + [f"{p.name}: {annotation(p)}" for p in fn.params])
    return f"def {fn.export}({params}) -> {result_annotation(fn)}:"


def callable_type(fn: Function) -> str:
    """*fn*'s type as a ``Callable[...]`` annotation (the stub's function factory returns them)."""
    params = ", ".join(annotation(p) for p in fn.params)
    return f"Callable[[{params}], {result_annotation(fn)}]"


def _slot(kind: str, index: int) -> str:
    view, stride = _VIEWS[kind]
    return f"_b.{view}[{index * stride}]" if index else f"_b.{view}[0]"


def _check_scalar(fn: Function, p: Param, out: list[str], indent: str) -> None:
    info = SCALARS[p.ctype]
    where = f'"{fn.export}", "{p.name}"'
    if info.python == "float":
        out.append(f"{indent}if {p.name}.__class__ is not _float:")
        out.append(f"{indent}    {p.name} = _check_float({p.name}, {where})")
    elif p.ctype != "bool":
        out.append(f"{indent}if {p.name}.__class__ is not _int:")
        out.append(f"{indent}    {p.name} = _check_int({p.name}, {where})")
        out.append(f"{indent}if not {info.lo} <= {p.name} <= {info.hi}:")
        out.append(f'{indent}    raise _overflow({where}, {p.name}, "{p.ctype}", {info.lo}, {info.hi})')


def _assign(fn: Function, out: list[str], indent: str) -> None:
    index = 0
    for p in fn.params:
        if p.kind == "scalar":
            value = f"1 if {p.name} else 0" if p.ctype == "bool" else p.name
            out.append(f"{indent}{_slot(p.ctype, index)} = {value}")
            index += 1
        else:
            out.append(f"{indent}{_slot('u32', index)} = _at_{p.name}")
            index += 1
            if p.kind == "buffer":
                length_kind = p.length_ctype or "u32"
                size = SCALARS[p.ctype].size
                count = f"_n_{p.name}" if size == 1 else f"_n_{p.name} // {size}"
                info = SCALARS[length_kind]
                if info.hi < 0xFFFFFFFF // size:
                    out.append(f"{indent}if {count} > {info.hi}:")
                    out.append(
                        f'{indent}    raise _overflow("{fn.export}", "{p.name}", {count}, "{length_kind} length", 0, {info.hi})'
                    )
                out.append(f"{indent}{_slot(length_kind, index)} = {count}")
                index += 1


def _result(fn: Function) -> str:
    if fn.result == VOID:
        return "None"
    if fn.result == "bool":
        return "_b.u32[0] != 0"
    return _slot(fn.result, 0)


def body(fn: Function) -> list[str]:
    """The statements of *fn*'s stub function (indented by four spaces)."""
    out = [
        "    _b: _Binding",
        "    try:",
        f"        _b = _tls.{fn.export}",
        "    except AttributeError:",
        f'        _b = _bind("{fn.export}")',
    ]
    memory_params = [p for p in fn.params if p.kind != "scalar"]
    for p in fn.params:
        if p.kind == "scalar":
            _check_scalar(fn, p, out, "    ")
        elif p.kind == "buffer":
            itemsize = SCALARS[p.ctype].size
            out.append(
                f'    _src_{p.name}, _n_{p.name} = _in_buffer({p.name}, {itemsize}, {p.writable}, "{fn.export}", "{p.name}")'
            )
        else:
            out.append(f'    _src_{p.name}, _n_{p.name} = _in_string({p.name}, "{fn.export}", "{p.name}")')
    call = [
        "_e = _b.call()",
        "if _e or _b.trap[0]:",
        f'    _fail("{fn.export}", _b, _e)',
    ]
    if not memory_params:
        _assign(fn, out, "    ")
        out += [f"    {line}" for line in call]
        out.append(f"    return {_result(fn)}")
        return out
    out.append("    _inst = _b.instance")
    out.append("    " + " = ".join(f"_at_{p.name}" for p in memory_params) + " = 0")
    out.append("    try:")
    for p in memory_params:
        out.append(f'        _at_{p.name} = _inst.stage(_src_{p.name}, _n_{p.name}, "{fn.export}")')
    _assign(fn, out, "        ")
    out += [f"        {line}" for line in call]
    writable = [p for p in memory_params if p.writable]
    if writable:
        if fn.result != VOID:
            out.append(f"        _r = {_result(fn)}")
        for p in writable:
            out.append(f'        _inst.unstage(_src_{p.name}, _at_{p.name}, _n_{p.name}, "{fn.export}")')
        out.append(f"        return {'_r' if fn.result != VOID else 'None'}")
    else:
        out.append(f"        return {_result(fn)}")
    out.append("    finally:")
    for p in memory_params:
        out.append(f"        _inst.release(_src_{p.name}, _at_{p.name})")
    return out
