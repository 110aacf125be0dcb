from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tusk.report import summarize, table_rows
from tusk.report_html import write_html


def rows_for(benchmark, n, correct, **extra):
    return [
        {"id": f"{benchmark}/{i}", "benchmark": benchmark, "correct": i < correct, "mode": "cot",
         "prediction": "1", "gold": "1", "prompt": "Q?", "generations": ["A."], **extra}
        for i in range(n)
    ]


def test_averages_follow_the_paper_domains():
    records = rows_for("gsm8k", 10, 5) + rows_for("math", 4, 1) + rows_for("svamp", 5, 5) + rows_for("smoke", 2, 0)
    summary = summarize(records, {"model": "m", "mode": "cot", "grader": "strict",
                                  "benchmarks": ["gsm8k", "math", "svamp", "smoke"]})
    assert list(summary["benchmarks"]) == ["gsm8k", "math", "svamp", "smoke"]
    assert summary["benchmarks"]["math"] == {"n": 4, "correct": 1, "accuracy": 0.25, "domain": "in",
                                             "pot_answers": 0, "fell_back": 0, "no_answer": 0, "cut_off": 0,
                                             "answers": 4, "execution": {}}
    avg = summary["averages"]
    assert avg["in_domain"] == pytest.approx((0.5 + 0.25) / 2)  # unweighted over benchmarks, as the paper
    assert avg["out_of_domain"] == pytest.approx(1.0)
    assert avg["all"] == pytest.approx((0.5 + 0.25 + 1.0) / 3)  # the paper's sets; smoke has its column only
    extras = summarize(rows_for("smoke", 4, 1) + rows_for("math500", 2, 2), {"benchmarks": ["smoke", "math500"]})
    assert extras["averages"] == {"in_domain": None, "out_of_domain": None, "all": pytest.approx(0.625)}


def test_summary_counts_modes_fallbacks_and_execution_statuses():
    records = rows_for("gsm8k", 3, 2)
    records[0].update(mode="pot", execution_status="ok")
    records[1].update(fell_back=True, execution_status="timeout")
    records[2].update(prediction=None, extra={"finish_reasons": ["stop", "length"]})  # cut off at max tokens
    b = summarize(records, {"benchmarks": ["gsm8k"]})["benchmarks"]["gsm8k"]
    assert (b["pot_answers"], b["fell_back"], b["no_answer"], b["cut_off"]) == (1, 1, 1, 1)
    assert b["execution"] == {"ok": 1, "timeout": 1}


def test_table_has_one_row_per_run_and_dashes_for_missing_benchmarks():
    a = summarize(rows_for("gsm8k", 4, 3), {"benchmarks": ["gsm8k"]})
    b = summarize(rows_for("svamp", 2, 1), {"benchmarks": ["svamp"]})
    header, rows = table_rows([("run-a", a), ("run-b", b)])
    assert header == ["run", "GSM", "SVAMP", "in-dom", "out-dom", "avg"]
    # "*": 4 of GSM8K's 1319 problems, a subset
    assert rows == [["run-a", "75.0*", "-", "75.0", "-", "75.0"], ["run-b", "-", "50.0*", "-", "50.0", "50.0"]]
    full = summarize(rows_for("smoke", 35, 7), {"benchmarks": ["smoke"]})
    assert table_rows([("all-of-smoke", full)])[1] == [["all-of-smoke", "20.0", "-", "-", "20.0"]]


def make_run(path, records, config):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    (path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (path / "summary.json").write_text(json.dumps(summarize(records, config)))


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium (installed by .ci/run)")
def test_html_report_renders_in_a_real_browser(tmp_path):
    records = rows_for("gsm8k", 6, 4) + rows_for("svamp", 3, 1)
    records[5]["prediction"] = "<b>41</b>"  # model output must be escaped, not rendered
    records[4].update(mode="cot", fell_back=True, execution_status="error", program="print(1/0)",
                      generations=["pot text", "cot text"],
                      extra={"generation_modes": ["pot", "cot"], "fallback_prompt": "Solve in prose: Q?",
                             "stderr": "ZeroDivisionError: division by zero"})
    make_run(tmp_path / "r1", records, {"model": "m", "mode": "hybrid", "grader": "strict", "prompt": "alpaca",
                                        "max_tokens": 64, "samples": 1, "limit": 6,
                                        "benchmarks": ["gsm8k", "svamp"]})
    report = write_html([tmp_path / "r1"], tmp_path / "report.html")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120, check=False).stdout
    assert "<table id=\"scores\">" in dom or "id=\"scores\"" in dom
    assert "66.7" in dom and "33.3" in dom  # GSM 4/6, SVAMP 1/3
    assert "&lt;b&gt;41&lt;/b&gt;" in dom and "<b>41</b>" not in dom
    assert dom.count("class=\"sample\"") == 4  # the wrong answers (2 GSM, 2 SVAMP), for inspection
    assert "id=\"settings\"" in dom and "<td>max tokens</td><td>64</td>" in dom and "<td>limit</td><td>6</td>" in dom
    assert "on part of the test set" in dom  # 6 of 1319 GSM8K problems
    fallback = dom[dom.index("gsm8k/4:"):]
    fallback = fallback[:fallback.index("</details>")]
    for label in ("generation 1 (pot)", "CoT fallback prompt", "generation 2 (cot)", "program", "stderr"):
        assert f"<h4>{label}</h4>" in fallback
    assert fallback.index("generation 1 (pot)") < fallback.index("CoT fallback prompt") < fallback.index(
        "generation 2 (cot)")
    assert "ZeroDivisionError" in fallback and "fell back to CoT" in fallback
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,900", report.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    image = Image.open(shot).convert("L")
    assert image.size == (1200, 900)
    assert image.getextrema()[0] < 100  # something dark (text, bars) was drawn on the white page


def test_partial_runs_are_marked_and_bad_inputs_are_one_line_errors(tmp_path):
    from tusk.errors import DataError, TuskError
    from tusk.report import load_summary

    records = rows_for("gsm8k", 4, 3)
    make_run(tmp_path / "done", records, {"model": "m", "benchmarks": ["gsm8k"]})
    (tmp_path / "killed").mkdir()  # a killed run: samples and config, no summary
    (tmp_path / "killed/config.json").write_text(json.dumps({"model": "m", "benchmarks": ["gsm8k"]}))
    (tmp_path / "killed/samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    summaries = [(name, load_summary(tmp_path / name)) for name in ("done", "killed")]
    assert [row[0] for row in table_rows(summaries)[1]] == ["done", "killed (partial)"]
    assert summaries[1][1]["benchmarks"]["gsm8k"]["n"] == 2
    (tmp_path / "done/summary.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="not a tusk summary"):
        load_summary(tmp_path / "done")
    with pytest.raises(TuskError, match="not a run directory"):
        load_summary(tmp_path / "nope")
    bad = {k: v for k, v in records[0].items() if k != "correct"}
    (tmp_path / "killed/samples.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(DataError, match="missing or invalid 'correct'"):
        load_summary(tmp_path / "killed")
    (tmp_path / "killed/samples.jsonl").write_text(json.dumps(records[0]) + "\n")
    with pytest.raises(TuskError, match="cannot write the HTML report"):
        write_html([tmp_path / "killed"], tmp_path / "no/such/dir/report.html")


def test_paper_rows_match_the_papers_printed_averages_and_follow_the_runs_benchmarks():
    from tusk.errors import TuskError
    from tusk.paper_results import PAPER_RESULTS, paper_models, paper_summaries

    printed = {"MAmmoTH-7B": 47.9, "MAmmoTH-Coder-7B": 52.0, "MAmmoTH-13B": 52.9, "MAmmoTH-Coder-13B": 54.9,
               "MAmmoTH-Coder-34B": 62.1, "MAmmoTH-70B": 63.4}
    rows = paper_summaries(paper_models("all"))
    assert [label for label, _ in rows] == [f"{m} (paper)" for m in PAPER_RESULTS]
    for (_, summary), model in zip(rows, PAPER_RESULTS, strict=True):
        assert round(100 * summary["averages"]["all"], 1) == printed[model]
        assert len(summary["benchmarks"]) == 9
    assert paper_models("7b, MAmmoTH-Coder-7B,7B") == ["MAmmoTH-7B", "MAmmoTH-Coder-7B"]
    with pytest.raises(TuskError, match="unknown model '8b'.*Coder-34B"):
        paper_models("8b")
    run = summarize(rows_for("gsm8k", 4, 3) + rows_for("svamp", 2, 1), {"benchmarks": ["gsm8k", "svamp"]})
    header, table = table_rows([("mine", run), *paper_summaries(["MAmmoTH-7B"], ["gsm8k", "svamp", "smoke"])])
    assert header == ["run", "GSM", "SVAMP", "in-dom", "out-dom", "avg"]
    assert table[1] == ["MAmmoTH-7B (paper)", "53.6", "67.7", "53.6", "67.7", "60.7"]  # averaged like the run


def test_report_command_compares_runs_and_adds_paper_rows(tmp_path, capsys, monkeypatch):
    from tusk.cli import main

    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal setting must not cut columns in a pipe
    base = rows_for("gsm8k", 20, 5)
    better = rows_for("gsm8k", 20, 15)
    make_run(tmp_path / "a", base, {"model": "a", "mode": "cot", "grader": "strict", "benchmarks": ["gsm8k"]})
    make_run(tmp_path / "b", better, {"model": "b", "mode": "cot", "grader": "strict", "benchmarks": ["gsm8k"]})
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "--compare", "--details", "--paper", "7b",
                 "--html", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "all benchmarks above (pooled)" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[1:8] == ["20", "25.0", "75.0", "+50.0", "10", "0", "0.00195"]  # 2 / 2**10, exact McNemar
    assert "MAmmoTH-7B (paper)" in out and "53.6" in out
    assert "11.2-46.9" in out  # Wilson interval of 5/20 in --details
    page = (tmp_path / "r.html").read_text()
    assert "id='comparison'" in page and "0.00195" in page and "MAmmoTH-7B (paper)" in page
    assert main(["report", str(tmp_path / "a"), "--compare"]) == 2
    assert "needs at least two run directories" in capsys.readouterr().err


def test_paper_rows_need_a_paper_benchmark_and_say_when_runs_differ(tmp_path, capsys):
    from tusk.cli import main
    from tusk.compare import compare_records
    from tusk.report import comparison_rows

    make_run(tmp_path / "smoke", rows_for("smoke", 3, 1), {"model": "s", "benchmarks": ["smoke"]})
    assert main(["report", str(tmp_path / "smoke"), "--paper", "7b"]) == 2
    assert "none of the paper's nine benchmarks" in capsys.readouterr().err
    make_run(tmp_path / "gsm", rows_for("gsm8k", 4, 2), {"model": "g", "benchmarks": ["gsm8k"]})
    make_run(tmp_path / "svamp", rows_for("svamp", 4, 2), {"model": "v", "benchmarks": ["svamp"]})
    assert main(["report", str(tmp_path / "gsm"), str(tmp_path / "svamp"), "--paper", "7b"]) == 0
    assert "the runs cover different benchmarks" in capsys.readouterr().out.replace("\n", " ")
    # a benchmark that only one run holds is shown as not measured, not as "no change"
    rows = comparison_rows(compare_records(rows_for("gsm8k", 2, 1), rows_for("svamp", 2, 1)))[1]
    assert rows[0][:3] == ["gsm8k", "0", "-"] and rows[0][-1] == "2"


def test_settings_say_how_a_run_decoded(tmp_path):
    from tusk.report_html import run_settings

    make_run(tmp_path / "hot", rows_for("gsm8k", 2, 1), {"model": "m", "benchmarks": ["gsm8k"], "samples": 1,
                                                          "temperature": 0.8, "top_p": 0.9, "seed": 3})
    settings = dict(run_settings(tmp_path / "hot", summarize(rows_for("gsm8k", 2, 1), {})))
    assert settings["sampling"] == "1 sample, temperature 0.8, top-p 0.9, seed 3"
    make_run(tmp_path / "cold", rows_for("gsm8k", 2, 1), {"model": "m", "benchmarks": ["gsm8k"], "temperature": 0})
    assert dict(run_settings(tmp_path / "cold", summarize(rows_for("gsm8k", 2, 1), {})))["sampling"] == "greedy"


def test_bad_sample_lines_are_errors_naming_file_and_line(tmp_path):
    from tusk.errors import DataError
    from tusk.report import load_summary

    records = rows_for("gsm8k", 3, 3)
    (tmp_path / "config.json").write_text(json.dumps({"model": "m", "benchmarks": ["gsm8k"]}))
    lines = [json.dumps(r) + "\n" for r in records]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join([*lines, lines[1]]))  # a problem twice would be counted twice
    with pytest.raises(DataError, match=r"samples.jsonl line 4: sample 'gsm8k/1' is already stored on line 2"):
        load_summary(tmp_path)
    samples.write_text("".join([*lines, '{"id": "gsm8k/bad", "benchm\n']))  # whole, so not a torn write
    with pytest.raises(DataError, match="samples.jsonl line 4: corrupt sample record"):
        load_summary(tmp_path)
    samples.write_text("".join([lines[0], json.dumps({**records[1], "correct": "yes"}) + "\n"]))
    with pytest.raises(DataError, match="samples.jsonl line 2: sample 'gsm8k/1': missing or invalid 'correct'"):
        load_summary(tmp_path)
    samples.write_text("".join([*lines, '{"id": "gsm8k/3", "benchm']))  # torn: skipped
    assert load_summary(tmp_path)["benchmarks"]["gsm8k"]["n"] == 3


def test_settings_show_limits_per_benchmark_and_time_over_sessions(tmp_path):
    from tusk.report_html import run_settings

    config = {"model": "m", "benchmarks": ["gsm8k", "svamp"], "limits": {"gsm8k": 8, "svamp": None},
              "elapsed": {"wall_seconds": 12.5, "generation_seconds": 10.0, "sessions": 3},
              "problem_sets": {"gsm8k": {"count": 1319, "sha256": "ab" * 32}}, "data_dir": "/data"}
    make_run(tmp_path / "run", rows_for("gsm8k", 2, 1), config)
    summary = summarize(rows_for("gsm8k", 2, 1), {**config, "wall_seconds": 12.5})
    settings = dict(run_settings(tmp_path / "run", summary))
    assert settings["limit"] == "gsm8k 8, svamp -" and settings["wall time (s)"] == "12.5 over 3 sessions"
    assert settings["benchmark files"] == "gsm8k 1319 problems (sha256 abababababab)"
    assert settings["data folder"] == "/data"
