"""Lay out generated Python the way ``ruff format`` does, so stubs read like written code.

The templates write each statement on one line. Names come from C and can be long, so
:func:`layout` rewrites each line over :data:`LINE_LENGTH` the way ruff (and black)
would: brackets exploded one item per line with a trailing comma (which ruff then
keeps), a single-item subscript hugged, a condition split before its operators, a long
right-hand side put in parentheses; and it leaves one blank line between statements in
a function where the templates may leave more. It knows the statement shapes the
templates produce; any other over-long line is left as it is (the unit tests run ruff
over generated stubs, so a new shape cannot slip by). :func:`docstring` quotes text as a
docstring ruff leaves unchanged, :func:`export_order` orders ``__all__`` as ruff does.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

LINE_LENGTH = 88  # ruff's default: stubs are formatted for a project without settings
INDENT = "    "


# C0/C1 controls other than the newline (tabs are expanded first): written as \x escapes, so the
# source holds none (a NUL makes it unimportable, ruff flags the rest) and the docstring keeps them
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def escape_controls(text: str) -> str:
    """*text* with control characters other than newlines and tabs written as ``\\xNN``, and lone
    surrogates (which no UTF-8 file can hold) as ``\\uNNNN`` (see ``_CONTROL``)."""
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


def docstring(text: str, indent: str) -> str:
    """*text* as a triple-quoted docstring at *indent*, escaped, with its whitespace as ruff leaves it.

    Tabs become spaces (8 columns, counted in the text, so the .py and the .pyi agree); lines
    are stripped at the end; the lines after the first lose their common indentation and any
    other leading whitespace (a no-break space is not indentation to ruff, it is trimmed); a
    first line starting with a quote gets a space, so the quotes do not run together.
    """
    text = "\n".join(line.expandtabs(8) for line in text.splitlines())
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    text = escape_controls(text)
    lines = [line.rstrip() for line in text.strip().splitlines()] or [""]
    first = lines[0] if not lines[0].startswith('"') else " " + lines[0]
    if len(lines) == 1:
        backslashes = len(first[:-1]) - len(first[:-1].rstrip("\\"))  # before the last character
        unescaped_quote = first.endswith('"') and backslashes % 2 == 0
        return f'{indent}"""{first}{" " if unescaped_quote else ""}"""'
    rest = []
    for line in lines[1:]:
        content = line.lstrip()
        rest.append((len(line) - len(line.lstrip(" ")), content))
    common = min((columns for columns, content in rest if content), default=0)
    body = "\n".join(f"{indent}{' ' * (columns - common)}{content}" if content else "" for columns, content in rest)
    return f'{indent}"""{first}\n{body}\n{indent}"""'


def export_order(names: list[str]) -> list[str]:
    """*names* in ruff's "isort-style" order for ``__all__``: CONSTANTS, then Classes, then the rest."""

    def key(name: str) -> tuple[int, list[tuple[int, int | str]], str]:
        if len(name) > 1 and any(c.isupper() for c in name) and not any(c.islower() for c in name):
            group = 0  # SCREAMING_SNAKE_CASE: more than one character
        elif name[:1].isupper():
            group = 1
        else:
            group = 2
        natural = [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]
        return group, natural, name  # natural ties (k01, k1): the plain order

    return sorted(names, key=key)


def layout(source: str) -> str:
    """*source* with over-long statements laid out over several lines, blank lines as ruff has them."""
    lines = source.splitlines()
    single, in_strings = _statement_lines(source)
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        if number in in_strings:
            out.append(line)  # inside a docstring: its text is its own
            continue
        if not line.strip():
            if out and not out[-1].strip() and _inside_block(lines, number):
                continue  # one blank line at most between statements of a block
            out.append("")
            continue
        out.append(fit(line) if number in single and len(line) > LINE_LENGTH else line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def _inside_block(lines: list[str], number: int) -> bool:
    """Whether the next non-blank line after line *number* is indented (inside a def or class)."""
    for line in lines[number:]:
        if line.strip():
            return line.startswith(" ")
    return False


def _statement_lines(source: str) -> tuple[set[int], set[int]]:
    """(lines holding a whole statement (not a string or comment), lines inside a multi-line string)."""
    single: set[int] = set()
    in_strings: set[int] = set()
    start = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            in_strings.update(range(token.start[0] + 1, token.end[0] + 1))
        if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
            continue
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if start is not None and start[0] == token.start[0] and start[1] != tokenize.STRING:
                single.add(start[0])
            start = None
        elif start is None:
            start = (token.start[0], token.type)
    return single, in_strings


def fit(line: str) -> str:
    """One over-long statement (a single line, with its indentation) laid out as ruff would."""
    indent = line[: len(line) - len(line.lstrip())]
    text = line.strip()
    header = text.endswith(":")
    try:
        node = ast.parse(text + f"\n{INDENT}pass" if header else text).body[0]
    except SyntaxError:
        return line
    rows: list[str] | None = None
    if isinstance(node, ast.FunctionDef):
        rows = _def(node, text, indent)
    elif isinstance(node, ast.If):
        rows = _condition(node.test, text, indent)
    elif isinstance(node, ast.ImportFrom):
        names = [alias.name if alias.asname is None else f"{alias.name} as {alias.asname}" for alias in node.names]
        rows = [
            indent + text[: text.index(" import ") + 8] + "(",
            *(f"{indent}{INDENT}{n}," for n in names),
            f"{indent})",
        ]
    elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) == 1:
        rows = [f"{indent}return (", f"{indent}{INDENT}{_segment(node.value.elts[0], text)},", f"{indent})"]
    elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
        rows = _assigned_call(node.value, text, indent)
    elif isinstance(node, (ast.Expr, ast.Raise)):
        value = node.exc if isinstance(node, ast.Raise) else node.value
        if isinstance(value, ast.Call):
            rows = _node(value, text, indent, text[: _start(value, text)], "")
    elif isinstance(node, ast.Assign) and isinstance(node.value, (ast.IfExp, ast.Name, ast.Attribute)):
        rows = _parenthesized(node.value, text, indent, subscript=isinstance(node.targets[0], ast.Subscript))
    return "\n".join(rows) if rows else line


def _offset(text: str, lineno: int, col: int) -> int:
    """The index in *text* of ast's (line, column): ast counts columns in UTF-8 bytes."""
    lines = text.split("\n")
    column = len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "replace"))
    return sum(len(part) + 1 for part in lines[: lineno - 1]) + column


def _start(node: ast.AST, text: str) -> int:
    return _offset(text, node.lineno, node.col_offset)  # type: ignore[attr-defined]


def _end(node: ast.AST, text: str) -> int:
    return _offset(text, node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]


def _segment(node: ast.AST, text: str) -> str:
    return text[_start(node, text) : _end(node, text)]


def _node(node: ast.expr, text: str, indent: str, lead: str, trail: str) -> list[str]:
    """*node* after *lead* and before *trail*: on one line if it fits, else its brackets exploded."""
    flat = f"{indent}{lead}{_segment(node, text)}{trail}"
    if len(flat) <= LINE_LENGTH:
        return [flat]
    inner = indent + INDENT
    if isinstance(node, ast.Call) and not node.keywords and node.args:
        opening = text[_start(node, text) : text.index("(", _end(node.func, text)) + 1]
        rows = [f"{indent}{lead}{opening}"]
        for arg in node.args:
            rows += _node(arg, text, inner, "", ",")
        return [*rows, f"{indent}){trail}"]
    if isinstance(node, ast.Subscript):
        opening = f"{_segment(node.value, text)}["
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(items) == 1:  # ruff hugs a single subscript item: a trailing comma would change its meaning
            return [f"{indent}{lead}{opening}", *_node(items[0], text, inner, "", ""), f"{indent}]{trail}"]
        rows = [f"{indent}{lead}{opening}"]
        for item in items:
            rows += _node(item, text, inner, "", ",")
        return [*rows, f"{indent}]{trail}"]
    if isinstance(node, ast.List) and node.elts:
        rows = [f"{indent}{lead}["]
        for item in node.elts:
            rows += _node(item, text, inner, "", ",")
        return [*rows, f"{indent}]{trail}"]
    return [flat]


def _def(node: ast.FunctionDef, text: str, indent: str) -> list[str] | None:
    args = node.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults:
        return None
    inner = indent + INDENT
    if not args.args:  # nothing to explode: ruff splits a subscript's brackets where `... -> tuple[` fits,
        # else it puts the annotation in parentheses
        if node.returns is None:
            return None
        returns = node.returns
        head = (
            f"{indent}def {node.name}() -> {_segment(returns.value, text)}["
            if isinstance(returns, ast.Subscript)
            else ""
        )
        if head and len(head) <= LINE_LENGTH:
            assert isinstance(returns, ast.Subscript)
            inside = _segment(returns.slice, text)
            if len(f"{inner}{inside}") <= LINE_LENGTH or not isinstance(returns.slice, ast.Tuple):
                return [head, f"{inner}{inside}", f"{indent}]:"]
            return [head, *(f"{inner}{_segment(e, text)}," for e in returns.slice.elts), f"{indent}]:"]
        return [f"{indent}def {node.name}() -> (", *_subscript_rows(returns, text, inner), f"{indent}):"]
    rows = [f"{indent}def {node.name}("]
    for arg in args.args:
        if arg.annotation is None:
            rows.append(f"{inner}{arg.arg},")
        elif isinstance(arg.annotation, ast.BinOp) and len(f"{inner}{_segment(arg, text)},") > LINE_LENGTH:
            rows += _union(arg.arg, arg.annotation, text, inner)
        else:
            rows += _node(arg.annotation, text, inner, f"{arg.arg}: ", ",")
    if node.returns is None:
        return [*rows, f"{indent}):"]
    return rows + _node(node.returns, text, indent, ") -> ", ":")


def _subscript_rows(node: ast.expr, text: str, indent: str) -> list[str]:
    """*node* at *indent*: one line if it fits, else a subscript's items on one line inside its
    brackets, else one item a line (ruff's layout of a parenthesized return annotation)."""
    flat = f"{indent}{_segment(node, text)}"
    if len(flat) <= LINE_LENGTH or not isinstance(node, ast.Subscript):
        return [flat]
    inner = indent + INDENT
    inside = f"{inner}{_segment(node.slice, text)}"
    opening, closing = f"{indent}{_segment(node.value, text)}[", f"{indent}]"
    if len(inside) <= LINE_LENGTH or not isinstance(node.slice, ast.Tuple):
        return [opening, inside, closing]
    return [opening, *(f"{inner}{_segment(e, text)}," for e in node.slice.elts), closing]


def _condition(test: ast.expr, text: str, indent: str) -> list[str] | None:
    """``if (`` / the operands, each operator starting a line / ``):`` (ruff's split of a comparison)."""
    inner = indent + INDENT
    if isinstance(test, ast.BoolOp):  # one operand a line, each after the first starting with its operator
        operator = "and" if isinstance(test.op, ast.And) else "or"
        rows = [f"{indent}if ("]
        for position, value in enumerate(test.values):
            rows += _operand(value, text, inner, f"{operator} " if position else "")
        return [*rows, f"{indent}):"]
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    compare = test.operand if isinstance(test, ast.UnaryOp) else test
    if not isinstance(compare, ast.Compare):
        return None
    rows = [f"{indent}if (", f"{inner}{'not ' if negated else ''}{_segment(compare.left, text)}"]
    previous = compare.left
    for comparator in compare.comparators:
        operator = text[_end(previous, text) : _start(comparator, text)].strip()
        rows.append(f"{inner}{operator} {_segment(comparator, text)}")
        previous = comparator
    return [*rows, f"{indent}):"]


def _operand(value: ast.expr, text: str, indent: str, lead: str) -> list[str]:
    """One operand of a split boolean condition; a comparison that still does not fit is split
    before each of its operators, on lines of the same indentation (ruff flattens them)."""
    flat = f"{indent}{lead}{_segment(value, text)}"
    if len(flat) <= LINE_LENGTH or not isinstance(value, ast.Compare):
        return [flat]
    rows = [f"{indent}{lead}{_segment(value.left, text)}"]
    previous = value.left
    for comparator in value.comparators:
        operator = text[_end(previous, text) : _start(comparator, text)].strip()
        rows.append(f"{indent}{operator} {_segment(comparator, text)}")
        previous = comparator
    return rows


def _union(name: str, annotation: ast.BinOp, text: str, indent: str) -> list[str]:
    """``name: A`` / ``| B,``: a parameter whose ``A | B`` annotation does not fit, split before each ``|``."""
    operands: list[ast.expr] = []
    node: ast.expr = annotation
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        operands.insert(0, node.right)
        node = node.left
    operands.insert(0, node)
    rows = [f"{indent}{name}: {_segment(operands[0], text)}"]
    rows += [f"{indent}| {_segment(o, text)}" for o in operands[1:]]
    rows[-1] += ","
    return rows


def _assigned_call(call: ast.Call, text: str, indent: str) -> list[str] | None:
    """``target = call(...)``: the call's brackets exploded, unless that leaves its first line too long and
    the call fits in parentheses instead (ruff's "second opinion" with the optional parentheses)."""
    head = text[: _start(call, text)]
    exploded = _node(call, text, indent, head, "")
    if len(exploded[0]) <= LINE_LENGTH:
        return exploded
    inner = indent + INDENT
    wrapped = [f"{indent}{head.rstrip()} (", *_node(call, text, inner, "", ""), f"{indent})"]
    return wrapped if all(len(row) <= LINE_LENGTH for row in wrapped) else exploded


def _parenthesized(value: ast.expr, text: str, indent: str, subscript: bool) -> list[str] | None:
    """``target = (`` / the value (split at ``if``/``else`` when it still does not fit) / ``)``.

    A name or an attribute is parenthesized only where that makes it fit, as ruff does,
    unless the target is a *subscript* (ruff then always parenthesizes the value).
    """
    inner = indent + INDENT
    head = text[: _start(value, text)].rstrip()
    flat = _segment(value, text)
    fits = len(inner) + len(flat) <= LINE_LENGTH
    if isinstance(value, (ast.Name, ast.Attribute)) and not fits and not subscript:
        return None
    if isinstance(value, ast.IfExp) and not fits:
        body = [
            inner + _segment(value.body, text),
            f"{inner}if {_segment(value.test, text)}",
            f"{inner}else {_segment(value.orelse, text)}",
        ]
    else:
        body = [inner + flat]
    return [f"{indent}{head} (", *body, f"{indent})"]
