"""``tusk grade``: the CLI contract of DESIGN.md, through the real entry point."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from tusk.cli import main

ROWS = [
    {
        "id": "g1",
        "benchmark": "gsm8k",
        "mode": "cot",
        "response": "9 * 2 = 18. The answer is 18.",
        "gold": "18",
    },
    {
        "id": "a1",
        "benchmark": "aqua",
        "mode": "cot",
        "response": "The answer is (B).",
        "gold": "C",
        "choices": ["A)24", "B)30", "C)36"],
    },
    {"id": "d1", "benchmark": "deepmind", "mode": "pot", "response": "1363\n", "gold": "1363.0"},
    {
        "id": "t1",
        "benchmark": "theoremqa",
        "mode": "pot",
        "response": "[0.3333333333333333, 0.25]\n",
        "gold": "[0.333, 0.25]",
    },
    {"id": "s1", "benchmark": "svamp", "mode": "pot", "response": "", "gold": 51.0},
]


def _write(tmp_path, rows, extra=""):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n" + extra, encoding="utf-8")
    return path


def test_grade_file_strict(tmp_path, capsys):
    assert main(["grade", str(_write(tmp_path, ROWS))]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == ["g1", "a1", "d1", "t1", "s1"]
    assert [o["correct"] for o in out] == [True, False, True, True, False]
    assert out[0]["prediction"] == "18" and out[4]["prediction"] is None
    assert all(set(o) == {"id", "prediction", "correct", "rule"} for o in out)


def test_grade_stdin_mammoth(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(json.dumps(r) for r in ROWS) + "\n"))
    assert main(["grade", "-", "--grader", "mammoth"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # the paper's rules cannot match the DeepMind gold 1363.0
    assert [o["correct"] for o in out] == [True, False, False, False, False]


@pytest.mark.parametrize(
    "bad, message",
    [
        ("not json", "in.jsonl:6: not valid JSON"),
        (
            '{"id": 1, "benchmark": "gsm8k", "mode": "cot", "response": "1"}',
            "in.jsonl:6: missing field 'gold'",
        ),
        (
            '{"id": 1, "benchmark": "gsm8k", "mode": "hybrid", "response": "1", "gold": "1"}',
            "in.jsonl:6: field 'mode'",
        ),
        ("[1, 2]", "in.jsonl:6: expected a JSON object"),
        (
            '{"id": 1, "benchmark": "aqua", "mode": "cot", "response": "1", "gold": "A", "choices": "A)1"}',
            "in.jsonl:6: field 'choices'",
        ),
        # gold is the benchmark's answer: a string (or a number); anything else was graded as its repr
        (
            '{"id": 1, "benchmark": "gsm8k", "mode": "cot", "response": "None", "gold": null}',
            "in.jsonl:6: field 'gold' must be a string or a number, got null",
        ),
        (
            '{"id": 1, "benchmark": "gsm8k", "mode": "cot", "response": "x", "gold": ["3"]}',
            "in.jsonl:6: field 'gold' must be a string or a number, got a list",
        ),
        (
            '{"id": 1, "benchmark": "gsm8k", "mode": "cot", "response": "x", "gold": true}',
            "in.jsonl:6: field 'gold' must be a string or a number, got true",
        ),
        (
            '{"id": 1, "benchmark": "gsm8k", "mode": "cot", "response": "x", "gold": {"a": 1}}',
            "in.jsonl:6: field 'gold' must be a string or a number, got an object",
        ),
        (
            '{"id": 1, "benchmark": "gsm8k", "mode": "cot", "response": "x", "gold": NaN}',
            "in.jsonl:6: field 'gold' must be a finite number",
        ),
        (
            '{"id": 1, "benchmark": 5, "mode": "cot", "response": "3", "gold": "3"}',
            "in.jsonl:6: field 'benchmark' must be a string, got a number",
        ),
    ],
)
def test_bad_line_names_the_line(tmp_path, capsys, bad, message):
    assert main(["grade", str(_write(tmp_path, ROWS, bad + "\n"))]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1
    assert captured.out == ""  # nothing graded before the input is known to be good


def test_numbers_as_gold_are_graded_as_written(tmp_path, capsys):
    rows = [
        {"id": "i", "benchmark": "gsm8k", "mode": "cot", "response": "The answer is 18.", "gold": 18},
        {"id": "f", "benchmark": "svamp", "mode": "pot", "response": "2.5\n", "gold": 2.5},
    ]
    assert main(["grade", str(_write(tmp_path, rows))]) == 0
    assert [json.loads(line)["correct"] for line in capsys.readouterr().out.splitlines()] == [True, True]


def test_bytes_that_are_not_utf8_name_the_line(tmp_path, capsys):
    good = "\n".join(json.dumps(r) for r in ROWS[:2]) + "\n"
    bad = b'{"id": "x", "benchmark": "gsm8k", "mode": "cot", "response": "caf\xe9", "gold": "1"}\n'
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(good.encode() + bad)
    assert main(["grade", str(path)]) == 2
    captured = capsys.readouterr()
    assert f"latin1.jsonl:3: not valid UTF-8 (byte 0xe9 at column {bad.index(0xE9) + 1})" in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    # the same through a real pipe on stdin
    proc = subprocess.run(
        [sys.executable, "-m", "tusk.cli", "grade"],
        input=good.encode() + bad,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == b""
    column = bad.index(0xE9) + 1
    assert proc.stderr.decode().strip().endswith(f"<stdin>:3: not valid UTF-8 (byte 0xe9 at column {column})")


def test_missing_file_and_help(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["grade", "--help"])
    assert exc.value.code == 0


def test_console_entry_point_pipes(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tusk.cli", "grade", "--summary"],
        input=json.dumps(ROWS[0]) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"id": "g1", "prediction": "18", "correct": True, "rule": "string"}
    assert "gsm8k" in proc.stderr  # the summary table


def test_timeout_option(tmp_path, capsys):
    from tusk.grading import get_grader

    path = _write(tmp_path, ROWS[:1])
    assert main(["grade", str(path), "--timeout", "0"]) == 2
    assert "--timeout must be positive" in capsys.readouterr().err
    before = get_grader("strict").timeout
    assert main(["grade", str(path), "--timeout", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is True
    assert get_grader("strict").timeout == before  # the shared grader is left as it was


@pytest.mark.parametrize(
    "gold, message",
    [
        ("24", "in.jsonl:6: field 'gold' must be one of the choice letters ['A', 'B', 'C'] when 'choices'"),
        (1, "got '1'"),  # a 0-based index, as MMLU stores it
        ("A)30", "got 'A)30'"),  # a letter whose text is another option's
        ("F", "got 'F'"),
    ],
)
def test_golds_that_do_not_fit_the_choices_are_refused_naming_the_line(tmp_path, capsys, gold, message):
    bad = {"id": "x", "benchmark": "aqua", "mode": "cot", "response": "(A)", "gold": gold,
           "choices": ["A)24", "B)30", "C)36"]}
    assert main(["grade", str(_write(tmp_path, ROWS, json.dumps(bad) + "\n"))]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_letter_golds_written_with_their_option_text_are_read_as_the_letter(tmp_path, capsys):
    rows = [
        {"id": "t", "benchmark": "aqua", "mode": "cot", "response": "The answer is (A).", "gold": "A)24",
         "choices": ["A)24", "B)30"]},
        {"id": "p", "benchmark": "aqua", "mode": "cot", "response": "The answer is 24.", "gold": "(A)",
         "choices": ["A)24", "B)30"]},
    ]
    assert main(["grade", str(_write(tmp_path, rows))]) == 0
    assert [json.loads(line)["correct"] for line in capsys.readouterr().out.splitlines()] == [True, True]


def test_question_field_is_documented_and_used(tmp_path, capsys):
    from tusk.commands import grade_cmd

    assert "question" in grade_cmd.HELP and "question" in (grade_cmd.__doc__ or "")
    row = {"id": "s", "benchmark": "simuleq", "mode": "cot", "response": "The answer is 9 poets and 15 novelists.",
           "gold": "15"}
    asked = {**row, "question": "How many novelists are there? How many poets are there?"}
    assert main(["grade", str(_write(tmp_path, [row, asked]))]) == 0
    assert [json.loads(line)["correct"] for line in capsys.readouterr().out.splitlines()] == [False, True]
    bad = {**row, "question": 5}
    assert main(["grade", str(_write(tmp_path, [bad]))]) == 2
    assert "field 'question' must be a string" in capsys.readouterr().err


def test_summary_rows_are_keyed_by_the_canonical_benchmark_name(tmp_path, capsys):
    rows = [{**ROWS[0], "id": str(k), "benchmark": name} for k, name in enumerate(["GSM8K", "gsm8k", "gsm-8k"])]
    rows.append({"id": "m", "benchmark": "MATH-500", "mode": "cot", "response": "$\\boxed{2}$", "gold": "2"})
    assert main(["grade", str(_write(tmp_path, rows)), "--summary"]) == 0
    err = capsys.readouterr().err
    table = [line for line in err.splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in table] == ["gsm8k", "math500"]
    assert table[0].split("│")[2].strip() == "3"
