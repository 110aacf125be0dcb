"""Turn MathQA operation programs into readable Python that prints the answer.

MathQA annotates each problem with a ``linear_formula`` such as
``divide(n0,n1)|multiply(const_1,const_1000)|divide(#1,#0)|subtract(#2,n1)|``: ``n0, n1, ...`` are the
numbers of the problem text in order, ``const_*`` are constants (``const_100``, ``const_pi``, ``const_3_6`` =
3.6), ``#k`` is the result of step k.  :func:`translate` renders it as

.. code-block:: python

    n0 = 48.0
    n1 = 12.0
    t0 = n0 / n1
    t1 = 1.0 * 1000.0
    t2 = t1 / t0
    answer = t2 - n1
    print(answer)

Guarantees: the program uses only ``math`` and arithmetic; an unknown operation, a reference to a number the
text does not have, or a malformed step raises :class:`ProgramError` (the loader records and skips the record).
It does not check that the program computes the right answer: verification executes it in the sandbox.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?|(?<![\w.])\.\d+")
_STEP = re.compile(r"^\s*([a-z_0-9]+)\s*\((.*)\)\s*$")


class ProgramError(ValueError):
    """A MathQA formula that cannot be turned into a program."""


# operation -> (arity, template over a, b, c)
OPERATIONS: dict[str, tuple[int, str]] = {
    "add": (2, "{a} + {b}"),
    "subtract": (2, "{a} - {b}"),
    "multiply": (2, "{a} * {b}"),
    "divide": (2, "{a} / {b}"),
    "power": (2, "{a} ** {b}"),
    "reminder": (2, "{a} % {b}"),
    "max": (2, "max({a}, {b})"),
    "min": (2, "min({a}, {b})"),
    "gcd": (2, "math.gcd(int({a}), int({b}))"),
    "lcm": (2, "int({a}) * int({b}) // math.gcd(int({a}), int({b}))"),
    "choose": (2, "math.comb(int({a}), int({b}))"),
    "permutation": (2, "math.perm(int({a}), int({b}))"),
    "sqrt": (1, "math.sqrt({a})"),
    "inverse": (1, "1 / {a}"),
    "negate": (1, "-{a}"),
    "negate_prob": (1, "1 - {a}"),
    "factorial": (1, "math.factorial(int({a}))"),
    "floor": (1, "math.floor({a})"),
    "log": (1, "math.log({a})"),
    "sine": (1, "math.sin({a})"),
    "cosine": (1, "math.cos({a})"),
    "tangent": (1, "math.tan({a})"),
    "radians_to_degree": (1, "{a} * 180 / math.pi"),
    "degree_to_radians": (1, "{a} * math.pi / 180"),
    "rectangle_area": (2, "{a} * {b}"),
    "rectangle_perimeter": (2, "2 * ({a} + {b})"),
    "square_area": (1, "{a} ** 2"),
    "square_perimeter": (1, "4 * {a}"),
    "square_edge_by_area": (1, "math.sqrt({a})"),
    "square_edge_by_perimeter": (1, "{a} / 4"),
    "diagonal": (2, "math.sqrt({a} ** 2 + {b} ** 2)"),
    "rhombus_area": (2, "{a} * {b} / 2"),
    "rhombus_perimeter": (1, "4 * {a}"),
    "circle_area": (1, "math.pi * {a} ** 2"),
    "circumface": (1, "2 * math.pi * {a}"),
    "triangle_area": (2, "{a} * {b} / 2"),
    "triangle_perimeter": (3, "{a} + {b} + {c}"),
    "triangle_area_three_edges": (
        3,
        (
            "math.sqrt((({a} + {b} + {c}) / 2) * (({a} + {b} + {c}) / 2 - {a}) * (({a} + {b} + {c}) / 2 - {b})"
            " * (({a} + {b} + {c}) / 2 - {c}))"
        ),
    ),
    "quadrilateral_area": (3, "{a} * ({b} + {c}) / 2"),
    "volume_cube": (1, "{a} ** 3"),
    "volume_rectangular_prism": (3, "{a} * {b} * {c}"),
    "volume_cylinder": (2, "math.pi * {a} ** 2 * {b}"),
    "volume_cone": (2, "math.pi * {a} ** 2 * {b} / 3"),
    "volume_sphere": (1, "4 / 3 * math.pi * {a} ** 3"),
    "surface_cube": (1, "6 * {a} ** 2"),
    "surface_rectangular_prism": (3, "2 * ({a} * {b} + {b} * {c} + {a} * {c})"),
    "surface_cylinder": (2, "2 * math.pi * {a} * ({a} + {b})"),
    "surface_sphere": (1, "4 * math.pi * {a} ** 2"),
    "cube_edge_by_volume": (1, "{a} ** (1 / 3)"),
    "speed": (2, "{a} / {b}"),
    "speed_in_still_water": (2, "({a} + {b}) / 2"),
    "stream_speed": (2, "({a} - {b}) / 2"),
    "p_after_gain": (2, "{b} * (100 + {a}) / 100"),
    "original_price_before_gain": (2, "{b} * 100 / (100 + {a})"),
    "original_price_before_loss": (2, "{b} * 100 / (100 - {a})"),
}


def problem_numbers(text: str) -> list[str]:
    """The numbers of a MathQA problem text, in order (thousands separators removed)."""
    return [m.group(0).replace(",", "") for m in _NUMBER.finditer(text)]


def constant_value(name: str) -> str:
    """``const_100`` -> ``100``; ``const_3_6`` -> ``3.6``; ``const_pi`` -> ``math.pi``."""
    body = name[len("const_") :]
    if body == "pi":
        return "math.pi"
    if body == "deg_to_rad":
        return "(math.pi / 180)"
    if re.fullmatch(r"\d+(?:\.\d+)?", body):
        return body
    if re.fullmatch(r"\d+_\d+", body):
        return body.replace("_", ".")
    if body.startswith("m") and re.fullmatch(r"m\d+", body):  # const_m1 = -1
        return f"(-{body[1:]})"
    raise ProgramError(f"unknown constant {name!r}")


def split_steps(linear_formula: str) -> list[tuple[str, list[str]]]:
    steps = []
    for raw in linear_formula.strip().strip("|").split("|"):
        if not raw.strip():
            continue
        match = _STEP.match(raw)
        if not match:
            raise ProgramError(f"malformed step {raw!r}")
        args = [a.strip() for a in match.group(2).split(",") if a.strip()]
        steps.append((match.group(1), args))
    if not steps:
        raise ProgramError("empty formula")
    return steps


def translate(linear_formula: str, problem_text: str) -> str:
    """Readable Python (numbers, one line per step, ``print(answer)``) for a MathQA ``linear_formula``."""
    steps = split_steps(linear_formula)
    numbers = problem_numbers(problem_text)
    used_numbers: set[int] = set()

    def operand(token: str, step: int) -> str:
        if re.fullmatch(r"n\d+", token):
            index = int(token[1:])
            if index >= len(numbers):
                raise ProgramError(f"step {step} uses {token} but the problem has {len(numbers)} numbers")
            used_numbers.add(index)
            return token
        if re.fullmatch(r"#\d+", token):
            ref = int(token[1:])
            if ref >= step:
                raise ProgramError(f"step {step} refers to #{ref}, not computed yet")
            return f"t{ref}"
        if token.startswith("const_"):
            return constant_value(token)
        if re.fullmatch(r"-?\d+(?:\.\d+)?", token):
            return token
        raise ProgramError(f"unknown operand {token!r} in step {step}")

    lines = []
    for index, (op, args) in enumerate(steps):
        if op not in OPERATIONS:
            raise ProgramError(f"unknown operation {op!r}")
        arity, template = OPERATIONS[op]
        if len(args) != arity:
            raise ProgramError(f"{op} takes {arity} arguments, step {index} has {len(args)}")
        values = [operand(a, index) for a in args]
        expression = template.format(**dict(zip("abc", values)))
        lines.append(f"t{index} = {expression}")
    # the last step becomes the answer
    last = lines.pop()
    lines.append("answer" + last[last.index(" = ") :])
    header = [f"n{i} = {float(numbers[i])!r}" for i in sorted(used_numbers)]
    needs_math = any("math." in line for line in lines)
    program = (["import math"] if needs_math else []) + header + lines + ["print(answer)"]
    return "\n".join(program) + "\n"
