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
