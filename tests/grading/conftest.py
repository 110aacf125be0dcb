"""Fixtures for the grading tests: the case tables and a strict grader with its own checker process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def _load_agreement():
    name = "tusk_grading_agreement"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HERE / "agreement.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


agreement = _load_agreement()


@pytest.fixture(scope="session")
def cases():
    return agreement.load_cases()


@pytest.fixture(scope="session")
def strict():
    from tusk.grading import get_grader

    return get_grader("strict")


@pytest.fixture(scope="session")
def mammoth():
    from tusk.grading import get_grader

    return get_grader("mammoth")
