"""`r2e perf` end to end on a fixture repository with a real git history (local backend, real git,
real pytest for carving, real valgrind for instruction counts)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from r2e.cli import cli
from r2e.experiment import Experiment
from r2e.workspace import Workspace
from tests.harness.extracted import FILTERS_OFF
from tests.perf.fixture import make_perf_repo

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
# Few repeats, ~10-40 ms workloads, and counts on a tenth of the workload keep this module near a minute.
MEASURE = ("--repeats", "5", "--count-repeats", "1", "--count-fraction", "0.1", "--metric", "cpu")


def r2e(home: Path, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture(scope="module")
def perf_exp(tmp_path_factory):
    """The fixture repo set up, extracted, carved, mined, harnessed and quickchecked: (home, shas, exp)."""
    root = tmp_path_factory.mktemp("perf")
    shas = make_perf_repo(root / "src" / "perfpkg")
    home = root / "home"
    r2e(home, "setup", "-e", "x", "-l", str(root / "src" / "perfpkg"))
    r2e(home, "extract", "-e", "x", "--overwrite", *FILTERS_OFF)
    r2e(home, "carve", "-e", "x", "--backend", "local")
    r2e(home, "perf", "mine", "-e", "x")
    r2e(home, "perf", "harness", "-e", "x")
    r2e(home, "perf", "quickcheck", "-e", "x", "--min-time", "0.01")
    return home, shas, Experiment(Workspace(home), "x")


def by_commit(records, shas, attr="candidate"):
    return {role: next((r for r in records if getattr(r, attr).endswith(sha[:12])), None) for role, sha in shas.items()}


def test_mine_finds_the_claims_and_the_functions_they_change(perf_exp):
    home, shas, exp = perf_exp
    cands = by_commit(exp.perf_records("perf_candidates"), shas, "id")
    assert cands["initial"] is None  # a root commit has no parent to measure against
    assert cands["speedup"].functions == ("local__perfpkg/pkg/stats.py::summarize",)
    assert cands["speedup"].apis == ("pkg.stats.summarize",) and cands["speedup"].parent == shas["initial"]
    assert cands["cosmetic"].functions == ("local__perfpkg/pkg/stats.py::checksum",)
    assert cands["wrong"].functions == ("local__perfpkg/pkg/stats.py::dedupe",) and "faster" in cands["wrong"].matched


def test_quickcheck_rejects_the_wrong_answer_and_scales_the_rest(perf_exp):
    home, shas, exp = perf_exp
    hs = by_commit(exp.perf_records("perf_harnesses"), shas)
    assert hs["wrong"].status == "dropped" and "outputs differ" in hs["wrong"].reason
    assert hs["wrong"].quickcheck["equal"] is False
    for role in ("speedup", "cosmetic"):
        h = hs[role]
        assert h.status == "passed" and h.source == "carve" and h.scale > 1, (h.reason, h.attempts)
        assert h.quickcheck["equal"] and min(h.quickcheck["a"]["wall"], h.quickcheck["b"]["wall"]) >= 0.01


@pytest.fixture(scope="module")
def measured(perf_exp):
    home, shas, exp = perf_exp
    r2e(home, "perf", "measure", "-e", "x", *MEASURE)
    return by_commit(exp.perf_records("perf_measurements"), shas)


def test_measure_admits_the_real_speedup_and_rejects_the_cosmetic_one(measured):
    fast, cosmetic = measured["speedup"], measured["cosmetic"]
    assert measured["wrong"] is None  # dropped at quickcheck, never measured
    assert fast.admitted, fast.reason
    assert 2.0 <= fast.speedup <= 4.0 and fast.p_value < 0.05 and fast.ci_low > 1.1
    assert fast.counter == "callgrind" and 2.0 <= fast.instr_ratio <= 4.0
    assert len(fast.wall_a) == len(fast.cpu_b) == 5 and fast.equal
    assert not cosmetic.admitted and cosmetic.equal
    assert cosmetic.p_value >= 0.05 or cosmetic.speedup < 1.1
    assert abs(cosmetic.instr_ratio - 1.0) < 0.01  # the same code, give or take renamed locals


def test_table_and_export(perf_exp, measured):
    home, shas, exp = perf_exp
    out = r2e(home, "perf", "table", "-e", "x").output
    assert "| repo | target API | commit A^ | commit B |" in out and "pkg.stats.summarize" in out
    table = json.loads((exp.perf_table_dir / "table.json").read_text())
    assert {r["admitted"] for r in table} == {True, False}
    assert (exp.perf_table_dir / "speedups.png").read_bytes()[:4] == b"\x89PNG"
    assert "<table" in (exp.perf_table_dir / "table.html").read_text()
    r2e(home, "perf", "export", "-e", "x")
    tasks = [json.loads(line) for line in exp.perf_tasks_path.read_text().splitlines()]
    assert len(tasks) == 1
    task = tasks[0]
    assert task["base_commit"] == shas["initial"] and task["opt_commit"] == shas["speedup"]
    assert task["api"] == "pkg.stats.summarize" and "def experiment" in task["prob_script"]
    assert {"instance_id", "repo", "tests", "docker_image"} <= set(task)
    assert task["tests"] == [] and 2.0 <= task["expert_speedup"] <= 4.0


def test_instruction_counts_hold_when_the_other_core_is_busy(perf_exp, measured):
    home, shas, exp = perf_exp
    quiet = measured["speedup"]
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        r2e(home, "perf", "measure", "-e", "x", "--candidate", quiet.candidate, *MEASURE[:-2], "--repeats", "2")
    finally:
        busy.kill()
        busy.wait()
    loaded = by_commit(exp.perf_records("perf_measurements"), shas)["speedup"]
    assert loaded.counter == "callgrind"
    assert abs(loaded.instr_ratio / quiet.instr_ratio - 1) < 0.02
    assert abs(loaded.instr_a[0] / quiet.instr_a[0] - 1) < 0.02
