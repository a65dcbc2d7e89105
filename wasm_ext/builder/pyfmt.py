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


def docstring(text: str, indent: str) -> str:
    """*text* as a triple-quoted docstring at *indent* (escaped; whitespace as ruff leaves it)."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').expandtabs(8)
    lines = [line.rstrip() for line in text.strip().splitlines()] or [""]
    if len(lines) == 1:
        single = lines[0]
        return f'{indent}"""{single}{" " if single.endswith(chr(34)) else ""}"""'
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{body}\n{indent}"""'


def export_order(names: list[str]) -> list[str]:
    """*names* in ruff's "isort-style" order for ``__all__``: CONSTANTS, then Classes, then the rest."""

    def key(name: str) -> tuple[int, list[tuple[int, int | str]]]:
        if any(c.isupper() for c in name) and not any(c.islower() for c in name):
            group = 0
        elif name[:1].isupper():
            group = 1
        else:
            group = 2
        natural = [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]
        return group, natural

    return sorted(names, key=key)


def layout(source: str) -> str:
    """*source* with over-long statements laid out over several lines, blank lines as ruff has them."""
    lines = source.splitlines()
    single = _single_line_statements(source)
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
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


def _single_line_statements(source: str) -> set[int]:
    """Line numbers of the statements that start and end on one line (not strings, not comments)."""
    rows: set[int] = set()
    start = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
            continue
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if start is not None and start[0] == token.start[0] and start[1] != tokenize.STRING:
                rows.add(start[0])
            start = None
        elif start is None:
            start = (token.start[0], token.type)
    return rows


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
    elif isinstance(node, (ast.Assign, ast.Expr, ast.Raise)):
        value = node.exc if isinstance(node, ast.Raise) else node.value
        if isinstance(value, ast.Call):
            rows = _node(value, text, indent, text[: _start(value, text)], "")
        elif isinstance(node, ast.Assign) and isinstance(value, (ast.IfExp, ast.Name)):
            rows = _parenthesized(value, text, indent)
    return "\n".join(rows) if rows else line


def _offset(text: str, lineno: int, col: int) -> int:
    return sum(len(part) + 1 for part in text.split("\n")[: lineno - 1]) + col


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
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults or not args.args:
        return None
    inner = indent + INDENT
    rows = [f"{indent}def {node.name}("]
    for arg in args.args:
        if arg.annotation is None:
            rows.append(f"{inner}{arg.arg},")
        else:
            rows += _node(arg.annotation, text, inner, f"{arg.arg}: ", ",")
    if node.returns is None:
        return [*rows, f"{indent}):"]
    return rows + _node(node.returns, text, indent, ") -> ", ":")


def _condition(test: ast.expr, text: str, indent: str) -> list[str] | None:
    """``if (`` / the operands, each operator starting a line / ``):`` (ruff's split of a comparison)."""
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    compare = test.operand if isinstance(test, ast.UnaryOp) else test
    if not isinstance(compare, ast.Compare):
        return None
    inner = indent + INDENT
    rows = [f"{indent}if (", f"{inner}{'not ' if negated else ''}{_segment(compare.left, text)}"]
    previous = compare.left
    for comparator in compare.comparators:
        operator = text[_end(previous, text) : _start(comparator, text)].strip()
        rows.append(f"{inner}{operator} {_segment(comparator, text)}")
        previous = comparator
    return [*rows, f"{indent}):"]


def _parenthesized(value: ast.expr, text: str, indent: str) -> list[str]:
    """``target = (`` / the value (split at ``if``/``else`` when it still does not fit) / ``)``."""
    inner = indent + INDENT
    head = text[: _start(value, text)].rstrip()
    flat = _segment(value, text)
    if isinstance(value, ast.IfExp) and len(inner) + len(flat) > LINE_LENGTH:
        body = [
            inner + _segment(value.body, text),
            f"{inner}if {_segment(value.test, text)}",
            f"{inner}else {_segment(value.orelse, text)}",
        ]
    else:
        body = [inner + flat]
    return [f"{indent}{head} (", *body, f"{indent})"]
