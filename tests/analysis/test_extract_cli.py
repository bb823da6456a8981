"""`r2e extract`, `list-functions`, `show`, `graph` through the real CLI."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from r2e.fsio import read_jsonl

from .fixtures import GOLDEN, RESOLUTION, write_tree


@pytest.fixture
def experiment(cli, tmp_path, r2e_home):
    golden = write_tree(tmp_path / "golden", GOLDEN)
    lib = write_tree(tmp_path / "lib", {**RESOLUTION, "src/lib/broken.py": "def broken(:\n"})
    res = cli("setup", "-e", "x", "-l", str(golden), "-l", str(lib))
    assert res.exit_code == 0, res.output
    return r2e_home / "experiments" / "x"


def test_extract_writes_records_and_prints_counts(cli, experiment):
    res = cli("extract", "-e", "x")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "dropped by filter: dunder" in out and "docstring" in out and "size 0" in out
    assert "syntax_error_files 1" in out
    records = read_jsonl(experiment / "extracted.jsonl")
    ids = {r["id"] for r in records}
    assert "local__golden/pkg/core.py::fut" in ids
    assert "local__lib/src/lib/util.py::Parser.parse" in ids
    summary = json.loads((experiment / "extract_summary.json").read_text())
    assert summary["totals"]["extracted"] == len(records)
    # a second run without --overwrite keeps what is there
    again = cli("extract", "-e", "x", "--repo", "local__golden")
    assert "already extracted" in again.output and again.exit_code == 0
    assert len(read_jsonl(experiment / "extracted.jsonl")) == len(records)


def test_extract_options(cli, experiment):
    res = cli("extract", "-e", "x", "--repo", "local__golden", "--disable-all-filters", "--slice-depth", "1")
    assert res.exit_code == 0, res.output
    recs = {r["name"]: r for r in read_jsonl(experiment / "extracted.jsonl")}
    assert set(recs) == {"helper", "unrelated", "fut"}
    assert "def helper" not in recs["fut"]["context"]
    res = cli("extract", "-e", "x", "--repo", "local__golden", "--overwrite", "--disable-docstring",
              "--max-lines", "2")
    assert res.exit_code == 0
    assert "size 3" in res.output and read_jsonl(experiment / "extracted.jsonl") == []


def test_list_and_show(cli, experiment):
    cli("extract", "-e", "x")
    lines = cli("list-functions", "-e", "x", "--repo", "local__golden").output.splitlines()
    assert any(l.startswith("local__golden/pkg/core.py::fut  function  L8-10") for l in lines)
    js = [json.loads(l) for l in cli("list-functions", "-e", "x", "--json", "--limit", "2").output.splitlines()]
    assert len(js) == 2 and "context" not in js[0] and "callees" in js[0]
    fid = "local__golden/pkg/core.py::fut"
    assert cli("show", "-e", "x", fid, "--code").output.startswith("def fut(y):")
    assert cli("show", "-e", "x", fid, "--callees").output.strip() == "local__golden/pkg/util.py::helper"
    assert "# file: pkg/consts.py" in cli("show", "-e", "x", fid, "--context").output
    bad = cli("show", "-e", "x", "local__golden/nope.py::f")
    assert bad.exit_code == 1 and "no extracted function 'local__golden/nope.py::f'" in bad.output
    assert "Traceback" not in bad.output


def test_graph_export(cli, experiment, tmp_path):
    out = tmp_path / "g.graphml"
    res = cli("graph", "-e", "x", "--repo", "local__lib", "-o", str(out))
    assert res.exit_code == 0, res.output
    g = nx.read_graphml(out)
    assert g.nodes["local__lib/src/lib/util.py"]["kind"] == "module"
    assert g.nodes["local__lib/src/lib/util.py::Parser"]["kind"] == "class"
    calls = {(a, b) for a, b, d in g.edges(data=True) if d["kind"] == "calls"}
    assert ("local__lib/src/lib/shapes.py::Square.double", "local__lib/src/lib/shapes.py::Base.area") in calls
    imports = {(a, b) for a, b, d in g.edges(data=True) if d["kind"] == "imports"}
    assert ("local__lib/src/lib/uses.py", "local__lib/src/lib/sub/tool.py") in imports
    contains = {(a, b) for a, b, d in g.edges(data=True) if d["kind"] == "contains"}
    assert ("local__lib/src/lib/util.py::Parser", "local__lib/src/lib/util.py::Parser.parse") in contains
    jout = tmp_path / "g.json"
    assert cli("graph", "-e", "x", "--repo", "local__lib", "-o", str(jout)).exit_code == 0
    data = json.loads(jout.read_text())
    assert len(data["nodes"]) == g.number_of_nodes()


def test_user_errors_are_one_line(cli, r2e_home):
    res = cli("extract", "-e", "missing")
    assert res.exit_code == 1 and "experiment 'missing' not found" in res.output and "Traceback" not in res.output
    res = cli("list-functions", "-e", "bad/name")
    assert res.exit_code == 2 and "invalid experiment name" in res.output


def test_extract_in_a_real_process_with_workers(run_r2e, tmp_path):
    golden = write_tree(tmp_path / "golden", GOLDEN)
    lib = write_tree(tmp_path / "lib", RESOLUTION)
    assert run_r2e("setup", "-e", "p", "-l", str(golden), "-l", str(lib)).returncode == 0
    proc = run_r2e("extract", "-e", "p", "-j", "2")
    assert proc.returncode == 0, proc.stderr
    assert "ok      local__golden" in proc.stdout and "ok      local__lib" in proc.stdout
    fut = run_r2e("show", "-e", "p", "local__golden/pkg/core.py::fut", "--context")
    assert fut.stdout.rstrip().endswith("return helper(y) + b")


def test_quickstart_runs_the_extract_stage(cli, r2e_home):
    res = cli("quickstart")
    assert res.exit_code == 0, res.output
    assert "== extract" in res.output
    records = read_jsonl(r2e_home / "experiments" / "quickstart" / "extracted.jsonl")
    assert records and all(r["repo"] == "local__minilib" for r in records)
