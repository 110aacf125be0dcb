"""Broken upstream files (written in tmp_path) fail with one DataError naming the file and the line."""

from __future__ import annotations

import json

import pytest

from tusk.benchmarks import get_benchmark
from tusk.errors import DataError


def write(root, relpath, text):
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


def pretty_array(*records):
    return json.dumps(list(records), indent=4)


GOOD_GSM = {"question": "1+1?", "answer": "1+1=2\n#### 2"}
GOOD_MATH = {"id": "test/algebra/1.json", "problem": "p", "level": "Level 1", "type": "Algebra",
             "solution": "so \\boxed{2}"}

CASES = [
    # (benchmark, relpath, file text, expected message fragment)
    ("gsm8k", "gsm8k/test.jsonl", jsonl(GOOD_GSM, {"question": "q", "answer": "no marker"}),
     "gsm8k/test.jsonl line 2: no '####' answer"),
    ("gsm8k", "gsm8k/test.jsonl", jsonl(GOOD_GSM) + "\n" + '{"question": "q", "answer": \n',
     "gsm8k/test.jsonl line 3: not valid JSON"),
    ("gsm8k", "gsm8k/test.jsonl", jsonl(GOOD_GSM, {"answer": "#### 3"}),
     "gsm8k/test.jsonl line 2: missing field 'question'"),
    ("gsm8k", "gsm8k/test.jsonl", jsonl(GOOD_GSM, ["not", "an", "object"]),
     "gsm8k/test.jsonl line 2: expected a JSON object, got list"),
    ("math", "math/hendrycks_test.jsonl", jsonl(GOOD_MATH, {**GOOD_MATH, "solution": "no box here"}),
     "math/hendrycks_test.jsonl line 2: no \\boxed{...} answer"),
    ("math", "math/hendrycks_test.jsonl", jsonl(GOOD_MATH, {**GOOD_MATH, "solution": "\\boxed{unclosed"}),
     "math/hendrycks_test.jsonl line 2: no \\boxed{...} answer"),
    ("aqua", "aqua/test.json", jsonl({"question": "q", "options": ["A)1", "B)2"], "correct": "C"}),
     "aqua/test.json line 1: answer 'C' is not one of the options"),
    ("aqua", "aqua/test.json", jsonl({"question": "q", "options": "A)1 B)2", "correct": "A"}),
     "aqua/test.json line 1: field 'options' is str, expected list"),
    ("numglue", "numglue/numglue.json",
     pretty_array({"question": "q", "answer": 3, "type": "Type_1"},
                  {"question": "Which?\nAnswer Choices: (A) x (B) y", "answer": "C", "type": "Type_3"}),
     "numglue/numglue.json line 7: answer 'C' is not one of the listed choices"),
    ("numglue", "numglue/numglue.json", '[{"question": "q", "answer": 3},\n {"question": "q" "answer": 4}]',
     "numglue/numglue.json line 2: not valid JSON"),
    ("numglue", "numglue/numglue.json", '{"question": "q", "answer": 3}',
     "numglue/numglue.json line 1: expected a JSON array"),
    ("svamp", "svamp/SVAMP.json",
     pretty_array({"ID": "a", "Body": "b", "Question": "q", "Answer": 1.0},
                  {"ID": "b", "Body": "b", "Question": "q", "Answer": "one"}),
     "svamp/SVAMP.json line 8: field 'Answer' is str, expected int or float"),
    ("deepmind", "deepmind/deepmind.json", pretty_array({"question": "q", "answer": "1"}, {"question": "q"}),
     "deepmind/deepmind.json line 6: missing field 'answer'"),
    ("simuleq", "simuleq/simuleq.json", pretty_array({"question": "q", "answer": []}),
     "simuleq/simuleq.json line 2: field 'answer' is an empty list"),
    ("sat", "sat/sat.json", pretty_array({"question": "no options here", "answer": "A"}),
     "sat/sat.json line 2: no 'Answer Choices:' in the question"),
    ("mmlu_math", "mmlu_math/mathematics.json",
     pretty_array({"question": "q", "subject": "s", "choices": ["1", "2", "3", "4"], "answer": 7}),
     "mmlu_math/mathematics.json line 2: answer index 7 is not 0-3"),
    ("mmlu_math", "mmlu_math/mathematics.json",
     pretty_array({"question": "q", "subject": "s", "choices": ["1", "2"], "answer": 0}),
     "mmlu_math/mathematics.json line 2: expected 4 choices, got 2"),
    ("theoremqa", "theoremqa/theoremqa_test.json", pretty_array({"Question": "q", "Answer": None}),
     "theoremqa/theoremqa_test.json line 2: missing field 'Answer'"),
    ("math500", "math/test_math500.jsonl", jsonl({"problem": "p", "answer": "  "}),
     "math/test_math500.jsonl line 1: field 'answer' is empty"),
]


@pytest.mark.parametrize("name, relpath, text, message", CASES, ids=[c[3][:40] for c in CASES])
def test_malformed_file_names_file_and_line(tmp_path, name, relpath, text, message):
    write(tmp_path, relpath, text)
    with pytest.raises(DataError) as info:
        get_benchmark(name).load(tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_good_small_files_load(tmp_path):
    write(tmp_path, "gsm8k/test.jsonl", jsonl(GOOD_GSM, {"question": " q ", "answer": "x\n#### 1,234"}))
    problems = get_benchmark("gsm8k").load(tmp_path)
    assert [(p.id, p.question, p.answer) for p in problems] == [("gsm8k/0", "1+1?", "2"), ("gsm8k/1", "q", "1234")]


def test_simuleq_list_gold(tmp_path):
    write(tmp_path, "simuleq/simuleq.json", pretty_array({"question": "q", "answer": [15, 9.0]}))
    (problem,) = get_benchmark("simuleq").load(tmp_path)
    assert problem.answer == "[15, 9]" and problem.meta["answers"] == ["15", "9"]


def test_mmlu_csv_wrong_columns(tmp_path):
    from tusk.benchmarks.mmlu_math import load_raw_csv

    write(tmp_path, "mmlu_math/raw/dev/algebra_dev.csv", 'q,1,2,3,4,B\n"multi\nline q",1,2,3,C\n')
    with pytest.raises(DataError, match=r"mmlu_math/raw/dev/algebra_dev.csv line 2: expected 6 columns"):
        load_raw_csv(tmp_path, "dev", subjects=("algebra",))
