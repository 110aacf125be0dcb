"""End-to-end builds on the real source files with a scripted teacher, the real sandbox and grader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tusk.backends.scripted import ScriptedBackend
from tusk.cli import main
from tusk.data.build import build_dataset
from tusk.data.config import parse_config
from tusk.data.manifest import check_build
from tusk.data.sources import get_source
from tusk.errors import TuskError

pytestmark = pytest.mark.slow


def _gsm8k_golds(data_dir: Path, n: int) -> dict[str, str]:
    return {i.problem.question: i.problem.answer for i in list(get_source("gsm8k").load(data_dir=data_dir))[:n]}


def _teacher(golds: dict[str, str], fail_after: int | None = None):
    """Problem k (in file order): k%4==0 right, 1 wrong, 2 no program, 3 crashes."""
    order = list(golds)
    state = {"calls": 0}

    def respond(request, sample):
        state["calls"] += 1
        if fail_after is not None and state["calls"] > fail_after:
            raise KeyboardInterrupt("teacher went away")
        k = next(i for i, q in enumerate(order) if q in request.prompt)
        gold = golds[order[k]]
        return [
            f"Here you go:\n```python\nanswer = {gold}\nprint(answer)\n```",
            f"```python\nprint({gold} + 1)\n```",
            "I am not sure how to solve this.",
            "```python\nprint(1 / 0)\n```",
        ][k % 4]

    return respond


def _config(own_file: Path, teacher: str = "scripted-test") -> dict:
    return {
        "seed": 3,
        "components": [
            {"source": "gsm8k", "mode": "cot", "limit": 40},
            {"source": "math", "mode": "cot", "limit": 30},
            {"source": "mathqa", "mode": "pot", "limit": 40},
            {"source": "jsonl", "mode": "cot", "name": "own", "files": [str(own_file)]},
            {"source": "gsm8k", "mode": "pot", "name": "gsm8k/pot-synth", "limit": 12,
             "synthesise": {"teacher": teacher, "k": 1, "max_tokens": 64}},
        ],
        "verify": {"timeout": 5, "choice_tolerance": 0.02},
        "dedup": {"near_threshold": 0.9},
        "decontaminate": {"ngram": 8, "threshold": 0.5},
    }


def _own_file(tmp_path: Path, data_dir: Path) -> Path:
    test_q = json.loads((data_dir / "gsm8k/test.jsonl").read_text().splitlines()[5])["question"]
    train_q = next(iter(_gsm8k_golds(data_dir, 1)))
    path = tmp_path / "own.jsonl"
    path.write_text(
        json.dumps({"question": test_q, "answer": "1", "output": "leaked. The answer is 1"}) + "\n"
        + json.dumps({"question": train_q, "answer": "72", "output": "another rationale. The answer is 72"}) + "\n"
        + json.dumps({"question": "What is 6 times 7 plus one?", "answer": "43", "output": "6*7+1=43. The answer is 43"})
        + "\n"
    )
    return path


def _check_manifest_matches_output(out: Path) -> tuple[dict, list[dict]]:
    assert check_build(out) == []
    manifest = json.loads((out / "manifest.json").read_text())
    records = json.loads((out / "train.json").read_text())
    assert manifest["records"] == len(records) and len(records) > 0
    assert all(set(r) == {"instruction", "input", "output", "source", "mode"} for r in records)
    return manifest, records


def test_check_build_reports_tampering(tmp_path, shared_data_dir):
    config = parse_config({"components": [{"source": "gsm8k", "mode": "cot", "limit": 20}], "decontaminate": False})
    out = tmp_path / "b"
    build_dataset(config, out, data_dir=shared_data_dir)
    assert check_build(out) == []
    records = json.loads((out / "train.json").read_text())
    (out / "train.json").write_text(json.dumps(records[:-1]))
    problems = check_build(out)
    assert any(p.startswith("records: manifest says 20, output has 19") for p in problems)
    assert any("sha256" in p for p in problems)
    assert main(["data", "check", str(out), "--skip-inputs"]) == 1


def test_build_end_to_end_then_resume(tmp_path, shared_data_dir):
    golds = _gsm8k_golds(shared_data_dir, 12)
    backends = []

    def factory(spec):
        assert spec == "scripted-test"
        backends.append(ScriptedBackend(responder=_teacher(golds)))
        return backends[-1]

    config = parse_config(_config(_own_file(tmp_path, shared_data_dir)))
    out = tmp_path / "build"
    result = build_dataset(config, out, data_dir=shared_data_dir, backend_factory=factory)
    manifest, records = _check_manifest_matches_output(out)
    comps = manifest["components"]

    synth = comps["gsm8k/pot-synth"]
    assert synth["problems"] == 12 and synth["candidates"] == 12
    assert synth["verification"] == {"checked": 12, "passed": 3, "pass_rate": 0.25,
                                     "dropped": {"wrong": 3, "no-program": 3, "error": 3}, "no_gold": 0}
    assert synth["teacher"]["backend"] == "scripted"
    kept_programs = [r["output"] for r in records if r["source"] == "gsm8k" and r["mode"] == "pot"]
    assert len(kept_programs) == 3 and all(p.startswith("answer = ") for p in kept_programs)
    assert all(r["instruction"].endswith("Let's write a program.") for r in records if r["mode"] == "pot")

    mathqa = comps["mathqa/pot"]
    assert mathqa["verification"]["checked"] == 40 and 0.4 < mathqa["verification"]["pass_rate"] < 0.95
    assert comps["gsm8k/cot"]["verification"]["checked"] == 0  # human CoT is not graded
    assert comps["gsm8k/cot"]["selected"] == 40

    own = comps["own"]
    assert own["contaminated"] == 1 and own["dedup_dropped"] == 1 and own["selected"] == 1
    contamination = [json.loads(line) for line in (out / "decontamination.jsonl").read_text().splitlines()]
    assert [(c["benchmark"], c["eval_id"]) for c in contamination if c["key"].startswith("own/")] == [
        ("gsm8k", "gsm8k/5")]
    dedup = [json.loads(line) for line in (out / "dedup.jsonl").read_text().splitlines()]
    assert any(d["key"].startswith("own/") and d["kept"].startswith("gsm8k/cot/") for d in dedup)

    rows = [json.loads(line) for line in (out / "verification.jsonl").read_text().splitlines()]
    assert len(rows) == 52 and {r["status"] for r in rows} >= {"ok", "error", "no-program"}
    assert sum(r["kept"] for r in rows) == mathqa["verification"]["passed"] + 3
    assert result.records == len(records)

    # rerun: everything comes from the caches, the teacher is not asked again, same output
    before = (out / "train.json").read_bytes()
    verdict_lines = len((out / ".work" / "verdicts.jsonl").read_text().splitlines())
    build_dataset(config, out, data_dir=shared_data_dir, backend_factory=factory)
    assert backends[-1].calls == []
    assert (out / "train.json").read_bytes() == before
    assert len((out / ".work" / "verdicts.jsonl").read_text().splitlines()) == verdict_lines


def test_killed_synthesis_resumes_where_it_stopped(tmp_path, shared_data_dir):
    golds = _gsm8k_golds(shared_data_dir, 12)
    config = parse_config({
        "components": [{"source": "gsm8k", "mode": "pot", "limit": 12,
                        "synthesise": {"teacher": "t", "batch": 2}}],
        "decontaminate": False,
    })
    out = tmp_path / "build"
    first = ScriptedBackend(responder=_teacher(golds, fail_after=5))
    with pytest.raises(KeyboardInterrupt):
        build_dataset(config, out, data_dir=shared_data_dir, backend_factory=lambda spec: first)
    assert not (out / "manifest.json").exists()
    cached = (out / ".work" / "synthesis-gsm8k_pot.jsonl").read_text().splitlines()
    assert len(cached) == 5
    second = ScriptedBackend(responder=_teacher(golds))
    build_dataset(config, out, data_dir=shared_data_dir, backend_factory=lambda spec: second)
    assert len(second.calls) == 7  # only the problems the killed build did not finish
    manifest, records = _check_manifest_matches_output(out)
    assert manifest["components"]["gsm8k/pot"]["verification"]["passed"] == 3 == len(records)


def test_cli_build_and_stats(tmp_path, shared_data_dir):
    table = tmp_path / "teacher.jsonl"
    table.write_text(json.dumps({"match": "", "response": "```python\nprint(72)\n```"}) + "\n")
    config = {
        "seed": 0,
        "components": [
            {"source": "gsm8k", "mode": "cot", "limit": 30},
            {"source": "aqua", "mode": "cot", "limit": 20},
            {"source": "gsm8k", "mode": "pot", "name": "gsm8k/pot-synth", "limit": 3,
             "synthesise": {"teacher": f"scripted:{table}"}},
        ],
        "export": {"parquet": True, "hf": True},
    }
    path = tmp_path / "build.yaml"
    import yaml

    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    code = main(["data", "build", "--config", str(path), "--out", str(out), "--data-dir", str(shared_data_dir),
                 "--no-progress"])
    assert code == 0
    manifest, records = _check_manifest_matches_output(out)
    assert manifest["components"]["gsm8k/pot-synth"]["verification"]["passed"] == 1  # 72 is right for problem 0
    assert manifest["output"]["parquet"]["path"] == "train.parquet"
    import pyarrow.parquet as pq

    assert pq.read_table(out / "train.parquet").num_rows == len(records)
    import datasets

    on_disk = datasets.load_from_disk(str(out / "hf"))
    assert on_disk.num_rows == len(records) and on_disk[0]["output"] == records[0]["output"]

    assert main(["data", "check", str(out)]) == 0
    assert main(["data", "stats", str(out), "--json"]) == 0
    for name in ("instruction_lengths.png", "output_lengths.png", "mixture.png"):
        png = out / "plots" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["data", "stats", str(out)]) == 0


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(TuskError, match="unknown key 'capp'"):
        parse_config({"components": [{"source": "gsm8k", "mode": "cot", "capp": 3}]})
    with pytest.raises(TuskError, match="has no human pot rationales"):
        parse_config({"components": [{"source": "gsm8k", "mode": "pot"}]})
    with pytest.raises(TuskError, match="unknown source 'gsm9k'"):
        parse_config({"components": [{"source": "gsm9k", "mode": "cot"}]})
    with pytest.raises(TuskError, match="used twice"):
        parse_config({"components": [{"source": "gsm8k", "mode": "cot"}, {"source": "gsm8k", "mode": "cot"}]})
    with pytest.raises(TuskError, match="no default file"):
        parse_config({"components": [{"source": "jsonl", "mode": "cot"}]})
    with pytest.raises(TuskError, match="non-empty list"):
        parse_config({"seed": 1})
    bad = tmp_path / "bad.yaml"
    bad.write_text("components: [\n")
    assert main(["data", "build", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2


def test_example_configs_parse():
    from tusk.data.config import load_config

    root = Path(__file__).resolve().parents[2] / "configs" / "data"
    configs = sorted(root.glob("*.yaml"))
    assert configs
    for path in configs:
        assert load_config(path).components
