"""The pure parts of r2e perf: statistics, canonical results, message patterns, hunk-to-function mapping."""

from __future__ import annotations

import math

from harness.perf import stats
from harness.perf.mine import function_spans, is_test_path, load_patterns, matched_patterns, touched
from harness.perf.runner import canonical


def test_mann_whitney_matches_reference_values():
    # scipy.stats.mannwhitneyu(..., method="asymptotic", use_continuity=True) gives these
    u, p = stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert u == 0 and math.isclose(p, 0.012185780355344818, rel_tol=1e-9)
    # ties, by hand: mid-ranks give R1 = 26.5, U = 5.5; tie term 96, var = 3 * (13 - 96/132); z = 12 / sd
    u, p = stats.mann_whitney_u([1, 2, 2, 3, 3, 3], [2, 3, 4, 4, 5, 5])
    assert u == 5.5 and math.isclose(p, 0.04797, abs_tol=1e-4)
    assert stats.mann_whitney_u([1.0] * 5, [1.0] * 5)[1] == 1.0


def test_bootstrap_interval_brackets_the_ratio():
    a = [3.0 + 0.01 * i for i in range(10)]
    b = [1.0 + 0.01 * i for i in range(10)]
    lo, hi = stats.bootstrap_ci(a, b)
    assert lo <= stats.speedup(a, b) <= hi and 2.8 < lo and hi < 3.2
    assert stats.bootstrap_ci([1.0], [1.0]) == (None, None)


def test_canonical_results_ignore_set_order_and_addresses():
    class Box:
        def __init__(self, v):
            self.v = v

    assert canonical({3, 1, 2}) == canonical({2, 3, 1})
    assert canonical({"b": 1, "a": [1.0000000000001]}) == canonical({"a": [1.0], "b": 1})
    assert canonical([Box(1)]) == canonical([Box(1)]) != canonical([Box(2)])
    assert canonical(object.__repr__) == canonical(object.__repr__)
    assert canonical([1, 2]) != canonical([2, 1])


def test_patterns_match_perf_language_only():
    pats = load_patterns()
    for msg in ("Speed up parsing", "faster dedupe", "Optimise the loop", "vectorize norms", "cache results",
                "make it O(n)", "avoid quadratic behaviour", "perf: fewer allocations"):
        assert matched_patterns(msg, pats), msg
    for msg in ("Fix typo in README", "Add support for Python 3.12", "Refactor tests", "Update speedometer docs"):
        assert not matched_patterns(msg, pats), msg


def test_hunks_map_to_functions_and_methods():
    src = "def a():\n    return 1\n\n\nclass K:\n    @staticmethod\n    def m():\n        return 2\n"
    spans = function_spans(src)
    assert ("a", 1, 2) in spans and ("K.m", 6, 8) in spans
    assert touched(spans, {2}) == {"a"} and touched(spans, {6}) == {"K.m"} and touched(spans, {3, 4}) == set()
    assert is_test_path("tests/test_x.py") and is_test_path("pkg/x_test.py")
    assert not is_test_path("pkg/testing_utils.py")


def test_patch_score_is_relative_to_the_expert():
    from harness.perf.export import harmonic_mean, patch_score

    assert harmonic_mean([2.0, 2.0]) == 2.0 and round(harmonic_mean([1.0, 3.0]), 3) == 1.5
    assert patch_score([2.0], [2.0]) == (1.0, True)
    score, ok = patch_score([1.8], [2.0])
    assert round(score, 2) == 0.9 and not ok
    assert patch_score([], [2.0]) == (None, False)


def test_benchmarks_that_call_the_function_are_found():
    from harness.perf.harnesses import benchmarks_calling

    src = '''
from pkg.stats import summarize

def time_summarize():
    summarize(list(range(100)))

def time_other():
    sorted([3, 2, 1])

class Suite:
    def setup(self):
        self.xs = list(range(100))

    def time_method(self):
        pkg.stats.summarize(self.xs)

def test_bench(benchmark):
    benchmark(summarize, [1, 2])
'''
    assert benchmarks_calling(src, "summarize") == ["time_summarize", "Suite.time_method", "test_bench"]
    assert benchmarks_calling("def broken(:", "summarize") == []
