"""hf backend targets that cannot load: a mistyped local path, a hub id without network; said in one line, fast."""

from __future__ import annotations

import logging
import time

import pytest

from tusk.errors import TuskError

pytest.importorskip("transformers")

from tusk.backends import hf_load
from tusk.backends.hf import HFBackend


@pytest.mark.parametrize("target", ["runs/my-checkpoint", "./my-checkpoint", "../x/my-checkpoint",
                                    "runs/deeper/my-checkpoint", "~/no-such-folder-for-tusk/m"])
def test_a_missing_local_path_is_not_found_without_asking_the_hub(tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    monkeypatch.setattr(hf_load, "_hub_access", lambda repo: pytest.fail("the hub was asked"))
    started = time.monotonic()
    with pytest.raises(TuskError, match=r"hf backend: .* not found \(no such folder or file\)$"):
        HFBackend(target, device="cpu")
    assert time.monotonic() - started < 5
    assert hf_load.resolve_source("Qwen/Qwen2.5-Math-7B").kind == "hub"  # no Qwen/ here: a hub id


@pytest.mark.parametrize("offline_flag", [True, False])
def test_a_hub_id_without_network_fails_at_once_in_one_line(tmp_path, monkeypatch, offline_flag):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # nothing cached
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline_flag)
    monkeypatch.setattr(hf_load, "_reachable", lambda url, timeout=3.0: False)  # no network
    started = time.monotonic()
    with pytest.raises(TuskError) as failed:
        HFBackend("tusk-tests/no-such-model", device="cpu")
    assert time.monotonic() - started < 5
    message = str(failed.value)
    assert "\n" not in message and "tusk-tests/no-such-model is not in the Hugging Face cache" in message
    assert ("HF_HUB_OFFLINE is set" if offline_flag else "cannot be reached") in message


def test_huggingface_hub_log_lines_appear_once(tmp_path, caplog):
    """huggingface_hub gives its logger a stderr handler of its own and lets records reach the root logger
    too (tusk's handler): every line came twice.  After a load only the root's handler is left."""
    import huggingface_hub.utils.logging  # noqa: F401 - adds the library's handler

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(TuskError):  # a load through transformers (here a broken folder)
        HFBackend(str(tmp_path), device="cpu")
    library = logging.getLogger("huggingface_hub")
    assert not library.handlers and library.propagate
    with caplog.at_level(logging.WARNING):
        logging.getLogger("huggingface_hub.utils._http").warning("tusk-test-line")
    assert [r.getMessage() for r in caplog.records].count("tusk-test-line") == 1
