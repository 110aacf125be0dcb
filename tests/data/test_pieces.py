"""Small pieces of the builder: option values, mixture sizes, stats, verification verdicts on real programs."""

from __future__ import annotations

import pytest

from tusk.data.choices import closest_choice, option_value
from tusk.data.mixture import choose, component_sizes, shuffled
from tusk.data.records import Candidate
from tusk.data.stats import dataset_stats, summarise
from tusk.data.verify import VerdictCache, VerifySettings, verify
from tusk.types import Problem, TrainingExample


@pytest.mark.parametrize(
    "text, value",
    [
        ("24", 24.0), ("rs . 1,200", 1200.0), ("12 %", 12.0), ("- 25", -25.0), ("1 / 2", 0.5),
        ("13 1 / 2", 13.5), ("4 : 5", 0.8), ("$ 3.50", 3.5), ("30 minutes", 30.0), ("4 π", None),
        ("none of these", None), ("x + 2", None), ("1 / 0", None),
    ],
)
def test_option_values(text, value):
    assert option_value(text) == value


def test_closest_choice_within_tolerance_only():
    choices = ("A)0.44", "B)0.55", "C)0.65", "D)0.75", "E)0.85")
    assert closest_choice(0.4375, choices, 0.02) == "A"
    assert closest_choice(0.4375, choices, 0.001) is None
    assert closest_choice(0.5, ("A)0.49", "B)0.51"), 0.05) is None  # two options close enough: refuse
    assert closest_choice(float("nan"), choices, 0.5) is None


def test_mixture_caps_weights_and_seeded_choice():
    sizes = component_sizes({"a": 100, "b": 10, "c": 50}, {"a": 30, "b": None, "c": None}, {}, None)
    assert sizes == {"a": 30, "b": 10, "c": 50}
    weighted = component_sizes({"a": 100, "b": 10}, {}, {"a": 3.0, "b": 1.0}, 40)
    assert weighted == {"a": 30, "b": 10}
    items = list(range(100))
    picked = choose(items, 10, seed=1, salt="a")
    assert picked == sorted(picked) and len(set(picked)) == 10
    assert picked == choose(items, 10, seed=1, salt="a") != choose(items, 10, seed=2, salt="a")
    assert choose(items, 200, seed=1, salt="a") == items
    assert sorted(shuffled(items, 5)) == items and shuffled(items, 5) == shuffled(items, 5) != items


def test_stats_group_by_source_and_mode():
    records = [
        {"instruction": "a b c", "output": "one two", "source": "gsm8k", "mode": "cot"},
        {"instruction": "a b", "output": "one two three four", "source": "gsm8k", "mode": "cot"},
        {"instruction": "x", "output": "print(1)", "source": "mathqa", "mode": "pot"},
    ]
    stats, lengths = dataset_stats(records, lambda texts: [len(t.split()) for t in texts])
    assert [s.name for s in stats] == ["gsm8k/cot", "mathqa/pot"]
    assert stats[0].records == 2 and stats[0].output.mean == 3.0 and stats[0].output.max == 4
    assert lengths["mathqa/pot"]["output"] == [1]
    assert summarise([]).n == 0


def _pot(code: str, gold: str, choices: tuple[str, ...] = (), benchmark: str = "gsm8k") -> Candidate:
    problem = Problem(id=f"t/{abs(hash(code))}", benchmark=benchmark, question="q", answer=gold, choices=choices)
    example = TrainingExample(instruction="q Let's write a program.", output=code, mode="pot", source="t")
    return Candidate(problem.id, "t/pot", "synthetic", problem, example)


def test_verify_keeps_only_programs_that_print_the_gold(tmp_path):
    candidates = [
        _pot("print(6 * 7)", "42"),
        _pot("print(6 * 7 + 1)", "42"),
        _pot("x = 1", "42"),
        _pot("while True:\n    pass", "42"),
        _pot("import sys\nprint(1/0)", "42"),
        _pot("", "42"),
        _pot("print(0.4375)", "A", ("A)0.44", "B)0.55")),
        _pot("print(7/16)", "A", ("A)7 / 16", "B)0.55")),
        _pot("print(3)", ""),
    ]
    settings = VerifySettings(timeout=1.0, workers=2)
    cache = VerdictCache(tmp_path / "v.jsonl")
    verdicts = verify(candidates, settings, cache)
    cache.close()
    assert [v.reason for v in verdicts] == [
        "kept", "wrong", "no-answer", "timeout", "error", "no-program", "wrong", "kept", "kept"
    ]
    assert verdicts[4].error and "ZeroDivisionError" in verdicts[4].error
    assert verdicts[8].rule == "no-gold"
    tolerant = verify(candidates[6:7], VerifySettings(timeout=1.0, choice_tolerance=0.02))
    assert tolerant[0].kept and tolerant[0].rule == "choice_within_0.02"
    # a second run answers from the cache file without executing anything
    again = verify(candidates, settings, VerdictCache(tmp_path / "v.jsonl"))
    assert again == verdicts


def test_synthesis_prefill_stop_template_and_cache(tmp_path):
    from tusk.backends.scripted import ScriptedBackend
    from tusk.data.records import SourceItem
    from tusk.data.synthesise import GenerationCache, SynthesisSettings, synthesise

    items = [SourceItem(Problem(id=f"p/{i}", benchmark="gsm8k", question=f"What is {i} + 1?", answer=str(i + 1)))
             for i in range(3)]
    backend = ScriptedBackend(responder=lambda request, n: f"print({request.prompt.count('+')} + {n})\n```\nbye")
    settings = SynthesisSettings(
        teacher="t", k=2, prompt="alpaca", template="Q: {question}\nA:", prefill="```python\n", stop=("```",)
    )
    cache = GenerationCache(tmp_path / "gen.jsonl")
    found = list(synthesise(items, settings, backend, "mine/pot", cache, source="gsm8k"))
    assert [c.key for c in found] == ["mine/pot/p/0#0", "mine/pot/p/0#1", "mine/pot/p/1#0", "mine/pot/p/1#1",
                                      "mine/pot/p/2#0", "mine/pot/p/2#1"]
    assert backend.calls[0].prompt == "Q: What is 0 + 1?\nA:```python\n"
    assert backend.calls[0].sampling.n == 2 and "```" in backend.calls[0].sampling.stop
    assert found[1].example.output.strip() == "print(1 + 1)"  # prefill + completion, fence closed, program only
    assert found[0].example.instruction == "What is 0 + 1? Let's write a program."
    assert {c.example.source for c in found} == {"gsm8k"}  # the data source, not the component's name
    again = ScriptedBackend(responder=lambda request, n: "unused")
    assert list(synthesise(items, settings, again, "mine/pot", GenerationCache(tmp_path / "gen.jsonl"),
                           source="gsm8k")) == found
    assert again.calls == []
    with pytest.raises(Exception, match="placeholder"):
        bad = SynthesisSettings(teacher="t", template="{nope}", prompt="alpaca")
        list(synthesise(items, bad, again, "x/pot", source="gsm8k"))


@pytest.mark.slow
def test_token_counts_with_a_builtin_gguf_vocabulary():
    pytest.importorskip("llama_cpp")
    from tusk.data.stats import token_counter

    count, unit = token_counter("smollm2-135m")
    short, long = count(["Hello", "Hello there, how many clips did Natalia sell in April and May altogether?"])
    assert unit == "smollm2-135m tokens" and 1 <= short <= 2 and 12 <= long <= 30


def test_cache_key_ignores_where_the_teacher_file_lies():
    from tusk.backends.scripted import ScriptedBackend
    from tusk.data.synthesise import teacher_identity

    class Located(ScriptedBackend):
        def __init__(self, path):
            super().__init__(responder=lambda r, i: "")
            self.path = path

        def describe(self):
            return {"backend": "llamacpp", "model": "m", "path": self.path, "sha256": "abc"}

    assert teacher_identity(Located("/a/m.gguf")) == teacher_identity(Located("/b/m.gguf"))
    assert teacher_identity(Located("/a/m.gguf"))["sha256"] == "abc"


def test_verdicts_reach_the_disk_after_every_chunk(tmp_path):
    """A build killed mid-verification keeps every finished chunk's verdicts; the rerun runs only the rest."""
    candidates = [_pot(f"print({n} * 2)", str(2 * n)) for n in range(5)]
    settings = VerifySettings(timeout=5.0, workers=1, chunk=2)
    path = tmp_path / "v.jsonl"
    on_disk = []

    def progress(n):
        on_disk.append(len(path.read_text().splitlines()) if path.exists() else 0)
        if len(on_disk) == 2:
            raise KeyboardInterrupt  # killed while the third chunk is still to run

    cache = VerdictCache(path)  # deliberately never closed: the file must not depend on it
    with pytest.raises(KeyboardInterrupt):
        verify(candidates, settings, cache, progress)
    assert on_disk == [2, 4]
    ran = []
    again = verify(candidates, settings, VerdictCache(path), ran.append)
    assert [v.reason for v in again] == ["kept"] * 5
    assert ran == [4, 1]  # four answered from the file, one program run
    assert len(path.read_text().splitlines()) == 5
