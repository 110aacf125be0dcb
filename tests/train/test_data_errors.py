"""Training-data errors say exactly where: 1-based record numbers in a JSON list, line numbers for JSON Lines
(also saved as .json), the file's own JSON error for a single object; Parquet found by its magic bytes; a folder
without train.json says so; wrong field types and empty outputs are named."""

from __future__ import annotations

import json

import pytest

from tusk.errors import DataError
from tusk.train.data import load_examples

OK = {"instruction": "a", "output": "b"}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name,text,message", [
    ("list.json", json.dumps([OK, {"instruction": "a", "outptu": "b"}]), r"list.json: record 2: missing 'output'"),
    ("lines.json", '{"instruction": ""}\n' + json.dumps(OK) + "\n", r"lines.json: line 1: missing or empty"),
    ("lines2.json", json.dumps(OK) + "\n" + '{"instruction": 5, "output": "b"}\n',
     r"lines2.json: line 2: 'instruction' must be a string, got int"),
    ("object.json", '{\n "instruction": "a",\n "output": "b"\n}\n', r"object.json: expected a JSON list .*one object"),
    ("broken.json", '{\n "instruction": "a",\n "output": \n}\n', r"broken.json: not valid JSON \(line 4"),
    ("typed.json", json.dumps([{"instruction": "a", "output": 5}]), r"record 1: 'output' must be a string, got int"),
    ("input.json", json.dumps([{"instruction": "a", "input": 0, "output": "b"}]),
     r"record 1: 'input' must be a string, got int"),
    ("empty.json", json.dumps([OK, {"instruction": "a", "output": " "}]), r"record 2: empty 'output'"),
])
def test_bad_records_are_named_by_where_they_are(tmp_path, name, text, message):
    with pytest.raises(DataError, match=message):
        load_examples(_write(tmp_path, name, text))


def test_parquet_is_recognised_by_its_bytes_and_rows_count_from_one(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([OK, {"instruction": "c", "output": "d"}]), tmp_path / "t.pq")
    assert [e.instruction for e in load_examples(tmp_path / "t.pq")] == ["a", "c"]
    pq.write_table(pa.Table.from_pylist([OK, {"instruction": "", "output": "d"}]), tmp_path / "bad.pq")
    with pytest.raises(DataError, match=r"bad.pq: row 2: missing or empty 'instruction'"):
        load_examples(tmp_path / "bad.pq")


def test_a_folder_without_train_json_says_so_and_names_a_file_in_it(tmp_path):
    folder = tmp_path / "built"
    folder.mkdir()
    (folder / "train.jsonl").write_text(json.dumps(OK) + "\n")
    with pytest.raises(DataError, match=r"a folder without train.json .*name it: .*built/train.jsonl"):
        load_examples(folder)
