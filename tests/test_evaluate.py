"""The evaluation loop end to end with a scripted backend, the real grader, sandbox and smoke benchmark."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tusk.backends.scripted import ScriptedBackend
from tusk.benchmarks import load_problems
from tusk.errors import TuskError
from tusk.evaluate import EvalConfig, evaluate
from tusk.merge import merge_runs
from tusk.store import read_samples


@pytest.fixture(scope="module")
def smoke():
    problems = load_problems("smoke")
    assert len(problems) >= 20
    return problems


def problem_for(prompt, problems):
    matches = [p for p in problems if p.question.strip() in prompt]
    assert len(matches) == 1, prompt
    return matches[0]


def answer_text(problem):
    return f"Step by step we get it. The answer is {problem.answer}."


def test_cot_run_scores_exactly_what_the_backend_answered(tmp_path, smoke):
    wrong = {p.id for p in smoke[::3]}

    def respond(request, i):
        p = problem_for(request.prompt, smoke)
        return "I am not sure. The answer is 123456789." if p.id in wrong else answer_text(p)

    backend = ScriptedBackend(responder=respond)
    out = tmp_path / "run"
    summary = evaluate(EvalConfig(model="scripted", benchmarks=("smoke",), out=str(out)), backend, progress=False)
    stats = summary["benchmarks"]["smoke"]
    assert stats["n"] == len(smoke)
    assert stats["correct"] == len(smoke) - len(wrong)
    assert summary["averages"]["all"] == pytest.approx(stats["accuracy"])
    rows = list(read_samples(out))
    assert {r["id"] for r in rows} == {p.id for p in smoke}
    for row in rows:
        assert row["correct"] == (row["id"] not in wrong)
        assert row["mode"] == "cot" and row["fell_back"] is False
        assert row["prompt"].endswith(("### Response:", "step by step.\n"))
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["benchmarks"]["smoke"]["correct"] == stats["correct"]
    assert set(on_disk) >= {"model", "mode", "grader", "benchmarks", "averages"}


def test_interrupted_run_resumes_without_redoing_samples(tmp_path, smoke):
    calls = []

    def respond(request, i):
        calls.append(request.id)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return answer_text(problem_for(request.prompt, smoke))

    config = EvalConfig(model="scripted", benchmarks=("smoke",), out=str(tmp_path), limit=12, chunk_size=4)
    with pytest.raises(KeyboardInterrupt):
        evaluate(config, ScriptedBackend(responder=respond), progress=False)
    done = [r["id"] for r in read_samples(tmp_path)]
    assert len(done) == 6  # everything answered before the interrupt is kept
    partial = json.loads((tmp_path / "summary.json").read_text())
    assert partial["complete"] is False and partial["benchmarks"]["smoke"]["n"] == 6

    calls.clear()
    summary = evaluate(config, ScriptedBackend(responder=lambda r, i: calls.append(r.id) or answer_text(
        problem_for(r.prompt, smoke))), progress=False)
    assert not set(calls) & set(done)  # nothing redone
    ids = [r["id"] for r in read_samples(tmp_path)]
    assert len(ids) == len(set(ids)) == 12
    assert summary["complete"] is True and summary["benchmarks"]["smoke"]["correct"] == 12


def test_rerun_with_other_settings_is_refused(tmp_path, smoke):
    backend = ScriptedBackend(responder=lambda r, i: answer_text(problem_for(r.prompt, smoke)))
    evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=2), backend, progress=False)
    from tusk.errors import TuskError

    with pytest.raises(TuskError, match="other settings"):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=2, max_tokens=7), backend, progress=False)
    with pytest.raises(TuskError, match="timeout: 5.0 -> 0.5"):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=2, timeout=0.5), backend, progress=False)
    with pytest.raises(TuskError, match="result_options"):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=2, backend_options={"n_ctx": 64}),
                 backend, progress=False)
    # thread counts, batch sizes, the batching mode and the device do not change what is generated: a resume
    # may use others
    evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=3,
                        backend_options={"threads": 1, "batch_size": 8, "batching": "continuous", "device": "cpu"}),
             backend, progress=False)
    assert len(list(read_samples(tmp_path))) == 3


def test_a_new_grader_version_or_another_shard_is_not_mixed_into_a_run(tmp_path, smoke):
    from tusk.errors import TuskError
    from tusk.grading import get_grader

    backend = ScriptedBackend(responder=lambda r, i: answer_text(problem_for(r.prompt, smoke)))
    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=2), backend, progress=False)

    class Upgraded:  # the same rules under a new version: stored verdicts would mix two versions
        name, version = "strict", "99"

        def __getattr__(self, item):
            return getattr(get_grader("strict"), item)

    with pytest.raises(TuskError, match="grader_version: .* -> '99'"):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=3), backend, grader=Upgraded(),
                 progress=False)
    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "s"), limit=4, shard=(0, 2)), backend, progress=False)
    with pytest.raises(TuskError, match=r"shard: \[0, 2\] -> \[1, 2\]"):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / "s"), limit=4, shard=(1, 2)), backend,
                 progress=False)
    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "s"), limit=6, shard=(0, 2)), backend, progress=False)
    assert len(list(read_samples(tmp_path / "s"))) == 3  # the same shard resumes and extends
    # a run directory that does not say which grader version graded it is not resumed either
    saved = json.loads((tmp_path / "run/config.json").read_text())
    del saved["grader_version"]
    (tmp_path / "run/config.json").write_text(json.dumps(saved))
    with pytest.raises(TuskError, match="grader_version: None -> "):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=3), backend, progress=False)


def test_options_that_became_neutral_do_not_block_resuming_an_older_run(tmp_path, smoke):
    backend = ScriptedBackend(responder=lambda r, i: answer_text(problem_for(r.prompt, smoke)))
    evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=2), backend, progress=False)
    saved = json.loads((tmp_path / "config.json").read_text())
    saved["result_options"] = {"batch_size": "8"}  # as runs recorded it before batch sizes became neutral
    (tmp_path / "config.json").write_text(json.dumps(saved))
    evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=3, backend_options={"batch_size": "8"}),
             backend, progress=False)
    assert len(list(read_samples(tmp_path))) == 3


def test_chat_prompts_without_a_template_are_refused_before_anything_is_written(tmp_path):
    from tusk.errors import TuskError

    with pytest.raises(TuskError, match="--prompt chat: the scripted backend cannot render chat prompts"):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=2, prompt="chat"),
                 ScriptedBackend(responder=lambda r, i: "4"), progress=False)
    assert not (tmp_path / "run").exists()


def test_generations_cut_off_at_max_tokens_are_recorded_and_counted(tmp_path, smoke):
    import dataclasses

    problems = free_form(smoke)[:4]

    class Truncating(ScriptedBackend):
        def generate(self, requests):
            for generation in super().generate(requests):
                cut = generation.request_id == problems[0].id
                yield dataclasses.replace(generation, finish_reasons=("length" if cut else "stop",))

    summary = evaluate(EvalConfig(model="scripted", out=str(tmp_path), prompt="alpaca"),
                       Truncating(responder=lambda r, i: answer_text(problem_for(r.prompt, problems))),
                       progress=False, problems=problems)
    rows = {r["id"]: r for r in read_samples(tmp_path)}
    cut = [i for i, r in rows.items() if r["extra"].get("finish_reasons") == ["length"]]
    assert cut == [problems[0].id]
    assert "finish_reasons" not in rows[problems[1].id]["extra"]
    assert summary["benchmarks"]["smoke"]["cut_off"] == 1


def test_chunks_follow_the_backend_unless_given(tmp_path, smoke):
    class Recording(ScriptedBackend):
        def __init__(self, preferred):
            super().__init__(responder=lambda r, i: answer_text(problem_for(r.prompt, smoke)))
            self.preferred, self.sizes = preferred, []

        def preferred_chunk(self):
            return self.preferred

        def generate(self, requests):
            self.sizes.append(len(requests))
            yield from super().generate(requests)

    wide = Recording(preferred=9)
    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "a"), limit=20), wide, progress=False)
    assert wide.sizes == [9, 9, 2]  # a batching backend gets enough requests to fill its batches
    given = Recording(preferred=9)
    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "b"), limit=20, chunk_size=4), given, progress=False)
    assert given.sizes == [4] * 5


def test_a_replaced_model_file_is_not_resumed_into_the_same_run(tmp_path, smoke):
    table = tmp_path / "answers.jsonl"
    table.write_text(json.dumps({"match": "", "response": "The answer is 4."}) + "\n")

    class Described(ScriptedBackend):
        version = "1"

        def describe(self):
            return {**super().describe(), "size": table.stat().st_size, "llama_cpp": self.version}

    backend = Described(str(table))
    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=2), backend, progress=False)
    backend.version = "2"  # a library upgrade alone does not block the resume
    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=3), backend, progress=False)
    table.write_text(json.dumps({"match": "", "response": "The answer is 5, from other weights."}) + "\n")
    from tusk.errors import TuskError

    with pytest.raises(TuskError, match="model_identity"):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=4), Described(str(table)),
                 progress=False)


@pytest.mark.parametrize("change, message", [
    ({"limit": -1}, "--limit must be at least 1"), ({"max_tokens": 0}, "--max-tokens"),
    ({"temperature": -1.0}, "--temperature"), ({"top_p": 5.0}, "--top-p"), ({"timeout": 0.0}, "--timeout"),
    ({"workers": 0}, "--workers"), ({"chunk_size": 0}, "--chunk-size"),
])
def test_settings_out_of_range_are_refused_before_anything_is_written(tmp_path, change, message):
    from tusk.errors import TuskError

    with pytest.raises(TuskError, match=message):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), **change),
                 ScriptedBackend(responder=lambda r, i: "4"), progress=False)
    assert not (tmp_path / "run").exists()


def free_form(problems):
    return [p for p in problems if not p.choices]


def test_hybrid_falls_back_to_cot_only_when_pot_gives_no_answer(tmp_path, smoke):
    problems = free_form(smoke)[:6]
    # 0,1: good program; 2: crashes; 3: prints nothing; 4: no program at all; 5: loops forever
    behaviour = {p.id: k for k, p in enumerate(problems)}

    def respond(request, i):
        p = problem_for(request.prompt, problems)
        if "Let's write a program." not in request.prompt:
            return answer_text(p)
        k = behaviour[p.id]
        body = {
            0: f"print({p.answer!r})",
            1: f"x = {p.answer!r}\nprint(x)",
            2: "print(1/0)",
            3: "x = 1",
            5: "while True:\n    pass",
        }.get(k)
        return "I cannot write code for this." if body is None else f"```python\n{body}\n```"

    backend = ScriptedBackend(responder=respond)
    out = tmp_path / "hybrid"
    config = EvalConfig(model="scripted", benchmarks=("smoke",), mode="hybrid", out=str(out), timeout=1.0,
                        prompt="alpaca")
    summary = evaluate(config, backend, progress=False, problems=problems)
    rows = {r["id"]: r for r in read_samples(out)}
    assert len(rows) == 6 and summary["benchmarks"]["smoke"]["correct"] == 6
    for p in problems:
        row, k = rows[p.id], behaviour[p.id]
        assert row["fell_back"] == (k >= 2), (k, row)
        assert row["mode"] == ("pot" if k < 2 else "cot")
        if k < 2:
            assert row["execution_status"] == "ok" and row["program"]
            assert len(row["generations"]) == 1
        else:
            assert len(row["generations"]) == 2 and "fallback_prompt" in row["extra"]
    # why each fallback happened stays on record: the failed program and how it ran
    failed = {behaviour[i]: ((rows[i]["program"] or "").strip(), rows[i]["execution_status"]) for i in rows}
    assert failed[2] == ("print(1/0)", "error") and failed[3] == ("x = 1", "ok")
    assert failed[4] == ("", None) and failed[5][1] == "timeout"
    by_kind = {behaviour[i]: rows[i]["extra"] for i in rows}
    assert "ZeroDivisionError" in by_kind[2]["stderr"] and by_kind[0]["stdout"].strip() == problems[0].answer
    assert by_kind[2]["generation_modes"] == ["pot", "cot"] and "generation_modes" not in by_kind[0]
    assert summary["benchmarks"]["smoke"]["execution"] == {"ok": 3, "error": 1, "timeout": 1}
    cot_requests = [r for r in backend.calls if "Let's write a program." not in r.prompt]
    assert len(cot_requests) == 4


def test_pot_mode_records_program_and_status(tmp_path, smoke):
    problem = free_form(smoke)[0]

    def respond(request, i):
        return "```python\nimport sys\nprint('partial')\nsys.exit(3)\n```"

    evaluate(EvalConfig(model="scripted", mode="pot", out=str(tmp_path), prompt="alpaca"),
             ScriptedBackend(responder=respond), progress=False, problems=[problem])
    (row,) = read_samples(tmp_path)
    assert row["mode"] == "pot" and row["fell_back"] is False
    assert row["execution_status"] == "error" and row["prediction"] is None and row["correct"] is False


def test_self_consistency_votes_over_equivalent_answers(tmp_path, smoke):
    problems = free_form(smoke)[:4]

    def respond(request, i):
        p = problem_for(request.prompt, problems)
        return answer_text(p) if i in (0, 2) else "The answer is 987654."

    summary = evaluate(
        EvalConfig(model="scripted", out=str(tmp_path), samples=3, temperature=0.7),
        ScriptedBackend(responder=respond), progress=False, problems=problems)
    assert summary["benchmarks"]["smoke"]["correct"] == 4
    for row in read_samples(tmp_path):
        assert len(row["generations"]) == 3
        assert sorted(count for _, count in row["extra"]["votes"]) == [1, 2]


def test_shards_merge_into_the_unsharded_result(tmp_path, smoke):
    wrong = {p.id for p in smoke[::4]}

    def respond(request, i):
        p = problem_for(request.prompt, smoke)
        return "The answer is 424242." if p.id in wrong else answer_text(p)

    full = evaluate(EvalConfig(model="scripted", out=str(tmp_path / "full")), ScriptedBackend(responder=respond),
                    progress=False)
    for i in range(3):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / f"s{i}"), shard=(i, 3)),
                 ScriptedBackend(responder=respond), progress=False)
    merged = merge_runs([tmp_path / f"s{i}" for i in range(3)], tmp_path / "merged")
    assert merged["benchmarks"] == full["benchmarks"]
    ids = [r["id"] for r in read_samples(tmp_path / "merged")]
    assert sorted(ids) == sorted(p.id for p in smoke)
    assert merged["complete"] is True


def test_a_merge_says_when_it_is_partial_and_refuses_what_would_lose_data(tmp_path, smoke, caplog):
    from tusk.errors import DataError, TuskError

    backend = ScriptedBackend(responder=lambda r, i: answer_text(problem_for(r.prompt, smoke)))
    for i in range(2):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / f"s{i}"), shard=(i, 3)), backend, progress=False)
    merged = merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m")
    assert merged["complete"] is False and "shards 2/3 are not among the runs" in caplog.text
    with pytest.raises(TuskError, match="one of the runs being merged"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "s1")
    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "other"), shard=(0, 2)), backend, progress=False)
    with pytest.raises(TuskError, match="different splits"):
        merge_runs([tmp_path / "s0", tmp_path / "other"], tmp_path / "m2")
    lines = (tmp_path / "s1/samples.jsonl").read_text().splitlines()
    (tmp_path / "s1/samples.jsonl").write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    with pytest.raises(DataError, match="line 2: corrupt"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m3")
    row = json.loads(lines[0])
    del row["correct"]
    (tmp_path / "s1/samples.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match="s1/samples.jsonl line 1: sample .* missing or invalid 'correct'"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m4")


@pytest.fixture
def gsm8k_dir(tmp_path):
    """A data folder with six made-up GSM8K problems."""
    folder = tmp_path / "data"
    (folder / "gsm8k").mkdir(parents=True)
    rows = [{"question": f"Made-up question {k}: what is {k} plus {k}?", "answer": f"{k} + {k} = {2 * k}\n#### {2 * k}"}
            for k in range(1, 7)]
    (folder / "gsm8k/test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def right_answers(problems):
    def respond(request, i):
        return answer_text(problem_for(request.prompt, problems))

    return respond


def test_resuming_with_a_smaller_limit_or_other_benchmarks_is_not_complete(tmp_path, smoke, gsm8k_dir, caplog,
                                                                            monkeypatch):
    from tusk.benchmarks import get_benchmark

    problems = [*smoke, *get_benchmark("gsm8k").load(str(gsm8k_dir))]
    calls = []

    def interrupted(request, i):
        calls.append(request.id)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return answer_text(problem_for(request.prompt, problems))

    out = str(tmp_path / "run")
    first = EvalConfig(model="scripted", benchmarks=("gsm8k",), out=out, limit=6, data_dir=str(gsm8k_dir),
                       chunk_size=2)
    with pytest.raises(KeyboardInterrupt):
        evaluate(first, ScriptedBackend(responder=interrupted), progress=False)
    assert len(list(read_samples(out))) == 3
    backend = ScriptedBackend(responder=right_answers(problems))
    (gsm8k_dir / "gsm8k/test.jsonl").rename(tmp_path / "away.jsonl")  # judged from the recorded count
    monkeypatch.setenv("TUSK_OFFLINE", "1")
    summary = evaluate(replace(first, benchmarks=("smoke",), limit=2), backend, progress=False)
    (tmp_path / "away.jsonl").rename(gsm8k_dir / "gsm8k/test.jsonl")
    assert summary["complete"] is False  # gsm8k is still 3 problems short
    assert "3 problems of gsm8k are not stored yet" in caplog.text and "--benchmarks gsm8k --limit 6" in caplog.text
    config = json.loads((tmp_path / "run/config.json").read_text())
    assert config["benchmarks"] == ["gsm8k", "smoke"] and config["limits"] == {"gsm8k": 6, "smoke": 2}
    assert evaluate(replace(first, limit=2), backend, progress=False)["complete"] is False  # limit 6 stays
    assert json.loads((tmp_path / "run/config.json").read_text())["limits"]["gsm8k"] == 6
    summary = evaluate(first, backend, progress=False)
    assert summary["complete"] is True and summary["benchmarks"]["gsm8k"]["n"] == 6


def test_a_resume_with_another_benchmark_judges_the_earlier_one_without_its_files(tmp_path, smoke, gsm8k_dir,
                                                                                  monkeypatch, caplog):
    from tusk.benchmarks import get_benchmark

    problems = [*smoke, *get_benchmark("gsm8k").load(str(gsm8k_dir))]
    backend = ScriptedBackend(responder=right_answers(problems))
    out = str(tmp_path / "run")
    monkeypatch.delenv("TUSK_DATA_DIR", raising=False)
    monkeypatch.setenv("TUSK_OFFLINE", "1")  # a download attempt would fail the completeness check
    first = EvalConfig(model="scripted", benchmarks=("gsm8k",), out=out, limit=2, data_dir=str(gsm8k_dir))
    assert evaluate(first, backend, progress=False)["complete"] is True
    config = json.loads((tmp_path / "run/config.json").read_text())
    assert config["data_dir"] == str(gsm8k_dir.resolve())
    assert config["problem_sets"]["gsm8k"]["count"] == 6
    (gsm8k_dir / "gsm8k/test.jsonl").rename(tmp_path / "moved.jsonl")  # the earlier files are gone
    summary = evaluate(replace(first, benchmarks=("smoke",), data_dir=None), backend, progress=False)
    assert summary["complete"] is True, caplog.text
    config = json.loads((tmp_path / "run/config.json").read_text())
    assert set(config["problem_sets"]) == {"gsm8k", "smoke"}  # the earlier benchmark's record stays


def test_resuming_on_changed_benchmark_files_is_refused(tmp_path, smoke, gsm8k_dir):
    from tusk.benchmarks import get_benchmark

    backend = ScriptedBackend(responder=right_answers(get_benchmark("gsm8k").load(str(gsm8k_dir))))
    config = EvalConfig(model="scripted", benchmarks=("gsm8k",), out=str(tmp_path / "run"), limit=2,
                        data_dir=str(gsm8k_dir))
    evaluate(config, backend, progress=False)
    copy = tmp_path / "copy"
    (copy / "gsm8k").mkdir(parents=True)
    text = (gsm8k_dir / "gsm8k/test.jsonl").read_text()
    (copy / "gsm8k/test.jsonl").write_text(text)
    assert evaluate(replace(config, data_dir=str(copy)), backend, progress=False)["complete"] is True  # same files
    (copy / "gsm8k/test.jsonl").write_text(text.replace("Made-up question 1:", "Changed question 1:"))
    with pytest.raises(TuskError, match=r"other problem files \(gsm8k: 6 problems read from .*copy before, 6 now"):
        evaluate(replace(config, data_dir=str(copy)), backend, progress=False)


def test_a_hybrid_interrupt_keeps_the_pot_generations_of_the_chunk(tmp_path, smoke, monkeypatch):
    problems = free_form(smoke)[:4]
    pot_calls, infos = [], []

    def no_program(request, i):
        if "Let's write a program." in request.prompt:
            pot_calls.append(request.id)
            return "I cannot write code for this."
        raise KeyboardInterrupt  # while the CoT fallbacks are asked

    class Recording(ProgressBarSpy):
        def advance(self, n=1, info=None):
            infos.append(info)

    monkeypatch.setattr("tusk.evaluate.ProgressBar", Recording)
    config = EvalConfig(model="scripted", mode="hybrid", out=str(tmp_path), prompt="alpaca", timeout=1.0)
    with pytest.raises(KeyboardInterrupt):
        evaluate(config, ScriptedBackend(responder=no_program), problems=problems)
    assert len(pot_calls) == 4 and not list(read_samples(tmp_path))
    assert (tmp_path / "pending.jsonl").read_text().count("\n") == 4
    assert any("4 waiting for a CoT fallback" in (info or "") for info in infos)  # the bar moved meanwhile

    pot_calls.clear()

    def fallback_only(request, i):
        if "Let's write a program." in request.prompt:
            pot_calls.append(request.id)
            return "I cannot write code for this."
        return answer_text(problem_for(request.prompt, problems))

    summary = evaluate(config, ScriptedBackend(responder=fallback_only), progress=False, problems=problems)
    assert pot_calls == []  # the kept PoT generations were reused, not made again
    assert summary["benchmarks"]["smoke"]["correct"] == 4 and summary["benchmarks"]["smoke"]["fell_back"] == 4
    assert all(len(r["generations"]) == 2 for r in read_samples(tmp_path))
    assert not (tmp_path / "pending.jsonl").exists()


class ProgressBarSpy:
    """Stands in for ProgressBar: keeps its numbers and the last info text."""

    def __init__(self, label, total=None, *, done=0, **kwargs):
        self.total, self.done, self.elapsed, self.info = total, done, 1.0, ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def advance(self, n=1, info=None):
        self.done += n
        self.info = info


def test_a_resumed_run_shows_progress_from_what_is_stored(tmp_path, smoke, monkeypatch):
    wrong = {p.id for p in smoke[:2]}

    def respond(request, i):
        p = problem_for(request.prompt, smoke)
        return "The answer is 424242." if p.id in wrong else answer_text(p)

    evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=4), ScriptedBackend(responder=respond),
             progress=False)
    bars = []

    class Spy(ProgressBarSpy):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr("tusk.evaluate.ProgressBar", Spy)
    evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=6), ScriptedBackend(responder=respond))
    (bar,) = bars
    assert bar.total == 6 and bar.done == 6
    assert "acc 66.7%" in bar.info  # 4 of 6: the stored problems count too


def test_benchmark_lists_expand_paper_anywhere_and_count_each_name_once(tmp_path, smoke):
    from tusk.benchmarks import PAPER_BENCHMARKS

    config = EvalConfig(benchmarks=("smoke", "paper", "gsm8k", "smoke")).resolved()
    assert config.benchmarks == ("smoke", *PAPER_BENCHMARKS)
    summary = evaluate(EvalConfig(model="scripted", benchmarks=("smoke", "smoke"), out=str(tmp_path), limit=2),
                       ScriptedBackend(responder=right_answers(smoke)), progress=False)
    assert summary["benchmarks"]["smoke"]["n"] == 2 and summary["complete"] is True


def test_a_resume_with_other_settings_is_refused_before_the_model_is_loaded(tmp_path, smoke, monkeypatch):
    from tusk.errors import TuskError

    evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=2),
             ScriptedBackend(responder=right_answers(smoke)), progress=False)

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("tusk.backends.load_backend", no_loading)
    with pytest.raises(TuskError, match="max_tokens: 1024 -> 64"):
        evaluate(EvalConfig(model="scripted", out=str(tmp_path / "run"), limit=2, max_tokens=64), progress=False)
    with pytest.raises(TuskError, match="unknown benchmark"):
        evaluate(EvalConfig(model="scripted", benchmarks=("nosuch",), out=str(tmp_path / "new")),
                 progress=False, cache=tmp_path / "cache.sqlite")
    assert not (tmp_path / "cache.sqlite").exists() and not (tmp_path / "new").exists()


def test_times_add_up_over_the_sessions_of_a_run(tmp_path, smoke):
    import time

    def slow(request, i):
        time.sleep(0.05)
        return answer_text(problem_for(request.prompt, smoke))

    first = evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=2), ScriptedBackend(responder=slow),
                     progress=False)
    again = evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=2), ScriptedBackend(responder=slow),
                     progress=False)  # nothing left to do: no time is lost from the summary
    assert again["wall_seconds"] >= first["wall_seconds"] >= 0.1
    assert again["generation_seconds"] == pytest.approx(first["generation_seconds"])
    assert json.loads((tmp_path / "config.json").read_text())["elapsed"]["sessions"] == 2


def test_an_empty_shard_selection_warns(tmp_path, smoke, caplog):
    summary = evaluate(EvalConfig(model="scripted", out=str(tmp_path), limit=2, shard=(3, 4)),
                       ScriptedBackend(responder=right_answers(smoke)), progress=False)
    assert summary["benchmarks"] == {}
    assert "smoke: shard 3/4 of the first 2 of" in caplog.text and "selects no problem" in caplog.text


@pytest.mark.parametrize("grader", ["strict", "mammoth"])
@pytest.mark.parametrize("printed", ["None", "nan", "[]", "set()", "Error: no solution found"])
def test_hybrid_falls_back_when_the_program_prints_no_answer(tmp_path, gsm8k_dir, grader, printed):
    # a solution() that forgets ``return`` prints None: no answer, so hybrid asks again in CoT (the paper's rule)
    from tusk.benchmarks import get_benchmark
    from tusk.grading import get_grader

    problems = get_benchmark("gsm8k").load(str(gsm8k_dir))[:1]

    def respond(request, i):
        if "Let's write a program." in request.prompt:
            return f"```python\ndef solution():\n    x = 2\nprint({printed!r} if True else solution())\n```"
        return answer_text(problem_for(request.prompt, problems))

    out = tmp_path / "run"
    config = EvalConfig(model="scripted", benchmarks=("gsm8k",), mode="hybrid", out=str(out), timeout=2.0,
                        prompt="alpaca", data_dir=str(gsm8k_dir))
    summary = evaluate(config, ScriptedBackend(responder=respond), grader=get_grader(grader), progress=False,
                       problems=problems)
    (row,) = list(read_samples(out))
    assert row["extra"]["stdout"].strip() == printed
    assert row["fell_back"] is True and row["mode"] == "cot", row
    assert summary["benchmarks"]["gsm8k"]["correct"] == 1


def test_the_problem_digest_names_the_files_not_a_reviewed_gold():
    from tusk.evaluate import problem_set
    from tusk.types import Problem

    upstream = Problem(id="math/1", benchmark="math", question="Enter all solutions of x^2 = x.", answer="1")
    reviewed = Problem(id="math/1", benchmark="math", question=upstream.question, answer="0, 1",
                       meta={"upstream_answer": "1"})
    assert problem_set([upstream]) == problem_set([reviewed])
    assert problem_set([upstream])["sha256"] != problem_set([Problem("math/1", "math", upstream.question, "2")])[
        "sha256"]
