"""``tusk data stats`` and ``build`` errors are one line, and finding a tokenizer never touches the network."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tusk.cli import main
from tusk.data.stats import token_counter
from tusk.errors import DataError


def _train_json(tmp_path: Path) -> Path:
    path = tmp_path / "train.json"
    path.write_text(json.dumps([{"instruction": "What is 1 + 1?", "input": "", "output": "2. The answer is 2",
                                 "source": "gsm8k", "mode": "cot"}]))
    return path


def test_unknown_tokenizer_is_looked_up_offline_only(monkeypatch):
    pytest.importorskip("transformers")
    attempts = []

    def no_network(self, address, *args):
        attempts.append(address)
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(DataError, match=r"--tokenizer nonexistent-tokenizer-xyz: .*looked up offline only"):
        token_counter("nonexistent-tokenizer-xyz")
    with pytest.raises(DataError, match=r"no such GGUF file"):
        token_counter("/nowhere/model.gguf")
    assert attempts == []


def test_stats_errors_are_one_line(tmp_path, capsys):
    pytest.importorskip("transformers")
    data = _train_json(tmp_path)
    assert main(["data", "stats", str(data), "--tokenizer", str(tmp_path / "no-such-tokenizer")]) == 2
    assert "--tokenizer" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for plots in (blocker / "plots", Path("/proc/x")):
        assert main(["data", "stats", str(data), "--plots", str(plots)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"cannot write plots to {plots}" in err and "Traceback" not in err
    assert main(["data", "stats", str(data), "--plots", str(tmp_path / "p"), "--json"]) == 0
    assert (tmp_path / "p" / "mixture.png").is_file()
