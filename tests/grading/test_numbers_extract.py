"""Tables for the small pieces: number reading and comparison, answer extraction, letters, shapes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tusk.grading.choices import letters_named, options
from tusk.grading.extract import extract_cot, extract_pot, last_boxed
from tusk.grading.normalize import clean_answer, strip_units
from tusk.grading.numbers import numbers_equal, parse_number
from tusk.grading.structure import shape_of
from tusk.types import Problem


@pytest.mark.parametrize(
    "text, value",
    [
        ("18", Fraction(18)),
        ("-3", Fraction(-3)),
        ("1,000", Fraction(1000)),
        ("0.5", Fraction(1, 2)),
        ("1/2", Fraction(1, 2)),
        ("\\frac{3}{4}", Fraction(3, 4)),
        ("\\frac34", Fraction(3, 4)),
        ("-\\frac{5}{7}", Fraction(-5, 7)),
        ("\\frac{-5}{7}", Fraction(-5, 7)),
        ("1.5e3", Fraction(1500)),
        ("1.5 \\times 10^{3}", Fraction(1500)),
        ("2 x 10^4", Fraction(20000)),
        ("50%", Fraction(1, 2)),
        ("12.5\\%", Fraction(1, 8)),
        (".25", Fraction(1, 4)),
        ("1363.0", Fraction(1363)),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text).value == value


@pytest.mark.parametrize("text", ["", "x", "1,00", "2 + 3", "1e999999", "9" * 500, "\\sqrt{2}", "5 apples"])
def test_parse_number_refuses(text):
    assert parse_number(text) is None


@pytest.mark.parametrize(
    "gold, pred, rounding, expected",
    [
        ("50", "0.5", True, False),
        ("1", "1.0001", True, False),
        ("1363.0", "1363", False, True),
        ("0.5", "1/2", True, True),
        ("18", "18.00", True, True),
        ("0.3", "0.30000000000000004", False, True),
        ("4.17", "4.166666666666667", True, True),
        ("4.17", "4.1667", True, True),
        ("4.17", "4.2", True, False),
        ("583.3333", "583.33", True, True),  # coarser than the gold, which is itself rounded: 3+ digits
        ("0.33", "0.3", True, False),  # a coarser rounding of one significant digit is not
        ("583.33", "583.3333", True, True),
        ("920.25", "920.2", True, False),
        ("920.25", "920.3", True, False),
        ("1.5", "1.55", True, False),  # a tie in the more precise direction rounds to neither side
        ("2.5", "2.55", True, False),
        ("1.5", "1.549", True, True),
        ("-1.5", "-1.45", True, False),
        ("0.33", "0.3333", True, True),
        ("0.33", "1/3", True, True),
        ("0.9", "0.899", True, True),
        ("1.3", "1.2999", True, True),
        ("0.9", "0.8", True, False),
        ("2", "2.4", True, False),
        ("583.3333", "583", True, False),
        ("1/3", "0.333", True, False),
        ("1/3", "0.3333333333333333", True, True),
        ("-2.75", "-2.8", False, False),
        ("0.1", "0.14", True, False),
        ("1363.0", "1363.04", True, False),
        ("50", "50%", True, True),
        ("0.45", "45%", True, True),
        ("2", "2.0001", True, False),
        ("-0.4", "0.4", True, False),
    ],
)
def test_numbers_equal(gold, pred, rounding, expected):
    ok, rule = numbers_equal(parse_number(gold), parse_number(pred), rounding)
    assert ok is expected, rule
    ok_swapped, _ = numbers_equal(parse_number(pred), parse_number(gold), rounding=False)
    if not rounding or rule in ("exact", "float"):
        assert ok_swapped is ok or rule == "percent"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("$18", "18"),
        ("18 dollars", "18"),
        ("x = \\$1,000", "1,000"),
        ("30^\\circ", "30"),
        ("12 cm^2", "12"),
        ("4 km/hr", "4"),
        ("Total: 18", "18"),
        ("5 - 3", "5 - 3"),
        ("5 apples and 6 pears", "5 apples and 6 pears"),
        ("three", "3"),
        ("70 thousand dollars", "70000"),
        ("2x", "2x"),
        ("\\text{18 eggs}", "18"),
        ("12 feet squared", "12"),
        ("twenty dollars", "20"),
        ("12 hundred", "1200"),
        ("one hundred", "100"),
        ("five thousand", "5000"),
        ("12 percent", "12%"),
        ("12 people", "12"),
        ("45 minutes", "45"),
        # a tail holding a number or quantity word changes the value: it is not a unit
        ("12 and a half", "12 and a half"),
        ("12 squared", "12 squared"),
        ("12 dozen eggs", "12 dozen eggs"),
        ("twenty five dollars", "25"),  # compound number words, 0 to 99
        ("Twenty-five", "25"),
        ("ninety-nine eggs", "99"),
        ("twenty-five thousand", "25000"),
        ("twenty-fifth", "twenty-fifth"),  # an ordinal is not a count
        ("thirty something", "30 something"),  # an approximate number is not the number
        ("twenty-odd", "twenty-odd"),
        ("12 less than x", "12 less than x"),
        ("5 more dollars", "5"),  # "how many more": the count is the answer
        ("12 odd numbers", "12"),
        ("two thirds", "2 thirds"),
        ("3 quarters of an hour", "3 quarters of an hour"),
        ("three quarters", "3 quarters"),
        ("12 quarters", "12"),  # coins
        ("1 point", "1"),
        ("Error: 18 is not valid", "Error: 18 is not valid"),
        ("ValueError: 18", "ValueError: 18"),
    ],
)
def test_strip_units(text, expected):
    assert strip_units(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("$\\dfrac{1}{2}$.", "\\frac{1}{2}"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "( 3, \\frac{\\pi}{2} )"),
        ("75,\\!075", "75,075"),
        ("\\frac 34", "\\frac{3}{4}"),
        ("\\text{neither}", "neither"),
    ],
)
def test_clean_answer(text, expected):
    assert clean_answer(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("So 9 * 2 = 18. The answer is 18.", "18"),
        ("The answer is $\\boxed{\\frac{1}{2}}$. Next we", "\\frac{1}{2}"),
        ("We get \\boxed{\\frac{\\sqrt{3}}{2}} in the end", "\\frac{\\sqrt{3}}{2}"),
        ("Step\n#### 1,234", "1,234"),
        ("The final answer is 7.5 hours.\n\nMore text", "7.5 hours"),
        ("Final Answer: 60", "60"),
        ("no marker, 3 apples and then 12 pears", "12"),
        ("The answer is: \n\n$x = 4$", "$x = 4$"),
        ("First \\boxed{1}, then the answer is 2.", "2"),
        ("The answer is 2. Then \\boxed{3}", "3"),
        ("", None),
        ("no numbers at all", None),
        ("The answer is $1.5$. It is", "$1.5$"),
        # no marker: a number inside a fraction, exponent or subscript is not "the last number"
        ("So the probability is $\\frac{3}{2}$", "\\frac{3}{2}"),
        ("So she has x^5", "x^5"),
        ("so the total is 2^{10}.", "2^{10}"),
        ("We get $x^2 + 1$.", "x^2 + 1"),
        ("We get $x = 4$.", "4"),
        ("So $5 + 3 = 8$.", "8"),
        ("The temperature dropped to \u221210 degrees", "-10"),
        ("We get x = \u22125", "-5"),
    ],
)
def test_extract_cot(text, expected):
    assert extract_cot(text) == expected


def test_extract_cot_multiple_choice_falls_back_to_last_option_letter():
    assert extract_cot("So 110 students did both, which is option (E).", multiple_choice=True) == "(E)"
    assert extract_cot("(A) is wrong and (B) is wrong, leaving (C)", multiple_choice=True) == "(C)"


@pytest.mark.parametrize(
    "stdout, expected",
    [
        ("18\n", "18"),
        ("  3.5  \n", "3.5"),
        ("", None),
        ("\n\n", None),
        ("60\n180\n366\n", "366"),
        ("The answer is 45\n", "45"),
        ("x\nThe answer is 7\ndone\n", "7"),
        # a printed sentence around one number is read as that number, as a reader would
        ("The total number of bolts is 3.0\n", "3.0"),
        ("Janet makes $18 every day.\n", "18"),
        ("Number of student tickets sold: 137\n", "137"),
        ("It costs 1,250 dollars.\n", "1,250"),
        # ... but not an expression, two numbers, a larger value or an error message
        ("x + 3\n", "x + 3"),
        ("pi times 2\n", "pi times 2"),
        ("3 apples and 4 pears\n", "3 apples and 4 pears"),
        ("The discount is 20 percent\n", "The discount is 20 percent"),
        ("version 1.2.3 of it\n", "version 1.2.3 of it"),
        # no answer content: hybrid decoding falls back to CoT on these (the paper's rule)
        ("Error: 18 is not valid\n", None),
        ("None\n", None),
        ("nan\n", None),
        ("-inf\n", None),
        ("[]\n", None),
        ("{}\n", None),
        ("()\n", None),
        ("set()\n", None),
        ("EmptySet\n", None),
        ("[None, nan]\n", None),
        ("Error: division by zero\n", None),
        ("ZeroDivisionError: division by zero\n", None),
        ("Traceback (most recent call last):\n  File x\nValueError: bad\n", None),
        ("No solution\n", None),
        ("no real solutions found\n", None),
        # a function that printed its answer and returned nothing: the answer, not the None
        ("18\nNone\n", "18"),
        # reprs of numpy, fractions and sympy values
        ("np.float64(18.0)\n", "18.0"),
        ("[np.float64(1.5), np.int64(2)]\n", "[1.5, 2]"),
        ("Fraction(1, 2)\n", "1/2"),
        ("[Rational(1, 2), Fraction(-3, 4)]\n", "[1/2, -3/4]"),
        ("array([18.])\n", "[18.]"),
        ("Interval.Ropen(2, 5)\n", "[2, 5)"),
        ("Interval(-oo, 3)\n", "[-\\infty, 3]"),
        ("Interval.open(0, 1)\n", "(0, 1)"),
        ("[[1 2]\n [3 4]]\n", "Matrix([[1, 2], [3, 4]])"),
        ("2*I\n", "2*i"),
        ("-3 + 6*I\n", "-3 + 6*i"),
    ],
)
def test_extract_pot(stdout, expected):
    assert extract_pot(stdout) == expected


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [("18\nDone\n", "18"), ("Done\n", None), ("True\n", None), ("x = 3\nfinished\n", "x = 3")],
)
def test_extract_pot_numeric_needs_a_digit(stdout, expected):
    # for benchmarks whose golds are numbers, a line without a digit is no answer; an earlier line with one is
    assert extract_pot(stdout, numeric=True) == expected
    assert extract_pot("True\n") == "True"  # a boolean is an answer where golds may be booleans


def test_last_boxed_keeps_nested_braces():
    assert last_boxed("a \\boxed{1} b \\boxed{\\frac{a}{b^{2}}} c")[1] == "\\frac{a}{b^{2}}"
    assert last_boxed("\\boxed{unclosed") is None


@pytest.mark.parametrize(
    "answer, letters",
    [
        ("B", ["B"]),
        ("(b)", ["B"]),
        ("B)", ["B"]),
        ("B.", ["B"]),
        ("(B) 30", ["B"]),
        ("B: 30", ["B"]),
        ("option B", ["B"]),
        ("\\boxed{B}", ["B"]),
        ("\\text{(B)}", ["B"]),
        ("(A) or (C)", ["A", "C"]),
        ("A train covers 110 km", []),
        ("30", []),
        ("b", ["B"]),
        ("F", []),
        ("C, since (A) is too big", ["C"]),
        ("B because option A is too small", ["B"]),
        ("D, not (A)", ["D"]),
        ("(A) because option B is too large", ["A"]),
        ("A or B", ["A", "B"]),
        ("C/D", ["C", "D"]),
        ("A train covers 110 km, so (B)", ["B"]),
        ("c, since (a) is too big", ["C"]),
        ("a, b", ["A", "B"]),
        ("(B) -5 since (A) is 5", ["B"]),
        ("(c) or (d)", ["C", "D"]),
    ],
)
def test_letters_named(answer, letters):
    assert letters_named(answer, "ABCDE") == letters


def test_options_from_choices_and_from_question_text():
    p = Problem("x", "aqua", "q", "B", ("A)24", "B)30"))
    assert options(p) == [("A", "24"), ("B", "30")]
    q = Problem(
        "y", "numglue", "The sand has? \nAnswer Choices: (A) less resistance (B) more resistance.", "B"
    )
    assert options(q) == [("A", "less resistance"), ("B", "more resistance")]


@pytest.mark.parametrize(
    "text, kind",
    [
        ("True", "bool"),
        ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "matrix"),
        ("[2,5)", "seq"),
        ("1, -2", "seq"),
        ("x = 5", "eq"),
        ("12 3 0", "seq"),
        ("\\frac{1}{2}", "leaf"),
        ("[3]", "seq"),
        ("Matrix([[1, 2], [3, 4]])", "matrix"),
        ("(-\\infty,-7) \\cup (1,2)", "leaf"),
    ],
)
def test_shape_of(text, kind):
    assert shape_of(text).kind == kind
