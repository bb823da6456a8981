"""`r2e export`: JSONL of valid problems that HF datasets loads."""

from __future__ import annotations

import json

import pytest


def test_export_valid_functions_loadable_by_datasets(r2e_home, cli, fixture_exp, tmp_path, monkeypatch):
    fixture_exp(keep=lambda r: r.name in ("classify", "total", "slow", "add"))
    result = cli("genexec", "-e", "x", "--backend", "local", "-k", "1", "--timeout-per-test", "1",
                 "--timeout-per-task", "30")
    assert result.exit_code == 0, result.output
    doc = json.loads((r2e_home / "experiments" / "x" / "genexec.json").read_text())
    valid_ids = sorted(fid for fid, f in doc["functions"].items() if f["valid"])
    assert valid_ids and len(valid_ids) < len(doc["functions"])  # slow() never finishes: not exported

    out = tmp_path / "problems.jsonl"
    result = cli("export", "-e", "x", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == valid_ids
    assert {tuple(sorted(r)) for r in rows} == {tuple(sorted(rows[0]))}  # one schema for every row
    add = next(r for r in rows if r["id"].endswith("Counter.add"))
    assert add["class_name"] == "Counter" and add["reference_code"].lstrip().startswith("def add(")
    assert "reference_Counter" in add["harness"] and add["context"]

    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.num_rows == len(rows)
    assert sorted(ds["id"]) == valid_ids
    assert ds.features["branch_coverage"].dtype in ("float64", "float32")


def test_export_without_genexec_is_one_line_error(r2e_home, cli, fixture_exp, tmp_path):
    fixture_exp()
    result = cli("export", "-e", "x", "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 1 and "genexec" in result.output
    assert not (tmp_path / "o.jsonl").exists()
