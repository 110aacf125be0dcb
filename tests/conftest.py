"""Shared test fixtures.

Tests that read the real benchmark files find them through ``TUSK_DATA_DIR`` (CI points it at
``../shared/data``); without it they are skipped with a reason, never silently passed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    value = os.environ.get("TUSK_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("set TUSK_DATA_DIR to a folder laid out like ../shared/data to run this test")
    return Path(value)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep each test session's downloads and conversions out of the user's cache.

    Built-in model files are large; tests that need them share one session cache.
    """
    monkeypatch.setenv("TUSK_CACHE_DIR", str(_session_cache(tmp_path_factory)))


_CACHE: list[Path] = []


def _session_cache(factory) -> Path:
    if not _CACHE:
        shared = os.environ.get("TUSK_TEST_CACHE_DIR")
        _CACHE.append(Path(shared) if shared else factory.mktemp("tusk-cache"))
    return _CACHE[0]


def pytest_collection_modifyitems(config, items):
    """``manual`` tests (long acceptance runs) run only when selected with ``-m manual``."""
    if "manual" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="manual acceptance run: select it with -m manual")
    for item in items:
        if "manual" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def smoke():
    """The built-in smoke problems."""
    from tusk.benchmarks import load_problems

    return load_problems("smoke")


@pytest.fixture
def smoke_answering_backend(smoke):
    """A scripted backend that answers every smoke problem right ("The answer is GOLD.")."""
    from tusk.backends.scripted import ScriptedBackend

    def respond(request, i):
        (problem,) = [p for p in smoke if p.question.strip() in request.prompt]
        return f"The answer is {problem.answer}."

    return ScriptedBackend(responder=respond)
