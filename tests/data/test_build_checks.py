"""Builder safeguards: records without gold, empty sources and questions, evaluation-set sources, what
``tusk data check`` cross-checks, relative paths in a config, and config errors caught before any work."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tusk.cli import main
from tusk.data.build import build_dataset
from tusk.data.config import load_config, parse_config
from tusk.data.manifest import check_build
from tusk.data.sources import get_source
from tusk.data.sources.base import read_records
from tusk.errors import DataError


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _own(tmp_path: Path, rows: list[dict], **extra) -> tuple[object, Path]:
    file = _jsonl(tmp_path / "own.jsonl", rows)
    config = parse_config({"components": [{"source": "jsonl", "mode": "pot", "files": [str(file)], **extra}],
                           "decontaminate": False})
    return config, tmp_path / "out"


def test_records_without_gold_are_unverified_not_passed(tmp_path, caplog):
    config, out = _own(tmp_path, [
        {"question": "What is 1+1?", "mode": "pot", "output": "print(3)"},
        {"question": "What is 2+2?", "mode": "pot", "output": "print(5)"},
        {"question": "What is 3+3?", "answer": "6", "mode": "pot", "output": "print(7)"},
        {"question": "What is 4+4?", "answer": "8", "mode": "pot", "output": "print(8)"},
    ])
    with caplog.at_level(logging.WARNING):
        result = build_dataset(config, out)
    stats = result.manifest["components"]["jsonl/pot"]
    assert stats["verification"] == {"checked": 2, "passed": 1, "pass_rate": 0.5, "dropped": {"wrong": 1},
                                     "no_gold": 2}
    assert stats["verified"] == 1 and stats["unverified"] == 2 and stats["available"] == 3
    warnings = [r.getMessage() for r in caplog.records if "no gold answer" in r.getMessage()]
    assert len(warnings) == 1 and "jsonl/pot: 2 of 4" in warnings[0]
    assert check_build(out) == []


def test_empty_file_empty_question_and_empty_build_are_errors(tmp_path, caplog):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    config = parse_config({"components": [{"source": "gsm8k", "mode": "cot", "files": [str(empty)]}],
                           "decontaminate": False})
    with pytest.raises(DataError, match=r"source gsm8k: .*empty\.jsonl holds no records"):
        build_dataset(config, tmp_path / "a")
    array = tmp_path / "array.json"
    array.write_text("[]")
    with pytest.raises(DataError, match="holds no records"):
        build_dataset(parse_config({"components": [{"source": "jsonl", "mode": "cot", "files": [str(array)]}]}),
                      tmp_path / "b")

    config, out = _own(tmp_path, [{"question": "What is 1+1?", "answer": "2", "output": "print(2)"},
                                  {"question": "  ", "answer": "2", "output": "print(2)"}])
    with pytest.raises(DataError, match=r"own\.jsonl line 2: empty 'question'"):
        build_dataset(config, out)

    # every program wrong: the component warns, and a build with 0 records is an error that writes no train.json
    config, out = _own(tmp_path, [{"question": "What is 1+1?", "answer": "2", "mode": "pot", "output": "print(3)"}])
    with caplog.at_level(logging.WARNING), pytest.raises(DataError, match="the build has 0 records"):
        build_dataset(config, out)
    assert any("jsonl/pot ends with 0 records" in r.getMessage() for r in caplog.records)
    assert not (out / "train.json").exists() and (out / "verification.jsonl").exists()


def test_readers_accept_a_bom_number_arrays_from_zero_and_name_directories(tmp_path):
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"question": "q", "answer": "1"}).encode() + b"\n")
    assert [(int(w), w.label) for w, _ in read_records(bom)] == [(1, "line 1")]
    array = tmp_path / "a.json"
    array.write_text(json.dumps([{"question": "q", "answer": "1"}, {"answer": "1"}]))
    with pytest.raises(DataError, match=r"a\.json record 1 \(0-based\): missing field 'question'"):
        list(get_source("jsonl").load_file(array))
    lines = _jsonl(tmp_path / "l.jsonl", [{"question": "q"}, {"answer": "1"}])
    with pytest.raises(DataError, match=r"l\.jsonl line 2: missing field"):
        list(get_source("jsonl").load_file(lines))
    with pytest.raises(DataError, match="is a directory, not a file"):
        get_source("gsm8k").resolve([str(tmp_path)])


def test_relative_paths_in_a_config_file_are_read_from_its_folder(tmp_path, monkeypatch, shared_data_dir):
    folder = tmp_path / "configs"
    folder.mkdir()
    _jsonl(folder / "mine.jsonl", [{"question": "What is 6 times 7?", "answer": "42", "output": "The answer is 42"}])
    data = Path(shared_data_dir).resolve()
    (folder / "c.yaml").write_text(
        f"data_dir: {Path('..', *(['..'] * len(folder.resolve().parts[1:])), *data.parts[1:]).as_posix()}\n"
        "components:\n  - {source: jsonl, mode: cot, files: [mine.jsonl]}\n"
        "  - {source: gsm8k, mode: cot, limit: 2}\n"
        "decontaminate: false\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(folder / "c.yaml")
    assert Path(config.data_dir) == data
    result = build_dataset(config, tmp_path / "out")
    assert result.records == 3
    missing = folder / "bad.yaml"
    missing.write_text("data_dir: nowhere\ncomponents: [{source: gsm8k, mode: cot}]\n")
    with pytest.raises(DataError, match=r"data_dir of .*bad\.yaml") as info:
        build_dataset(load_config(missing), tmp_path / "out2")
    assert "--data-dir" not in str(info.value)


def test_teacher_and_template_errors_name_the_key_before_any_work(tmp_path):
    config = tmp_path / "t.yaml"
    config.write_text("components:\n  - {source: gsm8k, mode: cot, limit: 2}\n"
                      "  - {source: gsm8k, mode: pot, synthesise: {teacher: qwen2.5-coder-0.5bb}}\n")
    with pytest.raises(DataError, match=r"t\.yaml: components\[1\]\.synthesise\.teacher: unknown model"):
        build_dataset(load_config(config), tmp_path / "out")
    assert not (tmp_path / "out" / ".work").exists() or not any((tmp_path / "out" / ".work").iterdir())
    config.write_text("components:\n  - {source: gsm8k, mode: pot, synthesise: {template: 'Solve {questoin}'}}\n")
    with pytest.raises(DataError, match=r"components\[0\]\.synthesise\.template: unknown placeholder 'questoin'"):
        load_config(config)


def test_a_source_that_is_an_evaluation_set_is_decontaminated_against_it(tmp_path, shared_data_dir, caplog):
    from tusk.backends.scripted import ScriptedBackend

    config = parse_config({
        "components": [{"source": "theoremqa", "mode": "cot", "limit": 3, "verify": False,
                        "synthesise": {"teacher": "scripted", "max_tokens": 8}},
                       {"source": "gsm8k", "mode": "cot", "limit": 3}],
        "decontaminate": {"benchmarks": ["gsm8k"]}})
    with caplog.at_level(logging.WARNING):
        result = build_dataset(config, tmp_path / "out", data_dir=shared_data_dir,
                               backend_factory=lambda spec: ScriptedBackend(responder=lambda r, s: "The answer is 1"))
    stats = result.manifest["components"]["theoremqa/cot"]
    assert stats["contaminated"] == 3 and stats["selected"] == 0
    decontam = result.manifest["decontamination"]
    assert decontam["benchmarks"] == ["gsm8k", "theoremqa"]
    assert decontam["eval_set_components"] == {"theoremqa/cot": "theoremqa"}
    assert {i["benchmark"] for i in decontam["inputs"]} == {"gsm8k", "theoremqa"}
    assert any("theoremqa evaluation set" in r.getMessage() for r in caplog.records)
    assert "evaluation set" in get_source("theoremqa").description
    assert check_build(tmp_path / "out") == []


def _good_build(tmp_path: Path, shared_data_dir) -> Path:
    config = parse_config({"components": [{"source": "gsm8k", "mode": "cot", "limit": 6},
                                          {"source": "mathqa", "mode": "pot", "limit": 6}],
                           "decontaminate": {"benchmarks": ["gsm8k"]}})
    out = tmp_path / "b"
    build_dataset(config, out, data_dir=shared_data_dir)
    assert check_build(out) == []
    return out


def test_check_catches_edited_claims_and_review_files(tmp_path, shared_data_dir):
    out = _good_build(tmp_path, shared_data_dir)
    good = (out / "manifest.json").read_text()
    verification = (out / "verification.jsonl").read_text()

    def edited(change) -> list[str]:
        manifest = json.loads(good)
        change(manifest)
        (out / "manifest.json").write_text(json.dumps(manifest))
        return check_build(out)

    assert any("config_sha256" in p for p in edited(lambda m: m["config"]["components"][0].update(limit=7)))
    assert any("'inputs' is missing or empty" in p for p in edited(lambda m: m.update(inputs=[])))
    assert any("decontamination.inputs is empty" in p for p in edited(lambda m: m["decontamination"].update(inputs=[])))

    def more_passed(m):
        v = m["components"]["mathqa/pot"]["verification"]
        v["passed"] += 1
        v["pass_rate"] = round(v["passed"] / v["checked"], 4)
        v["dropped"] = {"wrong": v["checked"] - v["passed"]} if v["checked"] > v["passed"] else {}
        m["components"]["mathqa/pot"]["verified"] += 1
        m["components"]["mathqa/pot"]["available"] += 1
    assert any("passed rows in verification.jsonl" in p for p in edited(more_passed))

    (out / "manifest.json").write_text(good)
    rows = [json.loads(line) for line in verification.splitlines()]
    (out / "verification.jsonl").write_text("".join(json.dumps({**r, "kept": True}) + "\n" for r in rows))
    assert "verification.jsonl: sha256 differs from the manifest" in check_build(out)
    (out / "verification.jsonl").unlink()
    assert "verification.jsonl is missing" in check_build(out)
    (out / "verification.jsonl").write_text(verification)
    (out / "dedup.jsonl").unlink()
    assert check_build(out) == ["dedup.jsonl is missing"]


def test_check_of_an_older_build_says_what_it_lacks(tmp_path, shared_data_dir, capsys):
    out = _good_build(tmp_path, shared_data_dir)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["reviews"], manifest["decontamination"]["inputs"]
    for stats in manifest["components"].values():
        stats["verified"] += stats.pop("unverified")
        stats["verification"].pop("no_gold")
    (out / "manifest.json").write_text(json.dumps(manifest))
    notes: list[str] = []
    assert check_build(out, notes=notes) == []  # what it records still matches
    assert notes == [
        "manifest: no sha256 of the review files (built by an older tusk); rebuild to check them",
        "manifest: decontamination lists no evaluation files (built by an older tusk); rebuild to record them",
    ]
    assert main(["data", "check", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "not checked: manifest: no sha256 of the review files" in printed
    assert "manifest matches train.json and its inputs (except 2 record(s) it lacks" in printed
    # a disagreement in what it does record still fails the check
    manifest["records"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["data", "check", str(out)]) == 1


def test_work_found_in_the_caches_is_left_out_of_the_progress_rate():
    from tusk.backends.scripted import ScriptedBackend
    from tusk.data.records import SourceItem
    from tusk.data.synthesise import GenerationCache, SynthesisSettings, synthesise
    from tusk.types import Problem

    items = [SourceItem(Problem(id=f"p{i}", benchmark="gsm8k", question=f"What is {i}+1?", answer=str(i + 1)))
             for i in range(3)]
    backend = ScriptedBackend(responder=lambda r, s: "```python\nprint(1)\n```")
    cache = GenerationCache(None)
    settings = SynthesisSettings(teacher="scripted", max_tokens=8)
    list(synthesise(items[:2], settings, backend, "c", cache, source="gsm8k"))
    progress, skipped = [], []
    list(synthesise(items, settings, backend, "c", cache, progress.append, source="gsm8k", on_cached=skipped.append))
    assert skipped == [2] and progress == [1]
