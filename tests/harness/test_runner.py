"""The runner against real coverage.py on fixture functions with known branch counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.fixtures import make_fixture_repo, run_runner


@pytest.fixture
def repo(tmp_path):
    return make_fixture_repo(tmp_path / "repo")


def coverage_own_report(tmp_path, repo, driver: str, qual: str) -> dict:
    """coverage.py run on its own (`coverage run --branch`) over the same calls: its function summary."""
    script = tmp_path / "driver.py"
    script.write_text(driver)
    data = tmp_path / ".coverage-own"
    env_cmd = [sys.executable, "-m", "coverage"]
    subprocess.run([*env_cmd, "run", "--branch", f"--data-file={data}", f"--include={repo}/pkg/mod.py", str(script)],
                   check=True, cwd=repo, capture_output=True, env={**os.environ, "PYTHONPATH": str(repo)})
    out = tmp_path / "own.json"
    subprocess.run([*env_cmd, "json", f"--data-file={data}", "-o", str(out)], check=True, cwd=repo, capture_output=True)
    files = json.loads(out.read_text())["files"]
    (entry,) = files.values()
    return entry["functions"][qual]["summary"]


CLASSIFY_TEST = """
import unittest
from pkg.mod import classify, reference_classify

class TestClassify(unittest.TestCase):
    def test_values(self):
        for x in {inputs}:
            self.assertEqual(classify(x), reference_classify(x))
"""


@pytest.mark.parametrize("inputs,covered", [("[5]", 1), ("[5, -3]", 3), ("[5, -3, 0]", 4)])
def test_branch_counts_match_coverage_own_report(tmp_path, repo, inputs, covered):
    result = run_runner(tmp_path, repo, "classify", CLASSIFY_TEST.format(inputs=inputs))
    assert result["valid"], result["reasons"]
    cov = result["coverage"]
    assert cov["source"] == "coverage-functions"
    assert cov["num_branches"] == 4  # if/elif: two decisions with two outcomes each
    assert cov["covered_branches"] == covered
    own = coverage_own_report(tmp_path, repo, f"from pkg.mod import classify\nfor x in {inputs}: classify(x)\n", "classify")
    assert (cov["num_branches"], cov["covered_branches"]) == (own["num_branches"], own["covered_branches"])
    assert (cov["num_statements"], cov["covered_lines"]) == (own["num_statements"], own["covered_lines"])
    # lines are 1-based file lines inside the function's span (def at 9, end at 15)
    assert all(10 <= n <= 15 for n in cov["executed_lines"] + cov["missing_lines"])
    assert result["counts"] == {"run": 1, "passed": 1, "failed": 0, "errored": 0, "skipped": 0}
    assert [c["args"] for c in result["captures"]] == [repr((x,)) for x in eval(inputs)]


def test_loop_branches_and_pytest_style(tmp_path, repo):
    test = """
from pkg.mod import total, reference_total

def test_total():
    assert total([1, 2, 3]) == reference_total([1, 2, 3])
    assert total([5, 5], cap=7) == reference_total([5, 5], cap=7)
"""
    result = run_runner(tmp_path, repo, "total", test)
    assert result["valid"], result["reasons"]
    own = coverage_own_report(tmp_path, repo, "from pkg.mod import total\ntotal([1,2,3]); total([5,5], cap=7)\n", "total")
    cov = result["coverage"]
    assert (cov["num_branches"], cov["covered_branches"]) == (own["num_branches"], own["covered_branches"])
    assert cov["missing_branches"] == []  # loop exit, break, cap None and not None: all taken


def test_failing_test_is_invalid_with_message(tmp_path, repo):
    test = CLASSIFY_TEST.format(inputs="[1]").replace("reference_classify(x)", "reference_classify(x) + 1")
    result = run_runner(tmp_path, repo, "classify", test)
    assert not result["valid"]
    assert result["counts"]["failed"] == 1
    assert "AssertionError" in result["tests"][0]["message"]


def test_spoofed_test_printing_ok_is_invalid(tmp_path, repo):
    spoof = """
import os, sys
print("Ran 1 test in 0.001s")
print("OK")
sys.stdout.flush()
os._exit(0)
"""
    result = run_runner(tmp_path, repo, "classify", spoof)
    assert not result["valid"]
    # its process exited 0 without ever reporting: no test of it counts
    assert "exited (status 0) before its tests were listed" in result["load_error"], result["load_error"]
    assert "OK" in result["runs"][0]["output"]


def test_spoofed_result_file_and_exit_code(tmp_path, repo):
    spoof = """
import json, os, sys
out = sys.argv[-1]
with open(out, "w") as fh:
    json.dump({"nonce": "guess", "tests": [{"id": "t", "outcome": "passed", "message": "", "duration": 0}],
               "counts": {"run": 1, "passed": 1, "failed": 0, "errored": 0, "skipped": 0},
               "load_error": None, "coverage": None, "captures": [], "captured_calls": 0}, fh)
os._exit(0)
"""
    result = run_runner(tmp_path, repo, "classify", spoof)
    assert not result["valid"]
    assert any("could not be loaded" in r for r in result["reasons"]), result["reasons"]


def test_zero_tests_is_invalid(tmp_path, repo):
    result = run_runner(tmp_path, repo, "classify", "from pkg.mod import classify, reference_classify\n")
    assert not result["valid"]
    assert result["counts"]["run"] == 0
    assert any("no test ran" in r for r in result["reasons"])


def test_sys_exit_in_test_module_is_invalid(tmp_path, repo):
    result = run_runner(tmp_path, repo, "classify", "import unittest\nunittest.main()\n")
    assert not result["valid"]
    assert "sys.exit" in result["load_error"]


def test_non_deterministic_test_is_invalid(tmp_path, repo):
    test = """
import unittest
from pkg.mod import noisy, reference_noisy

class T(unittest.TestCase):
    def test_type(self):
        self.assertIsInstance(noisy(1), float)
        self.assertIsInstance(reference_noisy(1), float)
"""
    result = run_runner(tmp_path, repo, "noisy", test)
    assert result["counts"]["passed"] == 1  # each run passes on its own...
    assert not result["valid"]  # ...but the two runs' captured outputs differ
    assert any("disagrees" in r for r in result["reasons"]), result["reasons"]


def test_seeded_test_is_deterministic_and_valid(tmp_path, repo):
    test = """
import random, unittest
from pkg.mod import noisy, reference_noisy

class T(unittest.TestCase):
    def test_seeded(self):
        random.seed(0); a = noisy(1)
        random.seed(0); b = reference_noisy(1)
        self.assertEqual(a, b)
"""
    result = run_runner(tmp_path, repo, "noisy", test)
    assert result["valid"], result["reasons"]


def test_test_that_never_finishes_hits_per_test_timeout(tmp_path, repo):
    test = """
import unittest
from pkg.mod import slow, reference_slow

class T(unittest.TestCase):
    def test_hangs(self):
        self.assertEqual(slow(-1), reference_slow(-1))
    def test_fine(self):
        self.assertEqual(slow(2), reference_slow(2))
"""
    result = run_runner(tmp_path, repo, "slow", test, per_test_timeout=1, run_timeout=30)
    assert not result["valid"]
    outcomes = {t["id"].split(".")[-1]: t["outcome"] for t in result["tests"]}
    assert outcomes == {"test_hangs": "timeout", "test_fine": "passed"}
    assert result["duration"] < 20


SWALLOWS = """
def test_swallows():
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
"""


def test_swallowed_timeouts_are_killed_at_the_per_test_timeout(tmp_path, repo):
    result = run_runner(tmp_path, repo, "slow", SWALLOWS, per_test_timeout=1, run_timeout=60)
    assert not result["valid"]
    assert [t["outcome"] for t in result["tests"]] == ["timeout"]
    assert "killed" in result["tests"][0]["message"]
    assert result["duration"] < 15  # two runs of 1 s + the kill grace, not the 60 s run timeout


def test_runs_past_the_run_timeout_are_killed(tmp_path, repo):
    result = run_runner(tmp_path, repo, "slow", SWALLOWS, per_test_timeout=30, run_timeout=3)
    assert not result["valid"]
    assert result["timed_out"] and result["runs"][0]["timed_out"]
    assert len(result["runs"]) == 1  # no second run of a run that never ends
    assert result["duration"] < 10


def test_method_with_state_and_reference_class(tmp_path, repo):
    test = """
import unittest
from pkg.mod import Counter, reference_Counter

class T(unittest.TestCase):
    def test_sequence(self):
        a, b = Counter(3), reference_Counter(3)
        for n in [1, 2, -1, 4]:
            self.assertEqual(a.add(n), b.add(n))
            self.assertEqual(a.count, b.count)
"""
    result = run_runner(tmp_path, repo, "Counter.add", test)
    assert result["valid"], result["reasons"]
    cov = result["coverage"]
    assert cov["source"] == "coverage-functions"
    assert (cov["num_branches"], cov["covered_branches"]) == (2, 2)
    # the reference's execution is not counted: only the original's 4 calls are captured
    assert result["captured_calls"] == 4
    assert [c["result"] for c in result["captures"]] == ["4", "6", "0", "4"]


def test_reference_runs_are_not_counted_as_coverage(tmp_path, repo):
    test = CLASSIFY_TEST.format(inputs="[5]").replace(
        "self.assertEqual(classify(x), reference_classify(x))",
        "self.assertEqual(classify(x), reference_classify(x)); reference_classify(-1); reference_classify(0)")
    result = run_runner(tmp_path, repo, "classify", test)
    assert result["valid"]
    assert result["coverage"]["covered_branches"] == 1


def test_candidate_mode_detects_a_wrong_candidate(tmp_path, repo):
    wrong = tmp_path / "cand.py"
    wrong.write_text("def classify(x):\n    return SCALE if x >= 0 else -SCALE\n")
    test = CLASSIFY_TEST.format(inputs="[5, -3, 0]")
    result = run_runner(tmp_path, repo, "classify", test, candidate_file=str(wrong))
    assert result["mode"] == "candidate"
    assert not result["valid"] and result["counts"]["failed"] == 1
    right = tmp_path / "cand_ok.py"
    right.write_text("def classify(x):\n    return SCALE if x > 0 else (-SCALE if x < 0 else 0)\n")
    result = run_runner(tmp_path, repo, "classify", test, candidate_file=str(right))
    assert result["valid"], result["reasons"]


def test_line_range_fallback_agrees_with_coverage_functions(tmp_path, repo):
    """For coverage versions without per-function regions the runner filters file data by line span."""
    from harness.sandbox.runner import _range_summary, _region_summary
    from tests.harness.fixtures import SPANS

    driver = "from pkg.mod import classify, Counter\nfor x in [5, 0]: classify(x)\nCounter().add(2)\n"
    script = tmp_path / "driver.py"
    script.write_text(driver)
    data = tmp_path / ".cov"
    env = {**os.environ, "PYTHONPATH": str(repo)}
    subprocess.run([sys.executable, "-m", "coverage", "run", "--branch", f"--data-file={data}",
                    f"--include={repo}/pkg/mod.py", str(script)], check=True, cwd=repo, env=env)
    out = tmp_path / "c.json"
    subprocess.run([sys.executable, "-m", "coverage", "json", f"--data-file={data}", "-o", str(out)],
                   check=True, cwd=repo, env=env, capture_output=True)
    (file_data,) = json.loads(out.read_text())["files"].values()
    for qual in ("classify", "Counter.add"):
        start, end = SPANS[qual]
        by_range = _range_summary(file_data, {"start_line": start, "end_line": end})
        by_region = _region_summary(file_data["functions"][qual])
        for key in ("num_branches", "covered_branches", "num_statements", "covered_lines", "missing_branches"):
            assert by_range[key] == by_region[key], (qual, key)


PY38 = Path("/root/.pyenv/versions/3.8.18/bin/python3.8")


@pytest.mark.skipif(not PY38.exists(), reason="no Python 3.8 interpreter on this machine")
def test_runner_runs_on_python_38_without_coverage(tmp_path, repo):
    result = run_runner(tmp_path, repo, "classify", CLASSIFY_TEST.format(inputs="[5, -3]"), python=str(PY38))
    assert result["valid"], result["reasons"]
    assert result["coverage"]["source"] == "none" and "coverage unavailable" in result["coverage"]["error"]
