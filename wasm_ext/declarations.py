"""What C cannot say about a function, declared by the package author: the ``functions`` table.

One mechanism for ``WasmExtension(functions=...)`` and ``[tool.wasm-ext.modules.functions]``:
a table per C function, one entry per parameter that needs one, each a short string in
the spirit of Microsoft's SAL annotations and Doxygen's ``@param[in,out]``::

    functions = {
        "xor_into": {"src": "in[n]", "dst": "inout[n]"},  # one length for two buffers
        "parse":    {"text": "in[len]", "used": "out"},    # length before or after, any name
        "step":     {"state": "inout"},                    # a value passed by pointer
    }

Kept as data, not as a C ``cdef``: the library's own headers stay the one source of the
prototypes (clang reads them), and the table names only what the types leave open, so it
can be checked against them key by key. The syntax is checked here, when the extension
is declared; the names (function, parameter, length) are checked against the C
declarations by :mod:`wasm_ext.builder.mapping`, which errors naming the key.

Parameter specs:

``in`` / ``out`` / ``inout``
    a pointer to one value: ``in`` takes it as an argument, ``out`` returns what the
    function wrote there, ``inout`` does both.
``in[LEN]`` / ``inout[LEN]``
    a buffer whose element count is the integer parameter ``LEN`` (filled in, so it
    leaves the Python signature); ``in[LEN bytes]`` when ``LEN`` counts bytes.
    ``inout`` buffers are copied back out. Several buffers may share one ``LEN``.
``out[N = EXPR]``, ``out[*N = EXPR]``, ``out[N]``, ``out[*N]``, ``out[EXPR]``, each optionally ``-> return``
    a buffer the library fills: the stub allocates its capacity (``EXPR``, over the other
    parameters, integers and bound functions such as ``lib_bound(n)``; or the argument
    ``N`` when no ``= EXPR`` is given), passes it in ``N`` (or ``*N``), and returns the
    ``bytes`` produced: as long as ``*N`` after the call, as the result (``-> return``), or
    the whole capacity.
``in[*LEN]``
    on a ``const T **`` cursor (Brotli's ``next_in`` with ``size_t *available_in``): the
    stub passes a buffer through the cursor and its length through ``*LEN``, and returns
    what ``*LEN`` holds after the call (how much was not consumed).
``null``
    a pointer the stub passes as ``NULL`` (an optional allocator callback, an ``opaque``).
``in = VALUE``
    a pointer to one integer the stub fills with ``VALUE`` itself (hidden).
``own``
    a handle the function takes over: closed, and never freed by the stub, after a call.
``string``
    a NUL-terminated ``const char *`` (the default for one with no length after it;
    declaring it silences the warning about a possible length).
``"return": "bytes[*N]"``
    the result points to bytes the library keeps, as many as ``*N`` holds after the call
    (an ``out``, ``inout`` or ``in = VALUE`` parameter): they are copied to ``bytes``.
``"return": "string"`` (or ``"string, free=free"``)
    the result, a ``char *``, is a NUL-terminated string copied to ``str`` (and then freed
    with ``free()``); a ``const char *`` result is a static string without declaring it.
``out`` on a ``T **``
    where ``T`` is a handle type: the function stores a new handle there; it is returned.

The ``handles`` table names the C types the stub hands out only as opaque objects (a
pointer to a struct the sources never define is one without being named), each with the
function that frees one: ``handles = {"lib_state": {"destroy": "lib_free"}}``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError

DIRECTIONS = ("in", "out", "inout")
SYNTAX = (
    "'in', 'out', 'inout', 'in[LEN]', 'inout[LEN]', 'in[LEN bytes]', 'inout[LEN bytes]', 'in[*LEN]' (a cursor), "
    "'string', 'own' (a handle the function takes over), 'null', 'in = VALUE', or an output buffer 'out[CAPACITY]' "
    "(see the README)"
)
_SPEC = re.compile(r"^(in|out|inout)(?:\[\s*(\*?)\s*([A-Za-z_][A-Za-z0-9_]*)(\s+bytes)?\s*\])?$")
_FIXED = re.compile(r"^in\s*=\s*(-?[0-9]+)$")
_RETURN_BYTES = re.compile(r"^bytes\s*\[\s*\*\s*([A-Za-z_][A-Za-z0-9_]*)\s*\]$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ParamSpec:
    """What one parameter is, as declared."""

    text: str  # as written (for messages)
    direction: str  # "in", "out", "inout", "string", "own" (a handle the function takes over), "null", "fixed"
    length: str | None = None  # a buffer: the C parameter that holds its count
    count_bytes: bool = False  # that count is in bytes, not elements
    free: str | None = None  # a returned string the caller frees: the function that frees it
    error: str | None = None  # an error convention of the result: "< 0", "!= 0", "== 0", or a predicate function
    message: str | None = None  # the function that gives an error code's message
    # an output buffer the library fills ("out[...]"): what carries its capacity to C, and where its
    # produced length comes from ("capacity": all of it, "return": the result, "pointer": *capacity_param)
    capacity_param: str | None = None
    capacity_pointer: bool = False
    capacity: str | None = None  # the capacity as an expression (over parameters, constants, bound functions)
    produced: str = "capacity"
    length_pointer: bool = False  # in[*LEN]: a cursor (T **) whose length goes in and out through *LEN
    value: int = 0  # "in = VALUE": the value

    @property
    def is_output(self) -> bool:
        return self.direction == "out" and (self.capacity is not None or self.capacity_param is not None)

    @property
    def is_buffer(self) -> bool:
        return self.length is not None


@dataclass(frozen=True)
class FunctionDecl:
    """The declarations of one C function: parameter name -> spec, in the order written."""

    name: str
    params: tuple[tuple[str, ParamSpec], ...]

    def spec(self, param: str) -> ParamSpec | None:
        return next((s for n, s in self.params if n == param), None)


RETURN_SYNTAX = (
    "'string', 'string, free=free', 'bytes[*N]', or 'error if < 0' ('!= 0', '== 0', 'NULL', 'false', or a function such as "
    "'error if is_error'), optionally followed by ', message=error_name'"
)
_ERROR = re.compile(
    r"^error\s+if\s+(<\s*0|!=\s*0|==\s*0|NULL|false|[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:\s*,\s*message\s*=\s*([A-Za-z_][A-Za-z0-9_]*))?$"
)
_RETURN = re.compile(r"^string(?:\s*,\s*free\s*=\s*([A-Za-z_][A-Za-z0-9_]*))?$")


def parse_return(text: str) -> ParamSpec | None:
    """What a ``"return"`` entry means: a C string result (static, or to be freed), or ``None``."""
    match = _RETURN.match(text.strip())
    if match is not None:
        return ParamSpec(text, "string", free=match.group(1))
    match = _RETURN_BYTES.match(text.strip())
    if match is not None:
        return ParamSpec(text, "bytes", length=match.group(1), length_pointer=True)
    match = _ERROR.match(text.strip())
    if match is None:
        return None
    test = " ".join(
        match.group(1).replace(" ", "").replace("<0", "< 0").replace("!=0", "!= 0").replace("==0", "== 0").split()
    )
    return ParamSpec(text, "error", error={"NULL": "== 0", "false": "== 0"}.get(test, test), message=match.group(2))


def parse_spec(text: str) -> ParamSpec | None:
    """The spec *text* means, or ``None`` if it is not one (see the module docstring)."""
    spec = text.strip()
    if spec in ("string", "own", "null"):
        return ParamSpec(text, spec)
    fixed = _FIXED.match(spec)
    if fixed is not None:
        return ParamSpec(text, "fixed", value=int(fixed.group(1)))
    match = _SPEC.match(spec)
    if match is None:
        return None
    direction, pointer, length, in_bytes = match.groups()
    if direction == "out" and length is not None:
        return None  # an output buffer: parse_output
    if pointer and (direction != "in" or in_bytes):
        return None  # a cursor is read: in[*LEN]
    return ParamSpec(text, direction, length, bool(in_bytes), length_pointer=bool(pointer))


_OUTPUT = re.compile(r"^out\[(.+)\]\s*(->\s*return)?$")
_CARRIER = re.compile(r"^(\*?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=(?!=)\s*(.+))?$")
_EXPRESSION_NODES = (ast.Expression, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Name, ast.Load, ast.Call)


def parse_output(text: str) -> ParamSpec | None:
    """An output buffer spec (``out[N = EXPR] -> return`` and its forms, see the module docstring), or ``None``."""
    match = _OUTPUT.match(text.strip())
    if match is None:
        return None
    inside, returned = match.group(1).strip(), bool(match.group(2))
    carrier = _CARRIER.match(inside)
    pointer, name, expression = (
        (carrier.group(1) == "*", carrier.group(2), carrier.group(3)) if carrier else (False, None, inside)
    )
    if expression is not None and expression_problem(expression) is not None:
        return None
    if pointer and returned:
        return None  # the produced length comes from one place
    produced = "return" if returned else "pointer" if pointer else "capacity"
    return ParamSpec(
        text, "out", None, False, capacity_param=name, capacity_pointer=pointer, capacity=expression, produced=produced
    )


def _output_problem(text: str) -> str:
    """Why *text*, which starts like an output buffer, is not one."""
    shapes = (
        "an output buffer is out[N], out[*N], out[N = EXPR], out[*N = EXPR] or out[EXPR], then optionally -> return"
    )
    match = _OUTPUT.match(text.strip())
    if match is None:
        return shapes
    carrier = _CARRIER.match(match.group(1).strip())
    expression = carrier.group(3) if carrier else match.group(1)
    problem = expression_problem(expression) if expression is not None else None
    if problem is not None:
        return problem
    if carrier and carrier.group(1) and match.group(2):
        return f"the produced length is what *{carrier.group(2)} holds after the call: drop '-> return'"
    return shapes


def expression_problem(expression: str) -> str | None:
    """Why *expression* cannot be a capacity (integers, names, + - * //, calls), or ``None``."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return "not an expression"
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if type(node.value) is not int:
                return f"{node.value!r} is not an integer"
        elif not isinstance(node, _EXPRESSION_NODES):
            return f"{type(node).__name__} is not allowed (integers, parameter names, + - * //, calls)"
        elif isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.keywords):
            return "calls must be to a bound function by name, with positional arguments"
    return None


def parse_functions(value: object, *, where: str) -> tuple[FunctionDecl, ...]:
    """Check the shape and syntax of a ``functions`` table; a ConfigError names the key at fault."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: functions must be a table of C function name -> {{parameter: spec}}")
    decls: list[FunctionDecl] = []
    for name, params in value.items():
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise ConfigError(f"{where}: functions.{name}: not a C function name")
        if not isinstance(params, Mapping) or not params:
            raise ConfigError(
                f"{where}: functions.{name} must be a non-empty table of parameter name -> spec ({SYNTAX})"
            )
        specs: list[tuple[str, ParamSpec]] = []
        for param, text in params.items():
            key = f"functions.{name}.{param}"
            if not isinstance(param, str) or not _IDENTIFIER.match(param):
                raise ConfigError(f"{where}: {key}: not a C parameter name")
            if param == "return":
                spec = parse_return(text) if isinstance(text, str) else None
                if spec is None:
                    raise ConfigError(f"{where}: {key} = {text!r} is not a result spec; use {RETURN_SYNTAX}")
                if spec.free not in (None, "free"):
                    raise ConfigError(
                        f"{where}: {key} = {text!r}: only the C library's free() can free a result for now "
                        "(a library's own free function would need binding itself)"
                    )
                specs.append((param, spec))
                continue
            spec = None
            if isinstance(text, str):
                spec = parse_output(text) if text.strip().startswith("out[") else parse_spec(text)
            if spec is None:
                why = ""
                if isinstance(text, str) and text.strip().startswith("out["):
                    why = f" ({_output_problem(text)})"
                raise ConfigError(f"{where}: {key} = {text!r} is not a parameter spec; use {SYNTAX}{why}")
            if spec.length == param:
                raise ConfigError(f"{where}: {key} = {text!r}: a buffer cannot be its own length")
            specs.append((param, spec))
        decls.append(FunctionDecl(name, tuple(specs)))
    return tuple(decls)


def to_json(decls: tuple[FunctionDecl, ...]) -> dict[str, dict[str, str]]:
    """The table as declared (for the build cache key)."""
    return {d.name: {p: s.text for p, s in d.params} for d in decls}


@dataclass(frozen=True)
class HandleDecl:
    """A C struct (or union) the stub hands out only as an opaque handle, and the function that frees one."""

    ctype: str  # as written: a typedef name, or "struct tag"
    destroy: str | None = None  # the C function that frees one (it takes the handle, alone)
    base: str | None = None  # a handle type this one is a kind of (its first member: C's inheritance)


_HANDLE_TYPE = re.compile(r"^(?:(?:struct|union)\s+)?[A-Za-z_][A-Za-z0-9_]*$")


def parse_handles(value: object, *, where: str) -> tuple[HandleDecl, ...]:
    """Check a ``handles`` table (C type -> ``{destroy = "fn"}``); a ConfigError names the key at fault."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: handles must be a table of C type name -> {{destroy = 'function'}}")
    decls: list[HandleDecl] = []
    for ctype, options in value.items():
        if not isinstance(ctype, str) or not _HANDLE_TYPE.match(ctype.strip()):
            raise ConfigError(f"{where}: handles.{ctype}: not a C type name (a typedef name, or 'struct tag')")
        if not isinstance(options, Mapping):
            raise ConfigError(f"{where}: handles.{ctype} must be a table, e.g. {{destroy = 'free_function'}}")
        unknown = [k for k in options if k not in ("destroy", "base")]
        if unknown:
            raise ConfigError(f"{where}: handles.{ctype}: unknown key {unknown[0]!r} (known: destroy, base)")
        destroy = options.get("destroy")
        if destroy is not None and (not isinstance(destroy, str) or not _IDENTIFIER.match(destroy)):
            raise ConfigError(f"{where}: handles.{ctype}.destroy = {destroy!r}: not a C function name")
        base = options.get("base")
        if base is not None and (not isinstance(base, str) or not _HANDLE_TYPE.match(base.strip())):
            raise ConfigError(f"{where}: handles.{ctype}.base = {base!r}: not a C type name")
        decls.append(HandleDecl(" ".join(ctype.split()), destroy, None if base is None else " ".join(base.split())))
    return tuple(decls)


def handles_to_json(decls: tuple[HandleDecl, ...]) -> dict[str, dict[str, str | None]]:
    return {d.ctype: {"destroy": d.destroy, "base": d.base} for d in decls}
