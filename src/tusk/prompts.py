"""Prompts: the Alpaca template, the PoT trigger, multiple-choice rendering, and a chat-template option.

The Alpaca strings are byte-for-byte those of the paper's training and evaluation code.  Training and
evaluation both render prompts through :func:`alpaca_prompt`, so a fine-tuned model sees at test time exactly
the prompt it was trained on.

With ``style="chat"`` the question goes through the model's own chat template instead (for instruction-tuned
models that were never trained on Alpaca); a short format instruction is added so the answer can be found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from tusk.errors import TuskError
from tusk.types import Mode, Problem

ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the "
    "request.\n\n### Instruction:\n{instruction}\n\n### Response:"
)
ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n"
    "### Input:\n{input}\n\n### Response:"
)
POT_TRIGGER = " Let's write a program."
MC_COT_SEED = " Let's solve the multi-choice question step by step.\n"
ALPACA_STOPS: tuple[str, ...] = ("### Instruction", "Response:", "USER:", "ASSISTANT:")

CHAT_COT_SUFFIX = '\nSolve it step by step, then end with a line "The answer is X." where X is the final answer.'
CHAT_POT_SUFFIX = (
    "\nWrite one Python program in a ```python code block that computes the answer and prints only the "
    "final answer."
)

PROMPT_STYLES = ("alpaca", "chat")

_CHOICE = re.compile(r"^\s*\(?([A-Za-z])\s*[\)\.:]\s*(.*)$", re.DOTALL)


def alpaca_prompt(instruction: str, input: str = "") -> str:
    """The paper's Alpaca prompt, with the "input" variant when ``input`` is non-empty."""
    if input:
        return ALPACA_WITH_INPUT.format(instruction=instruction, input=input)
    return ALPACA_NO_INPUT.format(instruction=instruction)


def split_choice(choice: str) -> tuple[str, str]:
    """``"A)24"`` / ``"(A) 24"`` / ``"A. 24"`` -> ``("A", "24")``."""
    match = _CHOICE.match(choice)
    if not match:
        raise TuskError(f"cannot read a letter from answer choice {choice!r}")
    return match.group(1).upper(), match.group(2).strip()


def render_choices(choices: Sequence[str]) -> str:
    """``["A)24", "B)30"]`` -> ``"\\nAnswer Choices: (A) 24 (B) 30"`` (the paper's rendering)."""
    if not choices:
        return ""
    return "\nAnswer Choices: " + " ".join(f"({letter}) {text}" for letter, text in map(split_choice, choices))


def instruction_for(problem: Problem, mode: Mode) -> str:
    """The Alpaca instruction for a problem: the question, its answer choices, and the PoT trigger."""
    text = problem.question.strip() + render_choices(problem.choices)
    if mode == "pot":
        text += POT_TRIGGER
    return text


def build_prompt(
    problem: Problem,
    mode: Mode,
    style: str = "alpaca",
    chat: Callable[[list[dict[str, str]]], str | None] | None = None,
) -> str:
    """The full prompt for one problem in one mode.

    ``chat`` renders messages with the model's chat template (``Backend.chat_prompt``); it is required for
    ``style="chat"``.
    """
    instruction = instruction_for(problem, mode)
    if style == "alpaca":
        prompt = alpaca_prompt(instruction)
        if mode == "cot" and problem.is_multiple_choice:
            prompt += MC_COT_SEED
        return prompt
    if style == "chat":
        suffix = CHAT_POT_SUFFIX if mode == "pot" else CHAT_COT_SUFFIX
        rendered = chat([{"role": "user", "content": instruction + suffix}]) if chat else None
        if rendered is None:
            raise TuskError("prompt style 'chat' needs a model with a chat template; use --prompt alpaca")
        return rendered
    raise TuskError(f"unknown prompt style {style!r}; choose one of {', '.join(PROMPT_STYLES)}")


def stop_strings(style: str) -> tuple[str, ...]:
    """Stop strings for a prompt style (chat models stop at their end-of-turn token instead)."""
    return ALPACA_STOPS if style == "alpaca" else ()
