"""The symbolic checker process: reads JSON requests on stdin, answers one JSON line each on stdout.

Run as ``python -m tusk.grading._worker MEMORY_MB``.  It imports sympy and math-verify once, prints
``ready`` and then serves requests until stdin closes.  The parent (:mod:`tusk.grading.checker`) kills it
when a request runs past the time limit, so nothing here needs its own timeout: expressions such as
``5^(5^(5^5))`` are simply allowed to run until they are killed.  Memory is capped with RLIMIT_AS, and on
Linux the worker dies with the process that started it.  Python-syntax text is checked against a whitelist
before ``parse_expr`` (see :func:`_check_python_expression`), so an answer is never evaluated as code.

Requests: ``{"op": "equal", "a": GOLD, "b": PRED}`` -> ``{"equal": bool, "a": str, "b": str}`` (the
sympy forms compared); ``{"op": "value", "a": TEXT}`` -> ``{"value": "p/q" | "decimal digits" | null,
"exact": bool}``.  Errors come back as ``{"error": "..."}``.
"""

from __future__ import annotations

import cmath
import json
import os
import re
import sys
from typing import Any

_LATEXISH = re.compile(r"\\|\^\{|_\{|\{")
_PARSE_CACHE: dict[str, Any] = {}


_FUNCTIONS = frozenset(
    [
        "sqrt",
        "pi",
        "exp",
        "log",
        "ln",
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "tanh",
        "E",
        "I",
        "oo",
        "Abs",
        "factorial",
        "binomial",
        "Rational",
    ]
)
_SAFE_CHARS = re.compile(r"[0-9A-Za-z_\s+\-*/().,]*")


_FACTORIAL = re.compile(r"(\d+|\([^()]*\))\s*!(?!=)")


def _check_python_expression(text: str) -> None:
    """sympy's ``parse_expr`` ends in ``eval``: only arithmetic on numbers, short variable names and a few
    known functions may reach it (no quotes, brackets, attributes, dunders or other names)."""
    if (
        len(text) > 500
        or not _SAFE_CHARS.fullmatch(text)
        or "__" in text
        or re.search(r"\.\s*[A-Za-z_]", text)
    ):
        raise ValueError("not a plain expression")
    for name in re.findall(r"[A-Za-z_]\w*", text):
        if len(name) > 2 and name not in _FUNCTIONS:
            raise ValueError(f"unknown name {name!r}")


def _parse(text: str):
    if text in _PARSE_CACHE:
        return _PARSE_CACHE[text]
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    expr = None
    if _LATEXISH.search(text):
        from math_verify import LatexExtractionConfig, parse

        found = parse("$" + text + "$", [LatexExtractionConfig()], parsing_timeout=None)
        expr = found[0] if found else None
    else:
        t = _FACTORIAL.sub(r"factorial(\1)", text.replace("^", "**"))  # "5!" is 120
        _check_python_expression(t)
        local = {
            name: sympy.Symbol(name) for name in set(re.findall(r"[A-Za-z_]\w*", t)) if name not in _FUNCTIONS
        }
        expr = parse_expr(
            t,
            local_dict=local,
            transformations=standard_transformations + (implicit_multiplication_application, convert_xor),
        )
    if isinstance(expr, sympy.Basic) and expr.free_symbols:
        # LaTeX parsing makes symbols real; Python parsing does not: compare plain symbols by name
        expr = expr.xreplace({sym: sympy.Symbol(sym.name) for sym in expr.free_symbols})
    _PARSE_CACHE[text] = expr
    if len(_PARSE_CACHE) > 4096:
        _PARSE_CACHE.clear()
    return expr


def _has_float(expr) -> bool:
    import sympy

    return isinstance(expr, sympy.Basic) and any(isinstance(a, sympy.Float) for a in expr.atoms(sympy.Number))


def _equal(a_text: str, b_text: str) -> dict[str, Any]:
    import sympy

    a, b = _parse(a_text), _parse(b_text)
    if a is None or b is None:
        return {"equal": False, "a": str(a), "b": str(b), "detail": "unparsable"}
    out = {"a": str(a)[:200], "b": str(b)[:200]}
    if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
        if _has_float(a) or _has_float(b):
            diff = sympy.N(a - b, 30)
            scale = max(abs(sympy.N(a, 30)), abs(sympy.N(b, 30)))
            ok = bool(
                diff.is_number and (scale == 0 and diff == 0 or scale != 0 and abs(diff) / scale <= 1e-9)
            )
            return {**out, "equal": ok, "detail": "float"}
        if a == b:
            return {**out, "equal": True, "detail": "identical"}
        if _differs_numerically(a, b):
            return {**out, "equal": False, "detail": "numeric"}
        diff = sympy.simplify(a - b)
        if diff == 0:
            return {**out, "equal": True, "detail": "simplify"}
        if not diff.free_symbols:
            val = sympy.N(diff, 40)
            ok = bool(val.is_number and abs(val) < sympy.Float("1e-30"))
            return {**out, "equal": ok, "detail": "numeric"}
        return {**out, "equal": bool(sympy.expand(a - b) == 0), "detail": "expand"}
    from math_verify import verify

    return {
        **out,
        "equal": bool(verify(a, b, float_rounding=9, timeout_seconds=None)),
        "detail": "math_verify",
    }


_POINTS = ("0.5772156649", "1.3247179572", "2.7182818284", "-0.6180339887")


def _differs_numerically(a, b) -> bool:
    """Cheap refutation before simplify: evaluate both sides at a few points (symbols replaced by
    irrational-looking constants); True only when they clearly differ at some point."""
    import sympy

    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    for k in range(2):
        subs = {sym: sympy.Float(_POINTS[(k + i) % len(_POINTS)], 30) for i, sym in enumerate(symbols)}
        try:
            va = complex(sympy.N(a.subs(subs), 30))
            vb = complex(sympy.N(b.subs(subs), 30))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return False
        if any(cmath.isnan(v) or cmath.isinf(v) for v in (va, vb)):
            return False
        scale = max(abs(va), abs(vb), 1e-12)
        if abs(va - vb) / scale > 1e-8:
            return True
        if not symbols:
            return False
    return False


def _value(text: str) -> dict[str, Any]:
    import sympy

    expr = _parse(text)
    if expr is None or not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return {"value": None, "exact": False}
    if not _has_float(expr):
        expr = expr.doit()
    if expr.is_Rational:
        return {"value": f"{expr.p}/{expr.q}", "exact": True}
    val = sympy.N(expr, 40)
    if not val.is_real or not val.is_finite:
        return {"value": None, "exact": False}
    return {"value": sympy.sstr(val, full_prec=True), "exact": not _has_float(expr)}


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the grading process dies, so a check stuck in sympy is never orphaned.

    The signal follows the *thread* that started the worker, so the parent asks for it only when it
    starts workers from its main thread."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> int:
    if "--die-with-parent" in sys.argv:
        sys.argv.remove("--die-with-parent")
        _die_with_parent()
    if len(sys.argv) > 1:
        try:
            import resource

            limit = int(sys.argv[1]) * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError, ImportError):
            pass
    import math_verify  # noqa: F401
    import sympy  # noqa: F401  (import once, before ready)

    # the LaTeX parser, the Python parser and simplify initialise lazily: pay for that before "ready",
    # so a fresh worker's first check is as fast as any other
    _equal("\\frac{\\sqrt{2}}{2}", "x^{2}")
    _equal("2*x + 1", "1 + 2*x")
    _PARSE_CACHE.clear()

    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(10_000)
    # answers go to a private copy of stdout; anything a library prints lands on stderr instead
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "equal":
                resp = _equal(req["a"], req["b"])
            elif op == "value":
                resp = _value(req["a"])
            else:
                resp = {"error": f"unknown op {op!r}"}
        except MemoryError:
            resp = {"error": "memory"}
        except Exception as exc:  # noqa: BLE001 - a parse error is an answer, not a crash
            resp = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        out.write(json.dumps(resp) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
