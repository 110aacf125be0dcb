"""The killable checker and the grader API the rest of tusk uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tusk.errors import TuskError
from tusk.grading import GRADERS, Grader, get_grader
from tusk.grading.checker import SymbolicChecker
from tusk.grading.strict import StrictGrader
from tusk.types import Problem


@pytest.fixture(scope="module")
def checker():
    c = SymbolicChecker(timeout=1.0)
    yield c
    c.close()


def test_checker_answers_equal_and_value(checker):
    assert checker.equal("\\frac{1}{2}", "\\frac12").value["equal"] is True
    assert checker.equal("4*x**2 + 2", "2 + 4x^2").value["equal"] is True
    assert checker.equal("x+1", "x+2").value["equal"] is False
    assert checker.value("\\sqrt{4}").value["value"] == "2/1"


def test_power_tower_is_killed_and_the_worker_replaced(checker):
    checker.equal("1", "1")  # make sure a worker is up
    before = checker._proc.pid
    result = checker.equal("5^(5^(5^5))", "3")
    assert result.timed_out and result.value is None
    assert checker._proc is not None and checker._proc.pid != before
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # the old worker is gone, not left running
    assert checker.equal("2^{10}", "1024", timeout=60).value["equal"] is True


def test_a_dead_worker_is_restarted(checker):
    checker.equal("1", "1")
    os.kill(checker._proc.pid, signal.SIGKILL)
    checker._proc.wait()
    first = checker.equal("1", "1")
    assert first.error is not None or first.value["equal"] is True
    assert checker.equal("\\pi", "\\pi", timeout=60).value["equal"] is True


def test_checks_run_from_other_threads(checker):
    out = []
    t = threading.Thread(target=lambda: out.append(checker.equal("\\sqrt{8}", "2\\sqrt{2}")))
    t.start()
    t.join(60)
    assert out and out[0].value["equal"] is True


def test_get_grader_registry():
    assert set(GRADERS) == {"strict", "mammoth"}
    assert get_grader() is get_grader("strict")
    for name in GRADERS:
        g = get_grader(name)
        assert isinstance(g, Grader) and g.name == name and g.version
    with pytest.raises(TuskError, match="unknown grader"):
        get_grader("lenient")


def _p(benchmark="math", answer="5", choices=()):
    return Problem(id="t/1", benchmark=benchmark, question="q", answer=answer, choices=choices)


def test_grade_records_its_evidence():
    g = get_grader("strict").grade("So $x = 5$. The answer is $\\boxed{5}$.", _p(), "cot")
    assert (g.correct, g.prediction, g.gold, g.grader) == (True, "5", "5", "strict")
    assert g.rule and g.normalized_prediction == "5" and g.normalized_gold == "5" and not g.timed_out
    none = get_grader("strict").grade("I do not know.", _p(), "cot")
    assert (none.correct, none.prediction, none.rule) == (False, None, "no_answer")


def test_timeout_is_recorded_in_the_grade():
    # a LaTeX parse takes milliseconds, so a 1 ms limit makes any symbolic check time out
    grader = StrictGrader(checker=SymbolicChecker(timeout=0.001))
    try:
        grader.checker.request({"op": "value", "a": "1"}, timeout=60)  # wait for start-up outside the limit
        g = grader.grade("The answer is $\\frac{\\sqrt{7}}{3}$", _p(answer="\\sqrt{7}/3"), "cot")
        assert g.timed_out and not g.correct and g.rule == "timeout"
    finally:
        grader.checker.close()


@pytest.mark.parametrize("answer", ["5^{5^{5^{5}}}", "9**(9**9)", "2^{123456}", "(10000)!"])
def test_power_towers_are_refused_without_symbolic_work(answer):
    g = get_grader("strict").grade(f"The answer is ${answer}$", _p(answer="3"), "cot")
    assert not g.correct and g.rule == "too_heavy" and not g.timed_out


def test_length_guard_for_degenerate_answers():
    g = get_grader("strict").grade("The answer is " + "1" * 5000, _p(benchmark="gsm8k", answer="1"), "cot")
    assert not g.correct and g.rule == "too_long"


@pytest.mark.parametrize(
    "a, b, benchmark, choices, same",
    [
        ("0.5", "1/2", "math", (), True),
        ("18", "18.0", "gsm8k", (), True),
        ("x = 5", "5", "math", (), True),
        ("[2,5)", "(2,5)", "math", (), False),
        ("\\sqrt{8}", "2\\sqrt{2}", "math", (), True),
        ("(B)", "30", "aqua", ("A)24", "B)30"), True),
        ("A", "30", "aqua", ("A)24", "B)30"), False),
        ("4.17", "4.166666", "numglue", (), False),
        ("3, 5", "[5, 3]", "deepmind", (), True),
    ],
)
def test_equivalent_for_voting(a, b, benchmark, choices, same):
    problem = _p(benchmark=benchmark, answer="B" if choices else "1", choices=choices)
    grader = get_grader("strict")
    assert grader.equivalent(a, b, problem) is same
    assert grader.equivalent(b, a, problem) is same


def test_mammoth_reproduces_the_paper_rules():
    m = get_grader("mammoth")
    assert m.grade("The answer is 0.33", _p(answer="\\frac{1}{3}"), "cot").correct  # 4% tolerance
    assert m.grade("The answer is 5.1", _p(answer="5"), "cot").correct  # round(pred) == int gold
    assert not m.grade("The answer is 1363", _p(benchmark="deepmind", answer="1363.0"), "cot").correct
    assert m.grade("18.0", _p(benchmark="gsm8k", answer="18"), "pot").correct
    letters = ("A)1", "B)2", "C)3")
    assert m.grade(
        "The answer is (A) or (C)", _p(benchmark="aqua", answer="A", choices=letters), "cot"
    ).correct
    assert m.grade("The answer is (c).", _p(benchmark="theoremqa", answer="(c)"), "cot").rule == "option_in"


@pytest.mark.parametrize(
    "response, mode",
    [
        ("The answer is 1e400.", "cot"),
        ("The answer is -1e400.", "cot"),
        (str(2**1100), "pot"),
        ("inf", "pot"),
        ("The answer is \\boxed{1e999}", "cot"),
    ],
)
@pytest.mark.parametrize("gold", ["5", "\\frac{1}{2}"])
def test_mammoth_reads_a_number_too_large_for_a_float_as_not_a_number(response, mode, gold):
    for benchmark in ("math", "theoremqa"):
        g = get_grader("mammoth").grade(response, _p(benchmark=benchmark, answer=gold), mode)
        assert (g.correct, g.rule) == (False, "not_a_number")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_workers_die_with_a_killed_grading_process():
    code = (
        "from tusk.grading.checker import SymbolicChecker\n"
        "c = SymbolicChecker(timeout=600)\n"
        "c.warm()\n"
        "print(c._proc.pid, c._standby.pid, flush=True)\n"
        "c.equal('5^(5^(5^5))', '3')\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pids = [int(x) for x in parent.stdout.readline().split()]
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    time.sleep(0.5)  # let the hopeless check start
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a checker worker outlived its grading process"


@pytest.mark.slow
def test_warm_starts_a_ready_standby():
    c = SymbolicChecker(timeout=0.5)
    try:
        c.warm()
        assert c._standby is not None and c._standby_ready
        assert c.equal("5^(5^(5^5))", "3").timed_out
        assert c._ready  # the promoted standby had already imported everything
        assert c.equal("\\frac{1}{2}", "0.5", timeout=60).value["equal"] is True
    finally:
        c.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_neither_uses_nor_kills_the_parents_worker(checker):
    checker.equal("1", "1")
    parent_worker = checker._proc.pid
    pid = os.fork()
    if pid == 0:  # child: close (as atexit would), then grade with a worker of its own
        try:
            checker.close()
            ok = (
                checker.equal("\\sqrt{4}", "2", timeout=60).value["equal"]
                and checker._proc.pid != parent_worker
            )
            checker.close()
            os._exit(0 if ok else 1)
        except BaseException:  # noqa: BLE001 - the child must never return into pytest
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert _alive(parent_worker) and checker._proc.pid == parent_worker
    assert checker.equal("\\frac{1}{2}", "0.5", timeout=60).value["equal"] is True


def test_plain_answers_never_start_the_checker_process():
    checker = SymbolicChecker()
    grader = StrictGrader(checker=checker)
    cases = [
        ("gsm8k", "18", "9 * 2 = 18. The answer is $18.00.", (), True),
        ("gsm8k", "70000", "The answer is 70,000 dollars.", (), True),
        ("svamp", "51", "51.00000000000001\n", (), True),
        ("deepmind", "1363.0", "The answer is 1363", (), True),
        ("deepmind", "[3, 5]", "The answer is 3 and 5.", (), True),
        ("numglue", "4.17", "4.166666666666667", (), True),
        ("aqua", "B", "The answer is 30", ("A)24", "B)30"), True),
        ("math", "\\frac{1}{2}", "$\\boxed{0.5}$", (), True),
        ("math", "[2,5)", "$\\boxed{(2,5)}$", (), False),
        ("gsm8k", "50", "The answer is 0.5", (), False),
    ]
    for benchmark, gold, response, choices, expected in cases:
        problem = Problem(id="t", benchmark=benchmark, question="q", answer=gold, choices=choices)
        assert grader.grade(response, problem, "cot").correct is expected, (gold, response)
    assert checker._proc is None  # decided by string and exact-number rules, no inter-process traffic


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('os').system('touch {f}')",
        "().__class__.__base__.__subclasses__()",
        "open('{f}', 'w').write('x')",
        "exec(\"open('{f}','w')\")",
        "\\sqrt{{__import__('os').system('touch {f}')}}",
        "\\text{{__import__('os').system('touch {f}')}}",
    ],
)
def test_python_answers_are_never_evaluated_as_code(tmp_path, checker, payload):
    target = tmp_path / "pwned"
    text = payload.format(f=target)
    result = checker.equal(text, "1", timeout=60)
    assert result.value is None or result.value["equal"] is False
    grade = get_grader("strict").grade(text + "\n", _p(benchmark="deepmind", answer="x + 1"), "pot")
    assert not grade.correct
    assert not target.exists()


@pytest.mark.parametrize(
    "answer, ok, rule",
    [
        ("15 + 9 = 24 people", False, "result_number_mismatch"),  # a sum holding the gold
        ("15 * 2", False, "not_a_number"),
        ("x = 15 + 9", False, None),
        ("x = 15, y = 9", True, "first_value_exact"),
        ("(15, 9)", True, "first_value_exact"),
        ("15 cats and 9 dogs", True, None),
        ("cats 15, dogs 9", True, "first_value_exact"),  # print("cats", cats) in a program
        ("9 + 6, 3", False, None),
        ("24 - 9 = 15 cats", True, "result_exact"),
    ],
)
def test_simuleq_first_value_only_for_lists_of_values(answer, ok, rule):
    problem = _p(benchmark="simuleq", answer="15")
    g = get_grader("strict").judge(answer, problem)
    assert g.correct is ok and (rule is None or g.rule == rule), g


@pytest.mark.parametrize(
    "question, ordered",
    [
        ("What are the four integers in increasing order?", True),
        ("Put 5, i, -2 in descending order.", True),
        ("List them from least to greatest.", True),
        ("Sort 3, 0, q.", True),
        ("Give the values, ordered from smallest to largest.", True),
        ("Find all solutions.", False),
    ],
)
def test_a_list_is_ordered_when_the_question_asks_for_an_order(question, ordered):
    problem = Problem(id="t/1", benchmark="math", question=question, answer="7, 9, 12, 13")
    grader = get_grader("strict")
    assert grader.judge("13, 12, 9, 7", problem).correct is not ordered
    assert grader.judge("7, 9, 12, 13", problem).correct
    assert grader.equivalent("13, 12, 9, 7", "7, 9, 12, 13", problem) is not ordered
