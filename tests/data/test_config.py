"""Build configs: every value is coerced to its field's type and range-checked, errors name file and key."""

from __future__ import annotations

import pytest
import yaml

from tusk.cli import main
from tusk.data.config import load_config, parse_config
from tusk.errors import DataError


def _one(**component) -> dict:
    return {"components": [{"source": "gsm8k", "mode": "cot", **component}]}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_one(limit="five"), r"^b\.yaml: components\[0\]\.limit: expected an integer, got 'five'$"),
        (_one(limit=-3), r"^b\.yaml: components\[0\]\.limit: must be >= 0, got -3$"),
        (_one(limit=2.5), r"components\[0\]\.limit: expected an integer"),
        (_one(cap=True), r"components\[0\]\.cap: expected an integer, got True"),
        (_one(weight=0), r"components\[0\]\.weight: must be > 0"),
        (_one(verify="yes"), r"components\[0\]\.verify: expected true or false, got 'yes'"),
        (_one(files=[1, 2]), r"components\[0\]\.files\[0\]: expected text, got 1"),
        (_one(files={"a": 1}), r"components\[0\]\.files: expected a list of text"),
        ({**_one(), "seed": "abc"}, r"^b\.yaml: seed: expected an integer, got 'abc'$"),
        ({**_one(), "seed": -1}, r"^b\.yaml: seed: must be >= 0"),
        ({"components": [{"source": "gsm8k", "mode": "pot", "synthesise": 5}]},
         r"components\[0\]\.synthesise: expected a mapping"),
        ({"components": [{"source": "gsm8k", "mode": "pot", "synthesise": {"k": "two"}}]},
         r"components\[0\]\.synthesise\.k: expected an integer, got 'two'"),
        ({"components": [{"source": "gsm8k", "mode": "pot", "synthesise": {"k": 0}}]},
         r"components\[0\]\.synthesise\.k: must be >= 1"),
        ({"components": [{"source": "gsm8k", "mode": "pot", "synthesise": {"top_p": 1.5}}]},
         r"synthesise\.top_p: must be > 0 and <= 1"),
        ({"components": [{"source": "gsm8k", "mode": "pot", "synthesise": {"prompt": "fancy"}}]},
         r"synthesise\.prompt: must be one of alpaca, chat, auto"),
        ({"components": [{"source": "gsm8k", "mode": "pot", "synthesise": {"teacher_options": [1]}}]},
         r"synthesise\.teacher_options: expected a mapping"),
        ({"components": [{"source": "gsm8k", "mode": "sketch"}]}, r"components\[0\]\.mode: must be one of cot, pot"),
        ({"components": [{"mode": "cot"}]}, r"components\[0\]: needs a 'source'"),
        ({**_one(), "decontaminate": {"ngram": "eight"}}, r"^b\.yaml: decontaminate\.ngram: expected an integer"),
        ({**_one(), "decontaminate": {"threshold": 0}}, r"decontaminate\.threshold: must be > 0 and <= 1"),
        ({**_one(), "decontaminate": {"benchmarks": ["gsm9k"]}},
         r"decontaminate\.benchmarks\[0\]: unknown benchmark 'gsm9k'"),
        ({**_one(), "mixture": {"total": -5}}, r"^b\.yaml: mixture\.total: must be >= 1, got -5$"),
        ({**_one(), "mixture": {"shuffle": 1}}, r"mixture\.shuffle: expected true or false, got 1"),
        ({**_one(), "export": {"parquet": "no"}}, r"^b\.yaml: export\.parquet: expected true or false, got 'no'$"),
        ({**_one(), "export": {"hf": None}}, r"export\.hf: needs a value"),
        ({**_one(), "export": ["hf"]}, r"^b\.yaml: export: expected a mapping"),
        ({**_one(), "dedup": {"max_per_instruction": 0}}, r"^b\.yaml: dedup\.max_per_instruction: must be >= 1"),
        ({**_one(), "dedup": {"near_threshold": 2}}, r"dedup\.near_threshold: must be > 0 and <= 1"),
        ({**_one(), "verify": {"timeout": "slow"}}, r"verify\.timeout: expected a number, got 'slow'"),
        ({**_one(), "verify": {"timeout": float("nan")}}, r"verify\.timeout: expected a number"),
        ({**_one(), "verify": {"grader": "lenient"}}, r"verify\.grader: unknown grader 'lenient'"),
        ({**_one(), "verify": {"chunk": 0}}, r"verify\.chunk: must be >= 1"),
        ({**_one(), "mixture": {"totl": 3}}, r"mixture: unknown key 'totl'"),
    ],
)
def test_bad_values_are_one_line_errors_naming_file_and_key(config, message):
    with pytest.raises(DataError, match=message) as info:
        parse_config(config, "b.yaml")
    assert "\n" not in str(info.value)


def test_values_are_coerced_to_their_types():
    config = parse_config({
        "seed": 7,
        "components": [
            {"source": "gsm8k", "mode": "cot", "files": "gsm8k/train.jsonl", "limit": 5.0, "weight": 2},
            {"source": "gsm8k", "mode": "pot", "synthesise": {"temperature": "1e-5", "stop": "```", "k": 2}},
        ],
        "verify": {"timeout": 5, "workers": None},
        "dedup": True,
        "decontaminate": False,
        "mixture": {"total": 10},
        "export": {"parquet": False, "hf": True},
    })
    first, second = config.components
    assert first.files == ("gsm8k/train.jsonl",)  # a string is one file, not its letters
    assert first.limit == 5 and isinstance(first.limit, int)
    assert first.weight == 2.0 and isinstance(first.weight, float)
    assert second.synthesise.temperature == 1e-5 and second.synthesise.stop == ("```",) and second.synthesise.k == 2
    assert isinstance(config.verify.timeout, float) and config.verify.workers is None
    assert config.dedup is not None and config.dedup.max_per_instruction == 1
    assert config.decontaminate is None
    assert config.mixture.total == 10 and config.export.hf is True and config.export.parquet is False


def test_cli_reports_a_bad_value_in_one_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**_one(limit="five")}))
    assert main(["data", "build", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path}: components[0].limit: expected an integer, got 'five'" in err
    # a YAML "no" is a boolean, so this is a valid config
    path.write_text("components: [{source: gsm8k, mode: cot}]\nexport: {parquet: no}\n")
    assert load_config(path).export.parquet is False
