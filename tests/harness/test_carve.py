"""Carving on a fixture repo with a pytest suite: the tracer, the replay check and the harness,
executed by the real runner in a real venv."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.carve.carving import CarveOptions, carve_repo
from harness.carve.writer import merge, without_samples, write_harness
from harness.execute import ExecOptions, execute_harness
from installers.local_env import LocalEnvironment
from tests.harness.carve_fixture import make_carve_repo
from tests.harness.extracted import by_qualname, setup_and_extract

EXEC = ExecOptions(per_test_timeout=10, run_timeout=60)


def make_venv(path: Path) -> Path:
    uv = shutil.which("uv")
    cmd = ([uv, "venv", "--quiet", "--system-site-packages", "--python", sys.executable, str(path)] if uv
           else [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)])
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="module")
def carved(tmp_path_factory):
    root = tmp_path_factory.mktemp("carve")
    repo = make_carve_repo(root / "repo")
    env = LocalEnvironment(repo, make_venv(root / "venv"))
    records = by_qualname(setup_and_extract(root / "home", "fx", repo, ["pkg/mod.py"]))
    report, kept = carve_repo(env, list(records.values()), CarveOptions(max_samples=10, baseline=True))
    return env, records, report, kept


def entry(carved, qual):
    env, records, report, kept = carved
    return report["functions"][records[qual].id]


def test_suite_ran_once_with_and_without_the_tracer(carved):
    report = carved[2]
    assert report["status"] == "ok", report
    assert report["suite"]["exit_code"] == 0 and report["suite"]["counts"]["passed"] == 10
    assert report["baseline"]["counts"] == report["suite"]["counts"] and report["baseline"]["wrapped"] is False


def test_samples_are_distinct_and_bounded(carved):
    e = entry(carved, "classify")
    assert e["status"] == "ok" and e["stats"]["calls"] == 5 and e["stats"]["duplicates"] == 1 and e["kept"] == 4
    add = entry(carved, "Counter.add")
    assert add["stats"]["calls"] == 52 and add["kept"] == 10  # max_samples bounds what is kept


def test_large_and_unpicklable_inputs_are_skipped_and_counted(carved):
    big = entry(carved, "total")
    assert big["stats"]["skipped_large"] == 1 and big["kept"] == 1
    app = entry(carved, "apply")
    assert app["stats"]["skipped_unpicklable"] == 1 and app["kept"] == 2  # the lambda (by value) and abs stay
    assert "generator" in app["stats"]["unpicklable_errors"][0]


def test_nondeterministic_function_is_reported_not_kept(carved):
    e = entry(carved, "noisy")
    assert e["status"] == "nondeterministic" and e["kept"] == 0 and e["dropped"]["nondeterministic"] >= 1
    assert records_key(carved, "noisy") not in carved[3]


def test_inputs_that_do_not_load_outside_the_suite_are_dropped(carved):
    e = entry(carved, "describe")
    assert e["dropped"] == {"replay-failed": 1} and e["kept"] == 1  # describe(3) stays
    assert entry(carved, "never_called")["status"] == "never-called"


def records_key(carved, qual):
    return carved[1][qual].id


@pytest.mark.parametrize("qual", ["classify", "append_all", "apply", "pairs", "Counter.add", "Counter.double"])
def test_carved_harness_is_valid_and_covers(carved, qual):
    env, records, report, kept = carved
    record = records[qual]
    result = execute_harness(env, record, write_harness(record, kept[record.id]), EXEC)
    assert result.status == "valid", result.reasons or result.load_error or result.tests
    assert result.counts["run"] == len(kept[record.id])
    assert result.branch_coverage >= (0.8 if qual != "append_all" else 0.5)
    if qual == "apply":  # the lambda, carved by value, is rebuilt in the harness and called on both sides
        assert any("lambda" in c["args"] for c in result.captures), result.captures


CANDIDATES = {
    # same return values, no mutation of the argument
    "append_all": "def append_all(target, items):\n    return len(items)\n",
    # same return values, instance history not kept
    "Counter.add": ("def add(self, n):\n    if n < 0:\n        self.count = 0\n    else:\n        self.count += n\n"
                    "    return self.count\n"),
    # a wrong branch
    "classify": "def classify(x):\n    if x > 0:\n        return 'pos'\n    return 'zero' if x == 0 else 'neg?'\n",
    # a different exception type
    "total": "def total(values):\n    if len(values) < 3:\n        raise TypeError('short')\n    return sum(values)\n",
}


@pytest.mark.parametrize("qual", sorted(CANDIDATES))
def test_carved_harness_rejects_a_changed_implementation(carved, qual):
    env, records, report, kept = carved
    record = records[qual]
    harness = write_harness(record, kept[record.id])
    result = execute_harness(env, record, harness, EXEC, candidate_code=CANDIDATES[qual])
    assert result.mode == "candidate"
    assert result.counts["run"] > 0 and result.counts["failed"] >= 1, result.tests


def test_failing_samples_can_be_removed_and_merged_harness_runs_both(carved):
    env, records, report, kept = carved
    record = records["classify"]
    harness = write_harness(record, kept[record.id])
    first = kept[record.id][0]["sha"][:8]
    trimmed = without_samples(harness, {first})
    assert first not in trimmed and trimmed.count('    ("') == len(kept[record.id]) - 1
    generated = ("from __future__ import annotations\nimport unittest\nfrom pkg.mod import classify, reference_classify\n"
                 "def shape(v):\n    return v\n\nclass TestEquivalence(unittest.TestCase):\n"
                 "    def test_big(self):\n        self.assertEqual(shape(classify(10**9)), reference_classify(10**9))\n")
    result = execute_harness(env, record, merge(generated, trimmed), EXEC)
    assert result.status == "valid", result.tests
    ids = [t["id"] for t in result.tests]
    assert any("TestEquivalence" in i for i in ids) and sum("test_carved" in i for i in ids) == len(kept[record.id]) - 1
