from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tusk.cli import COMMANDS, build_parser, main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tusk.cli", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_every_command_has_help(capsys):
    parser = build_parser()
    for name in parser._subparsers._group_actions[0].choices:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: tusk " + name in capsys.readouterr().out
    assert set(parser._subparsers._group_actions[0].choices) <= set(COMMANDS)


def test_unknown_benchmark_is_one_clear_line():
    result = run_cli("eval", "--benchmarks", "gsm9k", "--out", "/tmp/unused-tusk-run")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "gsm9k" in lines[0] and "gsm8k" in lines[0]


def test_missing_model_file_is_reported(tmp_path):
    result = run_cli("eval", "--model", str(tmp_path / "nope.gguf"), "--out", str(tmp_path / "r"))
    assert result.returncode != 0 and "nope.gguf" in result.stderr and "Traceback" not in result.stderr


def test_unknown_model_spec_lists_the_choices(tmp_path):
    result = run_cli("eval", "--model", "gpt-17", "--out", str(tmp_path / "r"))
    assert result.returncode != 0 and "qwen2.5-coder-0.5b" in result.stderr


@pytest.mark.parametrize("what, expected", [("benchmarks", "gsm8k"), ("models", "qwen2.5-coder-0.5b"),
                                            ("backends", "openai")])
def test_ls(what, expected):
    result = run_cli("ls", what)
    assert result.returncode == 0 and expected in result.stdout


def test_ls_backends_names_each_extra_and_what_is_missing(capsys, monkeypatch):
    from tusk.backends import BACKENDS

    assert main(["ls", "backends"]) == 0
    out = capsys.readouterr().out
    for name, info in BACKENDS.items():
        if name != "scripted":
            assert info.spec in out and f"tusk[{info.extra}]" in out  # brackets printed, not eaten as markup
    assert "scripted" not in out
    monkeypatch.setitem(BACKENDS, "vllm", BACKENDS["vllm"].__class__(
        BACKENDS["vllm"].path, "vllm", ("nomod_tusk",), "vllm:DIR_OR_HUB_ID"))
    assert main(["ls", "backends"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "vllm:" in line)
    assert "needs nomod_tusk" in row


def test_eval_cache_reuses_generations_across_runs(tmp_path):
    import json

    table = tmp_path / "answers.jsonl"
    table.write_text(json.dumps({"match": "", "response": "The answer is 4."}) + "\n")
    common = ["eval", "--model", f"scripted:{table}", "--limit", "3", "--cache", str(tmp_path / "gen.sqlite"),
              "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "r1")]) == 0
    table.write_text(json.dumps({"match": "", "response": "The answer is 5."}) + "\n")  # the model "changed"
    assert main([*common, "--out", str(tmp_path / "r2"), "--grader", "mammoth"]) == 0
    for run in ("r1", "r2"):
        rows = [json.loads(line) for line in (tmp_path / run / "samples.jsonl").read_text().splitlines()]
        assert [r["generations"] for r in rows] == [["The answer is 4."]] * 3
    # without the cache the new answers come through
    assert main(["eval", "--model", f"scripted:{table}", "--limit", "3", "--no-progress",
                 "--out", str(tmp_path / "r3")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "r3" / "samples.jsonl").read_text().splitlines()]
    assert rows[0]["generations"] == ["The answer is 5."]


def test_backend_options_reach_the_backend_and_bad_ones_are_refused(tmp_path, monkeypatch):
    import argparse

    from tusk.commands.eval_cmd import _backend_options
    from tusk.errors import TuskError

    args = argparse.Namespace(backend_option=["n_ctx=8192", "dtype=bf16", "ignore_eos=true"], threads=1)
    assert _backend_options(args) == {"n_ctx": 8192, "dtype": "bf16", "ignore_eos": True, "threads": 1}
    with pytest.raises(TuskError, match="KEY=VALUE"):
        _backend_options(argparse.Namespace(backend_option=["n_ctx"], threads=None))


@pytest.mark.slow
def test_sigterm_leaves_a_summary_of_exactly_what_was_stored(tmp_path):
    import signal
    import time

    table = tmp_path / "slow.jsonl"
    table.write_text(json.dumps({"match": "", "response": "```python\nimport time\ntime.sleep(0.3)\nprint(7)\n```"})
                     + "\n")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "tusk.cli", "eval", "--model", f"scripted:{table}", "--mode", "pot",
               "--workers", "1", "--chunk-size", "1", "--limit", "30", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not samples.exists() or samples.read_text().count("\n") < 2):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and "tusk: terminated" in err and "Traceback" not in err
    stored = samples.read_text().count("\n")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and 2 <= summary["benchmarks"]["smoke"]["n"] == stored < 30
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # resumes
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and summary["benchmarks"]["smoke"]["n"] == 30
    assert samples.read_text().count("\n") == 30


@pytest.mark.parametrize("command", [["train", "--config"], ["data", "build", "--out", "unused", "--config"]])
def test_a_yaml_syntax_error_is_one_line_naming_file_and_line(tmp_path, capsys, command):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: x\nlr: [1\nfoo: 2\n")
    assert main([*command, str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{bad} line 3, column 4: not valid YAML: expected ',' or ']'" in err


def test_zero_threads_is_an_error_not_all_cores(tmp_path):
    result = run_cli("eval", "--threads", "0", "--out", str(tmp_path / "r"))
    assert result.returncode != 0 and "--threads must be at least 1" in result.stderr
    assert not (tmp_path / "r").exists()


def test_an_unknown_benchmark_is_refused_before_the_cache_or_the_model(tmp_path):
    cache = tmp_path / "c.sqlite"
    result = run_cli("-v", "eval", "--model", "smollm2-135m", "--benchmarks", "nosuch", "--cache", str(cache),
                     "--out", str(tmp_path / "r"))
    assert result.returncode != 0 and "unknown benchmark 'nosuch'" in result.stderr
    assert "loading" not in result.stderr and not cache.exists()


def test_an_interrupted_eval_says_where_its_partial_summary_is(tmp_path, capsys, monkeypatch):
    import tusk.evaluate
    from tusk.report import summarize

    out = tmp_path / "run"

    def interrupted(config, **kwargs):  # what evaluate leaves after an interrupt: samples and a partial summary
        records = [{"id": f"{b}/{i}", "benchmark": b, "correct": i == 0} for b, n in (("gsm8k", 3), ("svamp", 2))
                   for i in range(n)]
        out.mkdir()
        (out / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        config = {"model": "m", "benchmarks": ["gsm8k", "svamp", "aqua"], "complete": False}
        (out / "config.json").write_text(json.dumps(config))
        (out / "summary.json").write_text(json.dumps(summarize(records, config)))
        raise KeyboardInterrupt

    monkeypatch.setattr(tusk.evaluate, "evaluate", interrupted)
    assert main(["eval", "--benchmarks", "gsm8k,svamp,aqua", "--out", str(out), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert f"partial summary in {out / 'summary.json'}: 5 problems stored (gsm8k 3, svamp 2)" in err
    assert "rerun the same command to resume" in err and err.rstrip().endswith("tusk: interrupted")
