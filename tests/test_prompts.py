from __future__ import annotations

import pytest

from tusk.errors import TuskError
from tusk.prompts import (
    ALPACA_STOPS,
    MC_COT_SEED,
    alpaca_prompt,
    build_prompt,
    instruction_for,
    render_choices,
    split_choice,
    stop_strings,
)
from tusk.types import Problem

PAPER_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\nWhat is 2+3?\n\n### Response:"
)
PAPER_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a "
    "response that appropriately completes the request.\n\n### Instruction:\nSolve.\n\n### Input:\nx+1=2\n\n"
    "### Response:"
)


def test_alpaca_templates_match_the_paper_byte_for_byte():
    assert alpaca_prompt("What is 2+3?") == PAPER_NO_INPUT
    assert alpaca_prompt("Solve.", "x+1=2") == PAPER_WITH_INPUT


def test_pot_trigger_is_appended_to_the_question():
    problem = Problem("t/1", "t", "What is 2+3?", "5")
    assert instruction_for(problem, "pot") == "What is 2+3? Let's write a program."
    assert build_prompt(problem, "pot").endswith("What is 2+3? Let's write a program.\n\n### Response:")
    assert build_prompt(problem, "cot") == PAPER_NO_INPUT


@pytest.mark.parametrize(
    "choice, expected",
    [("A)24", ("A", "24")), ("(B) 3/4", ("B", "3/4")), ("c. x+1", ("C", "x+1")), ("D:  7 ", ("D", "7"))],
)
def test_split_choice_reads_usual_forms(choice, expected):
    assert split_choice(choice) == expected


def test_split_choice_rejects_text_without_a_letter():
    with pytest.raises(TuskError, match="cannot read a letter"):
        split_choice("24")


def test_multiple_choice_rendering_and_cot_seed():
    problem = Problem("t/2", "t", "Pick one.", "B", choices=("A)1", "B)2"))
    assert render_choices(problem.choices) == "\nAnswer Choices: (A) 1 (B) 2"
    cot = build_prompt(problem, "cot")
    assert cot.endswith("Pick one.\nAnswer Choices: (A) 1 (B) 2\n\n### Response:" + MC_COT_SEED)
    pot = build_prompt(problem, "pot")
    assert "(B) 2 Let's write a program.\n\n### Response:" in pot
    assert not pot.endswith(MC_COT_SEED)


def test_chat_style_uses_the_models_template_and_asks_for_a_findable_answer():
    problem = Problem("t/3", "t", "What is 2+3?", "5")
    seen = []

    def chat(messages):
        seen.append(messages)
        return "<user>" + messages[0]["content"] + "<assistant>"

    prompt = build_prompt(problem, "cot", "chat", chat=chat)
    assert prompt.startswith("<user>What is 2+3?") and prompt.endswith("<assistant>")
    assert "The answer is" in seen[0][0]["content"]
    assert "python" in build_prompt(problem, "pot", "chat", chat=chat)
    with pytest.raises(TuskError, match="chat template"):
        build_prompt(problem, "cot", "chat", chat=lambda m: None)
    with pytest.raises(TuskError, match="unknown prompt style"):
        build_prompt(problem, "cot", "vicuna")


def test_stop_strings_per_style():
    assert stop_strings("alpaca") == ALPACA_STOPS and "### Instruction" in ALPACA_STOPS
    assert stop_strings("chat") == ()
