"""How ``tusk report`` reads and shows runs: averages, labels, notes, comparisons, the HTML page, errors."""

from __future__ import annotations

import io
import json
import math

import pytest

from tusk.cli import main
from tusk.report import summarize


def rows_for(benchmark, n, correct, start=0, **extra):
    return [
        {"id": f"{benchmark}/{start + i}", "benchmark": benchmark, "correct": i < correct, "mode": "cot",
         "prediction": "1", "gold": "1", "prompt": "Q?", "generations": ["A."], **extra}
        for i in range(n)
    ]


def make_run(path, records, config, summary=True):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config))
    (path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if summary:
        (path / "summary.json").write_text(json.dumps(summarize(records, config)))
    return path


def plain(out: str) -> str:
    """Table text without borders and line breaks, to find folded labels."""
    return "".join(ch for ch in out if ch not in "│┃\n ")


def column_text(out: str, border: str = "│") -> list[str]:
    """Each column's text, its folded pieces joined (``┃`` for the header, ``│`` for the body)."""
    columns: list[str] = []
    for line in out.splitlines():
        if line.startswith(border):
            cells = [cell.strip() for cell in line.strip().strip(border).split(border)]
            columns += [""] * (len(cells) - len(columns))
            for i, cell in enumerate(cells):
                columns[i] += cell
    return columns


# 1. the same samples give the same averages whichever tusk wrote summary.json


def test_averages_are_recomputed_from_the_benchmarks_of_an_older_summary(tmp_path):
    from tusk.report import details_rows, load_summary, table_rows

    records = rows_for("gsm8k", 20, 4) + rows_for("theoremqa", 20, 16)
    config = {"model": "m", "mode": "cot", "grader": "strict", "benchmarks": ["gsm8k", "theoremqa"]}
    new = make_run(tmp_path / "new", records, config)
    old = make_run(tmp_path / "old", records, config)
    stored = json.loads((old / "summary.json").read_text())
    stored["averages"]["all"] = 0.5  # the first version averaged the extras too
    for entry in stored["benchmarks"].values():
        entry.pop("cut_off"), entry.pop("answers", None)
    (old / "summary.json").write_text(json.dumps(stored))
    rows = table_rows([("old", load_summary(old)), ("new", load_summary(new))])[1]
    assert rows[0][1:] == rows[1][1:] and rows[0][-1] == "20.0"
    (old / "samples.jsonl").unlink()  # no samples to recount from: the cut-off count is unknown, not 0
    assert [row[-1] for row in details_rows(load_summary(old))[1]] == ["-", "-"]


# 2. --compare pairs a benchmark only when both runs read the same problem file


def test_compare_does_not_pair_benchmarks_read_from_different_files(tmp_path):
    from tusk.compare import POOLED_COMPARABLE, compare_records, compare_runs, comparison_notes

    def config(sha):
        return {"model": "m", "benchmarks": ["gsm8k", "svamp"],
                "problem_sets": {"gsm8k": {"count": 1319, "sha256": sha}, "svamp": {"count": 1000, "sha256": "s"}}}

    a = make_run(tmp_path / "a", rows_for("gsm8k", 4, 0) + rows_for("svamp", 2, 1), config("1" * 64))
    b = make_run(tmp_path / "b", rows_for("gsm8k", 4, 4) + rows_for("svamp", 2, 2), config("2" * 64))
    rows = {c.benchmark: c for c in compare_runs(a, b)}
    assert not rows["gsm8k"].comparable and "different problem files" in rows["gsm8k"].reason
    assert rows["svamp"].comparable and rows["svamp"].n == 2
    pooled = rows[POOLED_COMPARABLE]
    assert (pooled.n, pooled.gained) == (2, 1)  # gsm8k is left out of the pooled test
    assert main(["report", str(a), str(b), "--compare"]) == 0
    base = rows_for("gsm8k", 2, 1)
    other = [{**r, "gold": "7"} for r in base]
    notes = comparison_notes(compare_records(base, other, ("x", "y")), ("x", "y"))
    assert len(notes) == 1 and "2 paired gsm8k problem(s) have different golds" in notes[0]


def test_report_shows_a_benchmark_read_from_another_file_as_not_comparable(tmp_path, capsys):
    one = {"model": "m", "benchmarks": ["gsm8k"], "problem_sets": {"gsm8k": {"sha256": "a" * 64}}}
    two = {"model": "m", "benchmarks": ["gsm8k"], "problem_sets": {"gsm8k": {"sha256": "b" * 64}}}
    make_run(tmp_path / "a", rows_for("gsm8k", 4, 0), one)
    make_run(tmp_path / "b", rows_for("gsm8k", 4, 4), two)
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "--compare"]) == 0
    out = capsys.readouterr().out
    assert "not comparable" in out and "different problem files" in out.replace("\n", " ")


# 3. labels are shown verbatim, never read as rich markup


def test_run_and_model_names_with_brackets_are_shown_verbatim(tmp_path, capsys):
    config = {"model": "m[bold red]x[/]", "mode": "cot", "grader": "strict", "benchmarks": ["gsm8k"]}
    full = make_run(tmp_path / "qwen[full]", rows_for("gsm8k", 4, 1), config)
    lora = make_run(tmp_path / "qwen[lora]", rows_for("gsm8k", 4, 2), config)
    odd = make_run(tmp_path / "x[/y]", rows_for("gsm8k", 4, 3), config)
    assert main(["report", str(full), str(lora), str(odd), "--compare", "--details"]) == 0
    out = plain(capsys.readouterr().out)
    for name in ("qwen[full]", "qwen[lora]", "x[/y]", "m[boldred]x[/]"):
        assert name in out


# 4. long run labels stay distinct, headers are folded rather than cut


def test_long_run_paths_are_folded_not_cut(tmp_path, capsys):
    from rich.console import Console

    from tusk.report import render_table

    long = tmp_path / "experiments" / ("qwen2.5-coder-0.5b-instruct-mathinstruct-lora-r16-alpha32" * 2)
    names = ["gsm8k", "math", "aqua", "numglue", "svamp", "deepmind", "simuleq", "sat", "mmlu_math", "theoremqa",
             "math500"]
    records = [r for b in names for r in rows_for(b, 2, 1)]
    for end in ("eval-cot", "eval-hybrid"):
        make_run(long / end, records, {"model": "m", "benchmarks": names})
    assert main(["report", str(long / "eval-cot"), str(long / "eval-hybrid")]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    assert column_text(out)[0] == f"{long / 'eval-cot'}{long / 'eval-hybrid'}"
    narrow = Console(file=io.StringIO(), width=100)
    summary = summarize(records, {"benchmarks": names})
    narrow.print(render_table([(str(long / "eval-cot"), summary), (str(long / "eval-hybrid"), summary)]))
    text = narrow.file.getvalue()
    assert "…" not in text
    assert column_text(text)[0] == f"{long / 'eval-cot'}{long / 'eval-hybrid'}"
    assert "TheoremQA" in column_text(text, "┃") and "out-dom" in column_text(text, "┃")


# 5. --details titles say which run, which grader version and how it sampled


def test_details_titles_name_the_run_grader_version_and_sampling(tmp_path, capsys):
    from tusk.report_html import run_settings

    base = {"model": "m", "mode": "cot", "grader": "strict", "grader_version": "3", "benchmarks": ["gsm8k"]}
    voted = make_run(tmp_path / "voted", rows_for("gsm8k", 2, 1),
                     {**base, "samples": 3, "temperature": 0.7, "top_p": 1.0, "seed": 0})
    greedy = make_run(tmp_path / "greedy", rows_for("gsm8k", 2, 1), {**base, "samples": 1, "temperature": 0.0})
    assert main(["report", str(voted), str(greedy), "--details"]) == 0
    out = plain(capsys.readouterr().out)
    assert plain(f"{voted}: m · cot · grader strict v3 · 3 samples, majority vote, T=0.7") in out
    assert plain(f"{greedy}: m · cot · grader strict v3 · greedy") in out
    from tusk.report import load_summary

    sampling = dict(run_settings(voted, load_summary(voted)))["sampling"]
    assert "majority vote" in sampling and sampling.startswith("3 samples, temperature 0.7")


# 6. and 7. runs over different benchmark sets get a note, in the terminal and the page


def test_runs_over_different_benchmarks_get_a_note_and_partial_runs_show_missing_columns(tmp_path, capsys):
    from tusk.report_html import write_html

    make_run(tmp_path / "all3", rows_for("gsm8k", 2, 1) + rows_for("svamp", 2, 1) + rows_for("aqua", 2, 1),
             {"model": "m", "benchmarks": ["gsm8k", "svamp", "aqua"]})
    make_run(tmp_path / "cut", rows_for("gsm8k", 2, 1) + rows_for("svamp", 2, 2),
             {"model": "m", "benchmarks": ["gsm8k", "svamp", "aqua"]}, summary=False)  # killed before aqua
    assert main(["report", str(tmp_path / "cut")]) == 0
    out = capsys.readouterr().out
    assert "AQuA" in out and "no results for AQuA" in out.replace("\n", " ")
    assert main(["report", str(tmp_path / "all3"), str(tmp_path / "cut")]) == 0
    assert "the runs cover different benchmarks" in capsys.readouterr().out.replace("\n", " ")
    page = write_html([tmp_path / "all3", tmp_path / "cut"], tmp_path / "r.html").read_text()
    assert "<p class='note'>note: the runs cover different benchmarks" in page
    assert "no results for AQuA" in page


def test_the_paper_note_is_in_the_html_too(tmp_path):
    make_run(tmp_path / "gsm", rows_for("gsm8k", 4, 2), {"model": "g", "benchmarks": ["gsm8k"]})
    make_run(tmp_path / "svamp", rows_for("svamp", 4, 2), {"model": "v", "benchmarks": ["svamp"]})
    html_path = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "gsm"), str(tmp_path / "svamp"), "--paper", "7b",
                 "--html", str(html_path)]) == 0
    assert "the paper rows average over the paper benchmarks of all the runs" in html_path.read_text()


# 8. "cut off" counts the generations that gave the answer


def test_cut_off_counts_the_answering_generations():
    from tusk.report import answer_cut_offs, details_rows

    fell_back = {"fell_back": True, "extra": {"finish_reasons": ["length", "stop"],
                                              "generation_modes": ["pot", "cot"]}}
    assert answer_cut_offs(fell_back) == (0, 1)  # only the discarded PoT attempt was cut
    assert answer_cut_offs({**fell_back, "extra": {**fell_back["extra"], "finish_reasons": ["stop", "length"]}}) == (1, 1)
    votes = {"extra": {"finish_reasons": ["stop", "length", "stop"], "sample_modes": ["cot"] * 3}}
    assert answer_cut_offs(votes) == (1, 3)
    hybrid_votes = {"extra": {"finish_reasons": ["length", "stop", "stop", "length"], "sample_modes": ["cot", "pot", "pot"],
                              "generation_modes": ["pot", "pot", "pot", "cot"]}}
    assert answer_cut_offs(hybrid_votes) == (1, 3)  # sample 0 fell back to a cut CoT (its cut PoT is not counted)
    assert answer_cut_offs({"extra": {}}) == (0, 1)
    records = rows_for("gsm8k", 2, 1, extra=votes["extra"])
    summary = summarize(records, {"benchmarks": ["gsm8k"]})
    assert details_rows(summary)[1][0][-1] == "2/6"
    single = rows_for("gsm8k", 2, 1, fell_back=True, extra=fell_back["extra"])
    assert details_rows(summarize(single, {"benchmarks": ["gsm8k"]}))[1][0][-1] == "0"


# 9. the chart: no bar for a missing value, averages apart, nothing widens the page


def test_chart_draws_no_bar_for_missing_values_and_sets_the_averages_apart(tmp_path, monkeypatch):
    import matplotlib.axes

    from tusk.report_html import _bar_chart_png, write_html

    bars = []
    original = matplotlib.axes.Axes.bar

    def record(self, x, height, *args, **kwargs):
        bars.append((list(x), list(height)))
        return original(self, x, height, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "bar", record)
    one = summarize(rows_for("gsm8k", 4, 2), {"benchmarks": ["gsm8k"]})
    two = summarize(rows_for("svamp", 4, 2), {"benchmarks": ["svamp"]})
    _bar_chart_png([("a", one), ("b", two)])
    (xs, heights), _ = bars
    assert heights[0] == 50.0 and math.isnan(heights[1])  # a has no SVAMP: no bar, not a 0 % one
    assert math.isnan(heights[3])  # a has no out-of-domain average
    assert xs[2] - xs[1] > 1.2  # a gap between the benchmarks (GSM, SVAMP) and the averages
    make_run(tmp_path / "r", rows_for("gsm8k", 2, 1), {"model": "m", "benchmarks": ["gsm8k"]})
    page = write_html([tmp_path / "r"], tmp_path / "r.html").read_text()
    assert "img{max-width:100%" in page and "overflow-wrap:anywhere" in page


# 10. the wrong answers say how many of them are shown


def test_wrong_answers_say_how_many_are_shown_and_examples_sets_it(tmp_path):
    records = rows_for("gsm8k", 10, 3) + rows_for("svamp", 2, 1)
    make_run(tmp_path / "r", records, {"model": "m", "benchmarks": ["gsm8k", "svamp"]})
    page = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "r"), "--html", str(page), "--examples", "2"]) == 0
    text = page.read_text()
    assert "wrong answers, gsm8k: first 2 of 7" in text and "wrong answers, svamp: all 1" in text
    assert text.count("class='sample'") == 3


# 11. benchmarks in the paper's order in every table; the pooled row says what it pools


def test_benchmarks_follow_the_paper_order_in_every_table():
    from tusk.compare import POOLED, compare_records
    from tusk.report import comparison_rows, details_rows, table_rows

    records = rows_for("theoremqa", 2, 1) + rows_for("svamp", 2, 1) + rows_for("gsm8k", 2, 1) + rows_for("math", 2, 1)
    summary = summarize(records, {"benchmarks": ["theoremqa", "svamp", "gsm8k", "math"]})
    assert table_rows([("r", summary)])[0][1:5] == ["GSM", "MATH", "SVAMP", "TheoremQA"]
    assert [row[0] for row in details_rows(summary)[1]] == ["gsm8k", "math", "svamp", "theoremqa"]
    rows = comparison_rows(compare_records(records, records))[1]
    assert [row[0] for row in rows] == ["gsm8k", "math", "svamp", "theoremqa", POOLED]
    assert POOLED == "all benchmarks above (pooled)"


# 12. malformed summaries are one-line errors; --compare says when a run has no samples


def test_malformed_summaries_are_one_line_errors_naming_the_file(tmp_path, capsys):
    from tusk.errors import DataError
    from tusk.report import load_summary

    run = make_run(tmp_path / "r", rows_for("gsm8k", 2, 1), {"model": "m", "benchmarks": ["gsm8k"]})
    (run / "summary.json").write_text(json.dumps({"benchmarks": {"gsm8k": {"accuracy": 0.5}}, "averages": {}}))
    assert main(["report", str(run), "--details"]) == 0  # what it lacks is shown as "-"
    assert "50.0" in capsys.readouterr().out
    (run / "summary.json").write_text(json.dumps({"benchmarks": {"gsm8k": "half"}}))
    with pytest.raises(DataError, match=r"summary.json: benchmark 'gsm8k' has no numeric 'accuracy'"):
        load_summary(run)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "summary.json" in err
    (run / "summary.json").write_text(json.dumps({"benchmarks": {"gsm8k": {"accuracy": 0.5, "n": "2"}}}))
    assert main(["report", str(run), "--details"]) == 2


def test_compare_with_a_run_without_samples_says_so(tmp_path, capsys):
    make_run(tmp_path / "a", rows_for("gsm8k", 2, 1), {"model": "m", "benchmarks": ["gsm8k"]})
    make_run(tmp_path / "b", rows_for("gsm8k", 2, 1), {"model": "m", "benchmarks": ["gsm8k"]})
    (tmp_path / "b/samples.jsonl").unlink()
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "--compare"]) == 2
    assert "has no samples.jsonl" in capsys.readouterr().err


# 13. --paper before the run directories


def test_paper_before_the_run_directories_is_a_clear_error(tmp_path, capsys):
    for name in ("a", "b"):
        make_run(tmp_path / name, rows_for("gsm8k", 2, 1), {"model": "m", "benchmarks": ["gsm8k"]})
    assert main(["report", "--paper", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "put --paper after the run directories" in capsys.readouterr().err
    assert main(["report", "--paper", str(tmp_path / "a")]) == 2
    assert "put --paper after the run directories" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "--paper"]) == 0
