"""``tusk exec`` as users run it: a real subprocess, JSONL in and out."""

from __future__ import annotations

import json
import subprocess
import sys

PROGRAMS = [
    {"id": "sum", "code": "print(sum(range(101)))"},
    {"id": 7, "code": "import sympy as sp\nx = sp.Symbol('x')\nprint(sp.solve(2*x + 3 - 11, x)[0])"},
    {"id": "err", "code": "print('partial')\nraise ValueError('bad')"},
    {"id": "loop", "code": "while True:\n    pass"},
]


def tusk(*args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tusk.cli", "exec", *args],
        input=stdin,
        check=False,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_exec_streams_results_in_order():
    stdin = "".join(json.dumps(p) + "\n" for p in PROGRAMS) + "\n"
    proc = tusk("--timeout", "2", "--workers", "2", "-", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["sum", 7, "err", "loop"]
    assert all(set(line) == {"id", "status", "stdout", "stderr", "seconds"} for line in lines)
    assert [line["status"] for line in lines] == ["ok", "ok", "error", "timeout"]
    assert lines[0]["stdout"] == "5050\n" and lines[1]["stdout"] == "4\n"
    assert lines[2]["stdout"] == "partial\n" and "ValueError: bad" in lines[2]["stderr"]


def test_exec_malformed_line_names_it_after_earlier_results(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(PROGRAMS[0]) + "\n{not json\n" + json.dumps(PROGRAMS[1]) + "\n")
    proc = tusk(str(path), stdin="")
    assert proc.returncode == 2
    assert [json.loads(line)["id"] for line in proc.stdout.splitlines()] == ["sum"]
    assert f"{path}, line 2" in proc.stderr and "not valid JSON" in proc.stderr
    proc = tusk("-", stdin='{"id": 1}\n')
    assert proc.returncode == 2 and "line 1" in proc.stderr and "code" in proc.stderr


def test_exec_refuses_unusable_limits_in_one_line():
    for args, option in (
        (("--timeout", "inf"), "--timeout"),
        (("--timeout", "nan"), "--timeout"),
        (("--memory", "100000000000000"), "--memory"),
        (("--max-output", str(1 << 40)), "--max-output"),
    ):
        proc = tusk(*args, stdin=json.dumps(PROGRAMS[0]) + "\n")
        assert proc.returncode == 2, (args, proc.stderr)
        assert option in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout == ""


def test_exec_writes_any_id_and_output_as_ascii():
    stdin = '{"id": "\\ud800", "code": "print(\'\\u00e9\\u4e2d\')"}\n'
    proc = tusk("--workers", "1", stdin=stdin)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.isascii()
    line = json.loads(proc.stdout)
    assert line["id"] == "\ud800" and line["stdout"] == "\u00e9\u4e2d\n" and line["status"] == "ok"


def test_exec_into_a_closed_pipe_exits_quietly():
    stdin = "".join(json.dumps({"id": i, "code": f"print({i})"}) + "\n" for i in range(40))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tusk.cli", "exec", "--workers", "1", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    try:
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    assert json.loads(first)["id"] == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 0
