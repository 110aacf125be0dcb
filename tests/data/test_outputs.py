"""What a build leaves in its folder and what ``tusk data check`` verifies: exports, inputs, broken manifests."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tusk.cli import main
from tusk.data.build import build_dataset
from tusk.data.config import parse_config
from tusk.data.manifest import check_build


def _config(limit: int, **export) -> object:
    return parse_config({"components": [{"source": "gsm8k", "mode": "cot", "limit": limit}],
                         "decontaminate": False, "export": export})


def test_rebuild_removes_exports_not_asked_for_and_check_verifies_them(tmp_path, shared_data_dir):
    out = tmp_path / "b"
    build_dataset(_config(6, parquet=True, hf=True), out, data_dir=shared_data_dir)
    manifest = json.loads((out / "manifest.json").read_text())
    parquet, hf = manifest["output"]["parquet"], manifest["output"]["hf"]
    assert parquet["path"] == "train.parquet" and parquet["records"] == 6 and list(parquet["files"]) == ["train.parquet"]
    assert hf["path"] == "hf" and any(name.endswith(".arrow") for name in hf["files"])
    assert check_build(out) == []

    # a changed export file is caught
    original = (out / "train.parquet").read_bytes()
    (out / "train.parquet").write_bytes(original[:-1] + b"\0")
    assert check_build(out) == ["train.parquet: train.parquet sha256 differs from the manifest"]
    (out / "train.parquet").write_bytes(original)

    # rebuild without exports: the old ones go, and the new manifest lists none
    build_dataset(_config(3), out, data_dir=shared_data_dir)
    assert not (out / "train.parquet").exists() and not (out / "hf").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["output"]) == {"train.json"}
    assert check_build(out) == []

    # an export the manifest does not list (e.g. copied back by hand) is reported as stale
    (out / "train.parquet").write_bytes(original)
    assert check_build(out) == ["train.parquet is not in the manifest (left from an earlier build?)"]
    assert main(["data", "check", str(out)]) == 1

    # rebuilding with the parquet export again writes it fresh (6 -> 3 records) and check passes
    build_dataset(_config(3, parquet=True), out, data_dir=shared_data_dir)
    import pyarrow.parquet as pq

    assert pq.read_table(out / "train.parquet").num_rows == 3
    assert check_build(out) == []


def test_relative_data_dir_records_absolute_inputs(tmp_path, shared_data_dir, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    relative = os.path.relpath(shared_data_dir, work)
    build_dataset(_config(4), "out", data_dir=relative)
    manifest = json.loads((work / "out" / "manifest.json").read_text())
    assert manifest["inputs"] and all(Path(i["path"]).is_absolute() for i in manifest["inputs"])
    monkeypatch.chdir(tmp_path)  # checked from elsewhere
    assert check_build(work / "out") == []


def _small_build(tmp_path: Path, shared_data_dir: Path) -> Path:
    out = tmp_path / "b"
    config = parse_config({"components": [{"source": "gsm8k", "mode": "cot", "limit": 4}],
                           "decontaminate": {"benchmarks": ["gsm8k"]}})
    build_dataset(config, out, data_dir=shared_data_dir)
    assert check_build(out) == []
    return out


def test_check_reports_broken_manifests_in_one_line(tmp_path, shared_data_dir, capsys):
    out = _small_build(tmp_path, shared_data_dir)
    good = json.loads((out / "manifest.json").read_text())

    broken = json.loads(json.dumps(good))
    del broken["components"]["gsm8k/cot"]["verified"]
    del broken["counts"]
    (out / "manifest.json").write_text(json.dumps(broken))
    problems = check_build(out, check_inputs=False)
    assert "manifest: components.gsm8k/cot lacks 'verified'" in problems
    assert "manifest: 'counts' is missing or not an object" in problems

    broken = json.loads(json.dumps(good))
    broken["inputs"] = [{"sha256": "x"}]
    broken["components"]["gsm8k/cot"] = 3
    (out / "manifest.json").write_text(json.dumps(broken))
    problems = check_build(out)
    assert "manifest: inputs[0] needs a path and a sha256" in problems
    assert any(p.startswith("manifest: components.gsm8k/cot is malformed") for p in problems)

    (out / "manifest.json").write_text(json.dumps(good))
    (out / "decontamination.jsonl").unlink()
    assert check_build(out, check_inputs=False) == ["decontamination.jsonl is missing"]
    capsys.readouterr()
    assert main(["data", "check", str(out), "--skip-inputs"]) == 1
    assert capsys.readouterr().out.strip() == f"{out}: decontamination.jsonl is missing"


def test_build_out_must_be_a_folder(tmp_path, capsys):
    file = tmp_path / "taken"
    file.write_text("not a folder")
    config = tmp_path / "c.yaml"
    config.write_text("components: [{source: gsm8k, mode: cot, limit: 2}]\ndecontaminate: false\n")
    assert main(["data", "build", "--config", str(config), "--out", str(file), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{file}" in err and "not a folder" in err
