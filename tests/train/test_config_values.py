"""Config values as YAML writes them: resume: no / yes (booleans to YAML), lists for lora_target_modules and
eval_benchmarks, and other non-scalar values refused with the file and key."""

from __future__ import annotations

import pytest

from tusk.errors import TuskError
from tusk.train.config import load_config


def _load(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(path)


@pytest.mark.parametrize("text,expected", [("resume: no", "never"), ("resume: false", "never"),
                                           ("resume: yes", "auto"), ("resume: NEVER", "never"),
                                           ("resume: Auto", "auto")])
def test_resume_keywords_in_any_spelling(tmp_path, text, expected):
    assert _load(tmp_path, text).resume == expected


def test_a_missing_resume_folder_is_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(TuskError, match=r"c.yaml: resume: checkpoint folder .*nothing does not exist"):
        _load(tmp_path, f"resume: {tmp_path / 'nothing'}")
    (tmp_path / "ck").mkdir()
    assert _load(tmp_path, f"resume: {tmp_path / 'ck'}").resume == str(tmp_path / "ck")


def test_lists_are_accepted_where_names_are_listed(tmp_path):
    config = _load(tmp_path, "lora_target_modules: [q_proj, v_proj]\neval_benchmarks:\n  - gsm8k\n  - svamp\n")
    assert config.lora_target_modules == "q_proj,v_proj" and config.eval_benchmarks == "gsm8k,svamp"


@pytest.mark.parametrize("text,key", [("lora_target_modules: [1, 2]", "lora_target_modules"),
                                      ("data: [a.json, b.json]", "data"), ("model: {name: x}", "model"),
                                      ("out: yes", "out")])
def test_other_non_scalar_values_are_refused(tmp_path, text, key):
    with pytest.raises(TuskError, match=rf"c.yaml: {key}: expected"):
        _load(tmp_path, text)
