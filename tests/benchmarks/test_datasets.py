"""Where data comes from: data folder, cache, and downloads from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import csv
import functools
import hashlib
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tusk.benchmarks import load_problems
from tusk.datasets import DATA_FILES, resolve_file
from tusk.errors import DataError

MIRRORED = ("gsm8k/test.jsonl", "sat/sat.json", "aqua/test.json")


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


class Mirror:
    """A folder laid out like the data folder, served over HTTP on 127.0.0.1 while running."""

    def __init__(self, root: Path):
        self.root = root
        handler = functools.partial(_Handler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.requests = []
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.server.requests

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("TUSK_CACHE_DIR", str(root))
    monkeypatch.delenv("TUSK_DATA_DIR", raising=False)
    monkeypatch.delenv("TUSK_DATA_URL", raising=False)
    monkeypatch.delenv("TUSK_OFFLINE", raising=False)
    return root / "data"


@pytest.fixture
def mirror(tmp_path, shared_data_dir, cache):
    root = tmp_path / "mirror"
    for relpath in MIRRORED:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data_dir / relpath, root / relpath)
    server = Mirror(root)
    yield server
    server.stop()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_data_dir_argument_then_env(shared_data_dir, cache, monkeypatch, tmp_path):
    assert resolve_file("gsm8k/test.jsonl", shared_data_dir) == shared_data_dir / "gsm8k/test.jsonl"
    monkeypatch.setenv("TUSK_DATA_DIR", str(shared_data_dir))
    assert resolve_file("sat/sat.json") == shared_data_dir / "sat/sat.json"
    # the argument wins over the environment, and the user's own (edited) file is used as it is
    own = tmp_path / "own"
    (own / "sat").mkdir(parents=True)
    (own / "sat/sat.json").write_text("[]")
    assert resolve_file("sat/sat.json", own) == own / "sat/sat.json"


def test_download_then_cache_hit_without_the_server(mirror, cache, monkeypatch, shared_data_dir):
    monkeypatch.setenv("TUSK_DATA_URL", mirror.url)
    path = resolve_file("gsm8k/test.jsonl")
    assert path == cache / "gsm8k/test.jsonl"
    assert sha256(path) == DATA_FILES["gsm8k/test.jsonl"].sha256
    assert path.read_bytes() == (shared_data_dir / "gsm8k/test.jsonl").read_bytes()
    assert mirror.requests == ["/gsm8k/test.jsonl"]
    assert not list(path.parent.glob("*.part"))
    mirror.stop()
    assert resolve_file("gsm8k/test.jsonl") == path  # from the cache: the server is gone
    monkeypatch.setenv("TUSK_OFFLINE", "1")
    assert resolve_file("gsm8k/test.jsonl") == path


def test_benchmark_loads_through_a_download(mirror, cache, monkeypatch):
    monkeypatch.setenv("TUSK_DATA_URL", mirror.url)
    assert len(load_problems("sat")) == 220  # no data folder configured: fetched into the cache
    assert (cache / "sat/sat.json").is_file()
    assert len(load_problems("sat")) == 220  # the second load is served by the cache
    assert mirror.requests == ["/sat/sat.json"]


def test_corrupted_download_is_refused_and_deleted(mirror, cache):
    with open(mirror.root / "aqua/test.json", "ab") as fh:
        fh.write(b"\n")
    with pytest.raises(DataError) as info:
        resolve_file("aqua/test.json", base_url=mirror.url)
    message = str(info.value)
    assert message.startswith("aqua/test.json: download from ") and "expected de41581881ef" in message
    assert "refused" in message and "\n" not in message
    assert not (cache / "aqua/test.json").exists()
    assert not [p for p in cache.rglob("*") if p.is_file()]  # no partial or stamp file either


def test_http_404_is_one_clear_line(mirror, cache):
    with pytest.raises(DataError) as info:
        resolve_file("svamp/SVAMP.json", base_url=mirror.url)
    message = str(info.value)
    assert "svamp/SVAMP.json: download from " in message and "HTTP 404" in message
    assert "pass --data-dir DIR or set TUSK_DATA_DIR" in message and "\n" not in message
    assert not (cache / "svamp/SVAMP.json").exists()


def test_corrupt_cached_file_is_fetched_again(mirror, cache):
    target = cache / "sat/sat.json"
    target.parent.mkdir(parents=True)
    target.write_text("[]")
    path = resolve_file("sat/sat.json", base_url=mirror.url)
    assert path == target and sha256(path) == DATA_FILES["sat/sat.json"].sha256
    assert mirror.requests == ["/sat/sat.json"]


def test_offline_with_nothing_found_is_one_line(cache, monkeypatch, tmp_path):
    monkeypatch.setenv("TUSK_OFFLINE", "1")
    with pytest.raises(DataError) as info:
        resolve_file("gsm8k/test.jsonl", tmp_path / "empty")
    message = str(info.value)
    assert message.startswith("gsm8k/test.jsonl: not found")
    assert str(tmp_path / "empty" / "gsm8k/test.jsonl") in message and str(cache) in message
    assert message.endswith("pass --data-dir DIR or set TUSK_DATA_DIR") and "\n" not in message


def test_unreachable_server(cache, tmp_path):
    with pytest.raises(DataError) as info:
        resolve_file("gsm8k/test.jsonl", tmp_path, base_url="http://127.0.0.1:9")  # nothing listens there
    assert "gsm8k/test.jsonl: download from http://127.0.0.1:9/gsm8k/test.jsonl failed" in str(info.value)


def test_assembled_file_has_no_upstream_download_but_a_mirror_serves_it(cache, tmp_path, shared_data_dir):
    with pytest.raises(DataError) as info:
        resolve_file("math/hendrycks_test.jsonl")
    message = str(info.value)
    assert "no single upstream file" in message and "aiwaves-cn/agents" in message
    assert "pass --data-dir DIR or set TUSK_DATA_DIR" in message and "TUSK_DATA_URL" in message
    root = tmp_path / "mirror"
    (root / "math").mkdir(parents=True)
    shutil.copyfile(shared_data_dir / "math/hendrycks_test.jsonl", root / "math/hendrycks_test.jsonl")
    path = resolve_file("math/hendrycks_test.jsonl", base_url=root.as_uri())  # a file:// mirror
    assert sha256(path) == DATA_FILES["math/hendrycks_test.jsonl"].sha256


def test_unknown_file_has_no_pinned_download(cache, tmp_path):
    with pytest.raises(DataError, match="nope/x.json: not found .* no pinned download"):
        resolve_file("nope/x.json", tmp_path)


def test_pins_match_the_manifest_and_the_shared_files(shared_data_dir):
    with open(shared_data_dir / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert {r["path"] for r in rows} == set(DATA_FILES)
    for row in rows:
        pinned = DATA_FILES[row["path"]]
        assert (pinned.sha256, pinned.size, pinned.records) == (row["sha256"], int(row["bytes"]),
                                                                 int(row["records"]))
        if "<" in row["source_path"]:
            assert pinned.url is None
        else:
            assert pinned.url == ("https://raw.githubusercontent.com/"
                                  f"{row['source_repo']}/{row['commit']}/{row['source_path']}")
        assert sha256(shared_data_dir / row["path"]) == pinned.sha256


def test_download_with_a_progress_bar_on_a_terminal(mirror, cache, monkeypatch):
    import sys

    from tusk import datasets

    monkeypatch.setattr(datasets, "_PROGRESS_MIN_BYTES", 1)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bars = []
    real = datasets._progress

    def spy(name, total):
        bar = real(name, total)
        bars.append(bar)
        return bar

    monkeypatch.setattr(datasets, "_progress", spy)
    path = resolve_file("aqua/test.json", base_url=mirror.url)
    assert sha256(path) == DATA_FILES["aqua/test.json"].sha256
    size = DATA_FILES["aqua/test.json"].size
    assert [(b.label, b.total, b.enabled, b.done) for b in bars] == [("download aqua/test.json", size, True, size)]


def test_cache_problems_are_one_line_errors_and_downloads_are_readable_by_others(mirror, cache, monkeypatch,
                                                                                tmp_path, caplog):
    import os

    from tusk.errors import TuskError

    path = resolve_file("sat/sat.json", base_url=mirror.url)
    assert os.stat(path).st_mode & 0o777 == 0o644  # a shared cache stays readable
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TUSK_CACHE_DIR", str(blocker))
    with pytest.raises(TuskError, match="set TUSK_CACHE_DIR to a writable folder"):
        resolve_file("sat/sat.json", base_url=mirror.url)
    monkeypatch.setenv("TUSK_CACHE_DIR", str(cache.parent))
    missing = tmp_path / "typo-dir"
    assert resolve_file("sat/sat.json", data_dir=missing, base_url=mirror.url) == path
    assert f"--data-dir {missing} does not exist" in caplog.text
