"""Programs inside generations, and answers inside program output (the two ends of PoT decoding).

``extract_program(text)`` finds the program a model wrote: the first fenced block tagged as Python
(```` ```python ````, ```` ```py ````, ```` ```python3 ````), else the first fenced block of any kind, else
bare code (the Alpaca-format MAmmoTH models answer with plain code that prints the answer).  Bare code is
recognised by parsing, never by looking for ``print(``: the longest run of lines that parses as Python
and does something (an assignment, call, import, definition, loop...) is taken, so prose before or
after the code is dropped.  A fence left open by a truncated generation runs to the end of the text.

``answer_from_stdout(stdout)`` is the last non-empty line of the program's output, stripped, or None.

Guarantees: pure functions of their input, no execution; None rather than a guess when there is no
program or no output.  Does not: repair code that does not parse, or judge whether it is correct.
"""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(
    r"^[ \t]*```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE
)
_PYTHON_TAGS = {"python", "py", "python3", "py3"}
_MAX_PARSE_ATTEMPTS = 400
_START = re.compile(r"^(?:[A-Za-z_]|#|@|\(|\[|\{)")


def extract_program(text: str) -> str | None:
    """The program in a generation, or None when it holds none (see the module docstring)."""
    if not text or not text.strip():
        return None
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text)]
    for wanted in (lambda tag: tag in _PYTHON_TAGS, lambda tag: True):
        for tag, body in blocks:
            if wanted(tag) and body.strip():
                return _dedent_block(body)
    if blocks:
        return None
    return _bare_code(text)


def answer_from_stdout(stdout: str) -> str | None:
    """The last non-empty line printed, stripped; None when nothing was printed."""
    for line in reversed(stdout.splitlines()):
        if line.strip():
            return line.strip()
    return None


def _dedent_block(body: str) -> str:
    import textwrap

    return textwrap.dedent(body).strip("\n") + "\n"


def _does_something(tree: ast.Module) -> bool:
    """True unless the code is only bare names, constants or docstrings (prose that happens to parse)."""
    inert = (ast.Name, ast.Constant, ast.Attribute)
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, inert):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Tuple) and all(
                isinstance(item, inert) for item in node.value.elts):
            continue  # "Therefore," and "Then, done" parse as tuples of names
        if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Compare, ast.BinOp, ast.BoolOp)):
            continue  # "x = 3 and y > 2" style prose fragments parse as expressions
        return True
    return False


def _parses(lines: list[str]) -> ast.Module | None:
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def _bare_code(text: str) -> str | None:
    lines = text.strip("\n").splitlines()
    tree = _parses(lines)
    if tree is not None:
        return text.strip("\n") + "\n" if _does_something(tree) else None
    attempts = 0
    for start in range(len(lines)):
        if not _START.match(lines[start]):
            continue
        for end in range(len(lines), start, -1):
            attempts += 1
            if attempts > _MAX_PARSE_ATTEMPTS:
                return None
            chunk = lines[start:end]
            if not chunk[-1].strip():
                continue
            tree = _parses(chunk)
            if tree is not None and _does_something(tree):
                return "\n".join(chunk).strip("\n") + "\n"
    return None
