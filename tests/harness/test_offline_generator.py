"""The offline generator's harnesses: valid on the original, and they catch a wrong candidate."""

from __future__ import annotations

from harness.generators import OfflineGenerator
from r2e.stage_records import FunctionRecord
from tests.harness.fixtures import MOD, SPANS, make_fixture_repo, run_runner


def record(qual: str) -> FunctionRecord:
    cls, _, name = qual.rpartition(".")
    start, end = SPANS[qual]
    code = "\n".join(MOD.splitlines()[start - 1:end]) + "\n"
    return FunctionRecord(id=f"r/pkg/mod.py::{qual}", repo="r", path="pkg/mod.py", name=name,
                          class_name=cls or None, start_line=start, end_line=end, code=code)


def test_offline_harness_function_valid_and_sensitive(tmp_path):
    repo = make_fixture_repo(tmp_path / "repo")
    test = OfflineGenerator().generate(record("classify"), None, 1).tests[0]
    result = run_runner(tmp_path, repo, "classify", test)
    assert result["valid"], result["reasons"]
    assert result["coverage"]["branch_coverage"] == 1.0
    wrong = tmp_path / "wrong.py"
    wrong.write_text("def classify(x):\n    if x > 1:\n        return SCALE\n    elif x < 0:\n        return -SCALE\n    return 0\n")
    assert not run_runner(tmp_path, repo, "classify", test, candidate_file=str(wrong))["valid"]


def test_offline_harness_method_compares_state(tmp_path):
    repo = make_fixture_repo(tmp_path / "repo")
    test = OfflineGenerator().generate(record("Counter.add"), None, 1).tests[0]
    assert "reference_Counter" in test
    result = run_runner(tmp_path, repo, "Counter.add", test)
    assert result["valid"], result["reasons"]
    assert result["coverage"]["branch_coverage"] == 1.0
    # same return value, different state: only the state comparison can catch it
    wrong = tmp_path / "wrong.py"
    wrong.write_text("def add(self, n):\n    if n < 0:\n        self.count = 0\n        return 0\n"
                     "    result = self.count + n\n    self.count = result + (1 if n == 3 else 0)\n    return result\n")
    bad = run_runner(tmp_path, repo, "Counter.add", test, candidate_file=str(wrong))
    failed = [t for t in bad["tests"] if t["outcome"] == "failed"]
    assert not bad["valid"] and len(failed) == 1 and "state after" in failed[0]["message"]


def test_later_rounds_use_new_seeds_and_more_cases():
    gen = OfflineGenerator()
    first, second = (gen.generate(record("total"), None, r).tests[0] for r in (1, 2))
    assert first != second and "SEED = 1001" in first and "SEED = 1002" in second


def test_doctest_examples_are_replayed_against_the_reference(tmp_path):
    repo = make_fixture_repo(tmp_path / "repo")
    test = OfflineGenerator().generate(record("pairs"), None, 1).tests[0]
    result = run_runner(tmp_path, repo, "pairs", test)
    assert result["valid"], result["reasons"]
    outcomes = {t["id"].rsplit(".", 1)[1]: t["outcome"] for t in result["tests"]}
    assert outcomes["test_doctest_examples_same_as_reference"] == "passed"
    wrong = tmp_path / "wrong.py"
    wrong.write_text("def pairs(items):\n    if len(items) < 2:\n        return iter(())\n"
                     "    return zip(items, items[1:2])\n")
    bad = run_runner(tmp_path, repo, "pairs", test, candidate_file=str(wrong))
    doctest_run = next(t for t in bad["tests"] if t["id"].endswith("test_doctest_examples_same_as_reference"))
    assert doctest_run["outcome"] == "failed" and "list(pairs([1, 2, 3]))" in doctest_run["message"]
    # a function without examples: the doctest test is skipped, not counted as run
    plain = run_runner(tmp_path, repo, "classify", OfflineGenerator().generate(record("classify"), None, 1).tests[0])
    assert plain["valid"] and plain["counts"]["skipped"] == 1 and plain["counts"]["run"] == 1
