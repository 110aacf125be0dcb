from __future__ import annotations

import io
import json

import pytest

from tusk.cli import main
from tusk.progress import ProgressBar, format_duration, interval_from_env


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain_bar(clock, **kwargs):
    stream = io.StringIO()
    kwargs.setdefault("interval", 10)
    return ProgressBar(kwargs.pop("label", "eval"), kwargs.pop("total", 4), stream=stream, terminal=False,
                       clock=clock, **kwargs), stream


def test_a_log_gets_a_line_per_interval_and_one_at_the_end():
    clock = Clock()
    bar, stream = plain_bar(clock, unit="prob")
    with bar:
        for i in range(3):
            clock.now += 6
            bar.advance(1, info=f"acc {i}")
        clock.now += 1
    lines = stream.getvalue().splitlines()
    # 6 s: under the interval, nothing; 12 s: a line; 18 s: 6 s after it, nothing; the end: the last state
    assert lines == [
        "eval: 2/4 (50%), 6.0 s/prob, elapsed 0:12, ETA 0:12, acc 1",
        "eval: 3/4 (75%), 6.3 s/prob, elapsed 0:19, ETA 0:06, acc 2",
    ]


def test_the_last_line_is_not_repeated_and_says_done():
    clock = Clock()
    bar, stream = plain_bar(clock, total=2, interval=0, unit="step")
    with bar:
        clock.now += 0.25
        bar.advance()
        clock.now += 0.25
        bar.advance()
    assert stream.getvalue().splitlines() == ["eval: 1/2 (50%), 4.00 step/s, elapsed 0:00, ETA 0:00",
                                              "eval: 2/2 (100%), 4.00 step/s, elapsed 0:00, done"]


def test_work_shorter_than_an_interval_writes_nothing_and_a_disabled_bar_nothing_at_all():
    clock = Clock()
    bar, stream = plain_bar(clock)
    with bar:
        clock.now += 3
        bar.advance(4)
    assert stream.getvalue() == ""
    off, stream = plain_bar(clock, interval=0, enabled=False)
    with off:
        off.advance(2)
    assert stream.getvalue() == "" and off.done == 0


def test_a_resumed_run_rates_only_the_new_work():
    clock = Clock()
    bar, _ = plain_bar(clock, total=100, done=60, unit="step")
    with bar:
        clock.now += 20
        bar.advance(10)
        assert bar.rate == pytest.approx(0.5)  # 10 steps in 20 s, not 70
        assert bar.eta == pytest.approx(60.0)  # 30 steps left
        assert "70/100 (70%)" in bar.line() and "2.0 s/step" in bar.line()


def test_unknown_totals_and_bytes():
    clock = Clock()
    bar, _ = plain_bar(clock, total=None, unit="prog")
    with bar:
        clock.now += 2
        bar.advance(5)
        assert bar.line() == "eval: 5, 2.50 prog/s, elapsed 0:02"
    download, _ = plain_bar(clock, label="download x", total=8_000_000, as_bytes=True)
    with download:
        clock.now += 2
        download.advance(3_000_000)
        assert download.line() == "download x: 3.0/8.0 MB, 1.5 MB/s, elapsed 0:02, ETA 0:03"


def test_a_terminal_gets_a_live_bar_with_text_kept_literal():
    stream = io.StringIO()
    with ProgressBar("train", 3, unit="step", stream=stream, terminal=True) as bar:
        bar.advance(2, info="loss [0.5]")
    out = stream.getvalue()
    assert "train" in out and "2/3 (67%)" in out and "loss [0.5]" in out  # brackets are not rich markup


def test_durations_and_the_interval_setting(monkeypatch):
    assert [format_duration(s) for s in (0, 59.6, 61, 3725)] == ["0:00", "1:00", "1:01", "1:02:05"]
    monkeypatch.setenv("TUSK_PROGRESS_INTERVAL", "5")
    assert interval_from_env() == 5
    monkeypatch.setenv("TUSK_PROGRESS_INTERVAL", "soon")
    assert interval_from_env() == 30
    monkeypatch.delenv("TUSK_PROGRESS_INTERVAL")
    assert interval_from_env() == 30


def test_eval_writes_progress_lines_into_a_log(tmp_path, monkeypatch, capsys):
    table = tmp_path / "answers.jsonl"
    table.write_text(json.dumps({"match": "", "response": "The answer is 4."}) + "\n")
    monkeypatch.setenv("TUSK_PROGRESS_INTERVAL", "0")
    assert main(["eval", "--model", f"scripted:{table}", "--limit", "3", "--out", str(tmp_path / "run")]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("eval: ")]
    assert [line.split(",")[0] for line in lines] == ["eval: 1/3 (33%)", "eval: 2/3 (67%)", "eval: 3/3 (100%)"]
    assert "done" in lines[-1] and "acc " in lines[-1] and "tok/s" in lines[-1]
