"""Source loaders on the real upstream files, and their parsers on small records written here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tusk.benchmarks.readers import last_boxed
from tusk.data.sources import SOURCES, get_source
from tusk.data.sources.human_cot import gsm8k_rationale
from tusk.data.sources.mathqa import parse_options
from tusk.data.sources.mathqa_program import ProgramError, problem_numbers, translate
from tusk.data.sources.published import mathinstruct_subsource
from tusk.data.sources.questions import split_question_choices
from tusk.errors import DataError, TuskError


def test_registry_lists_every_source_with_a_description():
    assert {"gsm8k", "math", "aqua", "mathqa", "numglue", "theoremqa", "mathinstruct"} <= set(SOURCES)
    for name, source in SOURCES.items():
        assert source.name == name and source.description and "\n" not in source.description
    with pytest.raises(TuskError, match="known: gsm8k"):
        get_source("nope")


def test_gsm8k_real_file(shared_data_dir):
    items = list(get_source("gsm8k").load(data_dir=shared_data_dir))
    assert len(items) == 7473
    first = items[0]
    assert first.problem.answer == "72"
    assert "<<" not in first.example.output and ">>" not in first.example.output
    assert first.example.output.endswith("The answer is 72")
    assert "48/2 = 24 clips" in first.example.output
    assert all("####" not in i.example.output for i in items)
    assert len({i.problem.id for i in items}) == len(items)
    # thousands separators removed from golds
    assert all("," not in i.problem.answer for i in items)


def test_math_real_file(shared_data_dir):
    items = list(get_source("math").load(data_dir=shared_data_dir))
    assert len(items) == 7500
    assert items[0].problem.answer == "0"
    assert items[1].problem.answer == "8+4i"
    assert all("\\boxed" in i.example.output for i in items if "\\fbox" not in i.example.output)
    assert items[0].problem.meta["level"] == "Level 5"


def test_aqua_real_file(shared_data_dir):
    items = list(get_source("aqua").load(data_dir=shared_data_dir))
    assert len(items) == 254
    first = items[0]
    assert first.problem.choices[0] == "A)32400" and first.problem.answer == "A"
    assert "Answer Choices: (A) 32400 (B) 6000" in first.example.instruction
    assert first.example.output.startswith("Let's solve the multi-choice question step by step.\n")
    assert first.example.output.endswith("The answer is A.")


def test_mathqa_real_files(shared_data_dir):
    counts = {}
    for name, expected in (("dev", 4475), ("test", 2985), ("challenge_test", 604)):
        items = list(get_source("mathqa").load([f"mathqa/{name}.json"], data_dir=shared_data_dir))
        assert len(items) == expected
        assert all(len(i.problem.choices) == 5 for i in items)
        counts[name] = sum(i.example is not None for i in items)
        assert counts[name] >= 0.99 * expected  # nearly every formula translates
    item = list(get_source("mathqa").load(data_dir=shared_data_dir))[4]
    assert item.problem.answer == "A"
    assert item.example.mode == "pot" and item.example.instruction.endswith("Let's write a program.")
    assert "n0 = 48.0" in item.example.output and item.example.output.endswith("print(answer)\n")


def test_numglue_and_theoremqa_real_files(shared_data_dir):
    numglue = list(get_source("numglue").load(data_dir=shared_data_dir))
    assert len(numglue) == 1042 and all(i.example is None for i in numglue)
    letters = [i for i in numglue if i.problem.answer in ("A", "B")]
    assert len(letters) == 162
    assert sum(bool(i.problem.choices) for i in letters) >= 150
    assert all("Answer Choices" not in i.problem.question for i in letters if i.problem.choices)
    theorem = list(get_source("theoremqa").load(data_dir=shared_data_dir))
    assert 700 < len(theorem) < 800  # picture questions skipped
    assert theorem[0].problem.answer == "11760"
    assert any(i.problem.answer.startswith("[") for i in theorem)


def test_gsm8k_rationale_and_errors(tmp_path):
    out, gold = gsm8k_rationale("He pays 2*3 = <<2*3=6>>6 dollars.\n#### 1,006")
    assert out == "He pays 2*3 = 6 dollars.\nThe answer is 1006" and gold == "1006"
    bad = tmp_path / "train.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "x"}) + "\n" + "{oops\n")
    with pytest.raises(DataError, match=r"train.jsonl line 1: no '####'"):
        list(get_source("gsm8k").load([str(bad)]))
    bad.write_text(json.dumps({"question": "q", "answer": "#### 3"}) + "\n{oops\n")
    with pytest.raises(DataError, match=r"train.jsonl line 2: invalid JSON"):
        list(get_source("gsm8k").load([str(bad)]))
    with pytest.raises(DataError, match="missing field 'question'"):
        bad.write_text(json.dumps({"answer": "#### 3"}))
        list(get_source("gsm8k").load([str(bad)]))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so $x=\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("\\boxed{1} then \\boxed{{2}+3}", "{2}+3"),
        ("\\fbox{7}", "7"),
        ("no box", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_parse_mathqa_options_both_formats():
    assert parse_options("a ) 1 / 2 , b ) rs . 1,200 , c ) 3") == ("A)1 / 2", "B)rs . 1,200", "C)3")
    assert parse_options("['a ) 4', 'b ) 4 π', 'c ) 16']") == ("A)4", "B)4 π", "C)16")


def test_problem_numbers_follow_mathqa_order():
    text = "a 3 - digit number , 1,200 rs . and 2.5 % of 7 + x = 21"
    assert problem_numbers(text) == ["3", "1200", "2.5", "7", "21"]


def _run(program: str) -> str:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(
    "formula, text, value",
    [
        ("power(n1,n0)|", "4 questions with 5 choices", 625.0),
        ("divide(const_1,const_2)|power(#0,n0)|subtract(const_1,#1)", "a 3 - digit number", 0.875),
        (
            "divide(n0,n1)|multiply(const_1,const_1000)|divide(#1,#0)|subtract(#2,n1)|",
            "a beats b by 48 meters or 12 seconds",
            238.0,
        ),
        ("circle_area(n0)|", "radius 2", 12.566370614359172),
        ("triangle_area_three_edges(n0,n1,n2)|", "sides 3 , 4 and 5", 6.0),
        ("choose(n0,n1)|multiply(#0,const_3_6)", "choose 5 of 2", 36.0),
        ("add(n0,const_2.0)|", "x = 1", 3.0),
    ],
)
def test_translated_programs_compute_the_formula(formula, text, value):
    program = translate(formula, text)
    assert "print(answer)" in program
    assert float(_run(program)) == pytest.approx(value)


@pytest.mark.parametrize(
    "formula, message",
    [
        ("add(n0,n5)|", "has 1 numbers"),
        ("frobnicate(n0)|", "unknown operation"),
        ("add(n0)|", "takes 2 arguments"),
        ("add(#3,n0)|", "not computed yet"),
        ("add(n0,const_banana)|", "unknown constant"),
        ("", "empty formula"),
    ],
)
def test_untranslatable_formulas_say_why(formula, message):
    with pytest.raises(ProgramError, match=message):
        translate(formula, "only 1 number")


def test_question_choices_split():
    question, choices = split_question_choices("Which has more? \nAnswer Choices: (A) web (B) tree.")
    assert question == "Which has more?" and choices == ("A)web", "B)tree")
    assert split_question_choices("plain") == ("plain", ())


def test_mathinstruct_and_generic_parsers(tmp_path):
    assert mathinstruct_subsource("data/PoT/mathqa.json") == ("mathqa", "pot")
    assert mathinstruct_subsource("data/CoT/gsm_rft.json") == ("gsm_rft", "cot")
    path = tmp_path / "MathInstruct.json"
    records = [
        {"source": "data/CoT/gsm_rft.json", "instruction": "What is 2+2?", "output": "2+2=4. The answer is 4"},
        {"source": "data/PoT/mathqa.json", "instruction": "Add 1 and 2. Let's write a program.",
         "output": "print(1 + 2)"},
    ]
    path.write_text(json.dumps(records))
    items = list(get_source("mathinstruct").load([str(path)]))
    assert [i.example.mode for i in items] == ["cot", "pot"]
    assert items[0].problem.benchmark == "gsm8k" and items[1].problem.benchmark == "aqua"
    assert items[1].example.source == "mathinstruct/mathqa" and items[1].problem.answer == ""
    own = tmp_path / "mine.jsonl"
    own.write_text(
        json.dumps({"question": "1+1?", "answer": 2, "output": "print(1+1)", "mode": "pot"}) + "\n"
        + json.dumps({"question": "Pick", "answer": "B", "choices": ["A)1", "B)2"]}) + "\n"
    )
    mine = list(get_source("jsonl").load([str(own)]))
    assert mine[0].example.instruction == "1+1? Let's write a program." and mine[0].problem.answer == "2"
    assert mine[1].example is None and mine[1].problem.choices == ("A)1", "B)2")
    own.write_text(json.dumps({"question": "x", "answer": 1, "mode": "sql"}))
    with pytest.raises(DataError, match="mode must be cot or pot"):
        list(get_source("jsonl").load([str(own)]))


def test_missing_file_names_the_source_and_url(tmp_path):
    with pytest.raises(DataError, match="source mathinstruct.*huggingface"):
        list(get_source("mathinstruct").load(data_dir=tmp_path))


def test_camel_parser(tmp_path):
    path = tmp_path / "math.jsonl"
    path.write_text(
        json.dumps({"role_1": "Mathematician_RoleType.ASSISTANT", "topic;": "Algebra", "sub_topic": "Linear",
                    "message_1": "Solve 2x + 3 = 7.", "message_2": "2x = 4, so x = 2."}) + "\n"
    )
    (item,) = get_source("camel").load([str(path)])
    assert item.example.instruction == "Solve 2x + 3 = 7." and item.example.output == "2x = 4, so x = 2."
    assert item.example.mode == "cot" and item.problem.answer == "" and item.problem.meta["topic"] == "Linear"
    path.write_text(json.dumps({"message_1": "no answer"}))
    with pytest.raises(DataError, match="missing field 'message_2'"):
        list(get_source("camel").load([str(path)]))


def test_ls_sources_shows_files_modes_and_urls_in_80_columns(capsys):
    from tusk.cli import main
    from tusk.data.sources import SOURCES

    assert main(["ls", "sources"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for line in lines:  # only a URL too long for 80 columns may pass them, and it is never broken
        assert len(line) <= 80 or (line.lstrip().startswith("url: ") and len(line.split("url: ", 1)[1]) > 70)
    for name, source in SOURCES.items():
        block = out.split("\n\n")[list(SOURCES).index(name)]
        assert block.startswith(name + " ")
        for file in source.files:
            assert file in block
        assert ("rationales: " + (", ".join(source.modes) or "none")) in block
        if source.url:
            assert any(line.strip() == f"url: {source.url}" for line in block.splitlines())
        else:
            assert "url:" not in block
