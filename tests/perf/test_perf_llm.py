"""The quickcheck repair loop with the scripted LLM server: a broken workload, then a fixed one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from r2e.cli import cli
from r2e.experiment import Experiment
from r2e.workspace import Workspace
from tests.harness.extracted import FILTERS_OFF
from tests.perf.fixture import make_perf_repo

BROKEN = '''```python
from pkg.stats import summarize

SCALE = 1


def setup():
    return [list(range(-50, 250)) for _ in range(SCALE * 100)]


def experiment(data):
    return [summarise(xs) for xs in data]
```'''

FIXED = BROKEN.replace("summarise(", "summarize(")
_EMPTY_LIST_DIGEST = __import__("hashlib").sha256(b"[]").hexdigest()


def r2e(home: Path, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_quickcheck_repairs_a_broken_llm_workload(tmp_path, llm_server, monkeypatch):
    monkeypatch.delenv("R2E_MODEL", raising=False)
    shas = make_perf_repo(tmp_path / "src" / "perfpkg")
    home = tmp_path / "home"
    r2e(home, "setup", "-e", "l", "-l", str(tmp_path / "src" / "perfpkg"))
    r2e(home, "extract", "-e", "l", "--overwrite", *FILTERS_OFF)
    r2e(home, "perf", "mine", "-e", "l")
    cand = f"local__perfpkg@{shas['speedup'][:12]}"
    llm = ("--model", "scripted", "--base-url", llm_server.base_url)
    llm_server.script(BROKEN, FIXED)
    # the LLM writes the workload (asked for it alone: the fixture's benchmark would do otherwise)
    out = r2e(home, "perf", "harness", "-e", "l", "--candidate", cand, "--source", "llm", *llm).output
    assert "generated (llm)" in out
    first = llm_server.requests[0]["messages"][-1]["content"]
    assert "pkg.stats.summarize" in first and "square each value once" in first and "+    squares" in first
    r2e(home, "perf", "quickcheck", "-e", "l", "--candidate", cand, "--min-time", "0.02", *llm)
    assert len(llm_server.requests) == 2
    repair = llm_server.requests[1]["messages"][-1]["content"]
    assert "NameError" in repair and "summarise" in repair
    exp = Experiment(Workspace(home), "l")
    harness = next(h for h in exp.perf_records("perf_harnesses") if h.candidate == cand)
    assert harness.status == "passed" and harness.source == "llm", harness
    assert [a["verdict"] for a in harness.attempts] == ["repair", "passed"]
    assert "summarize(xs)" in (exp.dir / harness.script).read_text()
    assert harness.quickcheck["equal"]


def test_without_a_model_the_candidate_is_dropped_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("R2E_MODEL", raising=False)
    make_perf_repo(tmp_path / "src" / "perfpkg")
    home = tmp_path / "home"
    r2e(home, "setup", "-e", "n", "-l", str(tmp_path / "src" / "perfpkg"))
    r2e(home, "extract", "-e", "n", "--overwrite", *FILTERS_OFF)
    r2e(home, "perf", "mine", "-e", "n")
    r2e(home, "perf", "harness", "-e", "n", "--source", "carve", "--source", "llm")
    path = home / "experiments" / "n" / "perf" / "harnesses.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 3 and {r["status"] for r in rows} == {"dropped"}
    assert all("no carved samples" in r["reason"] and "no LLM configured" in r["reason"] for r in rows)


def test_perf_stage_before_mine_is_one_line(tmp_path):
    home = tmp_path / "home"
    make_perf_repo(tmp_path / "src" / "perfpkg")
    r2e(home, "setup", "-e", "m", "-l", str(tmp_path / "src" / "perfpkg"))
    result = CliRunner().invoke(cli, ["--home", str(home), "perf", "harness", "-e", "m"])
    assert result.exit_code == 1 and "missing (run `r2e perf mine -e m` to make it)" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["--home", str(home), "perf", "mine", "-e", "nope"])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_a_workload_from_the_repos_own_benchmark(tmp_path, monkeypatch):
    monkeypatch.delenv("R2E_MODEL", raising=False)
    shas = make_perf_repo(tmp_path / "src" / "perfpkg")
    home = tmp_path / "home"
    r2e(home, "setup", "-e", "b", "-l", str(tmp_path / "src" / "perfpkg"))
    r2e(home, "extract", "-e", "b", "--overwrite", *FILTERS_OFF)
    r2e(home, "perf", "mine", "-e", "b")
    cand = f"local__perfpkg@{shas['speedup'][:12]}"
    out = r2e(home, "perf", "harness", "-e", "b", "--candidate", cand, "--source", "benchmarks").output
    assert "generated (benchmarks)" in out
    r2e(home, "perf", "quickcheck", "-e", "b", "--candidate", cand, "--min-time", "0.01")
    exp = Experiment(Workspace(home), "b")
    harness = next(h for h in exp.perf_records("perf_harnesses") if h.candidate == cand)
    assert harness.status == "passed" and harness.source == "benchmarks", (harness.reason, harness.attempts)
    assert "Summaries.time_summarize" in (exp.dir / harness.script).read_text()
    # the values summarize returned while the benchmark ran were compared, not only the timings
    assert harness.quickcheck["equal"] and harness.quickcheck["a"]["digest"] != _EMPTY_LIST_DIGEST
