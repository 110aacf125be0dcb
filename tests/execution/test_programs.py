"""extract_program / answer_from_stdout on generations shaped like real model outputs."""

from __future__ import annotations

import pytest

from tusk.programs import answer_from_stdout, extract_program

MAMMOTH_BARE = """def solution():
    total_apples = 5 * 12
    eaten = 7
    return total_apples - eaten

print(solution())"""

CASES = [
    # (name, generation, expected program or None)
    ("mammoth bare code", MAMMOTH_BARE, MAMMOTH_BARE + "\n"),
    (
        "python fence",
        "Let's write a program.\n```python\nx = 3\nprint(x * 2)\n```\nThe answer is 6.",
        "x = 3\nprint(x * 2)\n",
    ),
    ("py fence wins over earlier plain fence", "```\nsome output\n```\n```py\nprint(1)\n```", "print(1)\n"),
    ("first plain fence", "Here:\n```\nprint(2 ** 10)\n```\nand\n```\nprint(3)\n```", "print(2 ** 10)\n"),
    (
        "fence left open by truncation",
        "```python\nimport math\nprint(math.sqrt(16))",
        "import math\nprint(math.sqrt(16))\n",
    ),
    ("indented fence is dedented", "  ```python\n  a = 1\n  print(a)\n  ```", "a = 1\nprint(a)\n"),
    (
        "prose before bare code",
        "We compute the sum of the series.\nn = 10\nprint(n * (n + 1) // 2)",
        "n = 10\nprint(n * (n + 1) // 2)\n",
    ),
    (
        "prose after bare code",
        (
            "import sympy as sp\nx = sp.Symbol('x')\nprint(sp.solve(x - 4, x)[0])\n"
            "This prints 4, which is the answer."
        ),
        "import sympy as sp\nx = sp.Symbol('x')\nprint(sp.solve(x - 4, x)[0])\n",
    ),
    ("pure prose", "The answer is 42 because six times seven is forty-two.", None),
    ("one word", "Yes", None),
    ("a word and a comma", "Prose about the problem.\nTherefore,", None),
    ("two words and a comma", "First, we compute\n\nThen, done", None),
    ("cot with latex", "We have $x^2 = 4$, so $x = \\boxed{2}$.", None),
    ("empty", "", None),
    ("empty fence", "```python\n```", None),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_extract_program(name, text, expected):
    assert extract_program(text) == expected


@pytest.mark.parametrize(
    ("stdout", "answer"),
    [
        ("53\n", "53"),
        ("step 1\nstep 2\n  17.5  \n\n\n", "17.5"),
        ("[-2, 2]\n", "[-2, 2]"),
        ("", None),
        ("\n  \n", None),
        ("no newline at end", "no newline at end"),
    ],
)
def test_answer_from_stdout(stdout, answer):
    assert answer_from_stdout(stdout) == answer


def test_extracted_program_runs_and_gives_the_answer():
    from tusk.execution import run_program

    result = run_program(extract_program(MAMMOTH_BARE))
    assert result.status == "ok"
    assert answer_from_stdout(result.stdout) == "53"
