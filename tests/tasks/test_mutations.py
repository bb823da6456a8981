"""Mutation sites, seeded choice, diffs that git applies, leak checks: no environment needed."""

from __future__ import annotations

import pytest

from harness.tasks import mutate
from harness.tasks.diffs import git_apply_check, unified_diff
from harness.tasks.statements import leaks, offline_statement
from r2e.errors import R2EUsageError
from r2e.stage_records import FunctionRecord, TaskInstance

SOURCE = '''def window(items, n, flag=True):
    """Docstring with 1 number."""
    if n <= 0:
        return []
    elif n > len(items):
        n = len(items)
    else:
        pass
    total = sum(items[0:n])
    for i in range(n):
        total += items[i]
    return max(total, 0)
'''


def strategy_edits(name):
    return mutate.sites(SOURCE.encode(), 1, (name,))


def mutated(edit):
    return mutate.apply(SOURCE.encode(), edit).decode()


def test_each_strategy_finds_its_sites_in_the_body_only():
    ops = {e.what for e in strategy_edits("swap_operator")}
    assert ops == {"`<=` -> `>=`", "`>` -> `<`", "`+=` -> `-=`"}
    off = {e.what for e in strategy_edits("off_by_one")}
    assert off == {"`<=` -> `<`", "`>` -> `>=`", "`0` -> `1`", "`n` -> `n + 1`"}
    consts = {e.what for e in strategy_edits("change_constant")}
    assert consts == {"`0` -> `1`"}  # `flag=True` is in the signature, `1` in the docstring: never touched
    assert {e.what for e in strategy_edits("swap_arguments")} == {"`total` and `0` swapped"}
    dropped = [mutated(e) for e in strategy_edits("drop_branch")]
    assert any("    if n <= 0:\n        pass\n    elif" in d for d in dropped)
    assert any("elif" not in d for d in dropped) and any("else:" not in d for d in dropped)
    removed = [mutated(e) for e in strategy_edits("remove_statement")]
    assert any("total = sum" not in r for r in removed)
    assert all("return []" in r for r in removed)  # the only statement of its block stays
    for edit in mutate.sites(SOURCE.encode(), 1, mutate.strategy_names()):
        compile(mutated(edit), "window.py", "exec")  # every mutant is still valid Python


def test_covered_lines_restrict_sites_and_the_choice_is_seeded():
    everything = mutate.sites(SOURCE.encode(), 1, mutate.strategy_names())
    only_line_3 = mutate.sites(SOURCE.encode(), 1, mutate.strategy_names(), covered={3})
    assert only_line_3 and {e.line for e in only_line_3} == {3}
    first = mutate.pick(everything, 4, seed=7, function_id="r/m.py::window")
    assert first == mutate.pick(list(everything), 4, seed=7, function_id="r/m.py::window")
    assert len({e.strategy for e in first}) == 4  # strategies take turns
    assert any(mutate.pick(everything, 4, seed=s, function_id="r/m.py::window") != first for s in range(8))


def test_unknown_strategy_is_a_usage_error():
    assert mutate.parse_strategies("drop_branch, swap_operator") == ("drop_branch", "swap_operator")
    with pytest.raises(R2EUsageError, match="unknown mutation strategy 'nope'"):
        mutate.parse_strategies("swap_operator,nope")


def test_bug_and_fix_diffs_are_git_style_and_apply():
    edit = strategy_edits("swap_operator")[0]
    buggy = mutated(edit)
    bug, fix = unified_diff("pkg/m.py", SOURCE, buggy), unified_diff("pkg/m.py", buggy, SOURCE)
    assert bug.startswith("diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ ")
    assert git_apply_check("pkg/m.py", SOURCE, bug) is None and git_apply_check("pkg/m.py", buggy, fix) is None
    assert git_apply_check("pkg/m.py", SOURCE, fix) is not None  # the fix does not apply to the clean tree
    no_newline = SOURCE.rstrip("\n")
    diff = unified_diff("m.py", no_newline, no_newline.replace("max(total, 0)", "min(total, 0)"))
    assert "\\ No newline at end of file" in diff and git_apply_check("m.py", no_newline, diff) is None


def test_leaks_find_fix_lines_test_names_and_diff_syntax():
    fix = unified_diff("m.py", "def f(a):\n    return a - 1\n", "def f(a):\n    return a + 1\n")
    tests = ["tests/test_m.py::test_f_adds[1]", "tests/test_m.py::TestM::test_other"]
    assert leaks("f(1) should be 2, it is 0", fix, tests) == []
    assert leaks("It should   return a + 1 instead", fix, tests) == ["code line `return a + 1`"]
    assert leaks("see test_f_adds", fix, tests) == ["test name `test_f_adds`"]
    assert leaks("diff --git a/m.py b/m.py", fix, tests) == ["diff syntax"]
    fn = FunctionRecord(id="r/m.py::f", repo="r", path="m.py", name="f", start_line=1, end_line=2,
                        code="def f(a):\n    return a + 1", signature="def f(a):", docstring="Add one.")
    text = offline_statement(fn, ["assert 0 == 2"], 1)
    assert leaks(text, fix, tests) == [] and "def f(a)" in text and "> Add one." in text


def test_task_instance_uses_swe_bench_encodings():
    task = TaskInstance(instance_id="i", repo="r", base_commit="c", patch="p", problem_statement="s",
                        FAIL_TO_PASS=("a",), PASS_TO_PASS=("b", "c"), bug_patch="bp", flaky_tests=("z",))
    data = task.to_dict()
    assert data["FAIL_TO_PASS"] == '["a"]' and data["PASS_TO_PASS"] == '["b", "c"]'
    assert TaskInstance.from_dict(data) == task
    assert TaskInstance.from_dict({**data, "FAIL_TO_PASS": ["a"], "unknown": 1}).extra == {"unknown": 1}


def test_a_docstring_holding_a_fix_line_is_left_out_of_the_statement():
    from harness.tasks.stage import MutateOptions, _statement

    fix = unified_diff("m.py", "def f(d):\n    pass\n", "def f(d):\n    k, v = item\n")
    fn = FunctionRecord(id="r/m.py::f", repo="r", path="m.py", name="f", start_line=1, end_line=2, code="",
                        signature="def f(d):", docstring="Example:\n    k, v = item")
    record = {"FAIL_TO_PASS": ["t.py::test_f"], "PASS_TO_PASS": ["t.py::test_g"], "patch": fix, "valid": True}
    _statement(record, fn, {"t.py::test_f": "assert {} == {1: 2}"}, MutateOptions())
    assert record["valid"] and record["statement_kind"] == "offline"
    assert "k, v = item" not in record["problem_statement"] and "assert {} == {1: 2}" in record["problem_statement"]


def test_clean_tree_check_ignores_what_an_install_rewrites():
    from harness.tasks.stage import check_clean
    from installers.environment import ExecResult
    from r2e.errors import R2EError

    class Tree:  # only the git status answer matters here
        workdir = "/testbed"

        def __init__(self, status):
            self.status = status

        def execute(self, command, timeout=None):
            return ExecResult(0, self.status)

    check_clean(Tree(" M toolz.egg-info/PKG-INFO\n M toolz.egg-info/SOURCES.txt\n"))  # sdists ship these
    with pytest.raises(R2EError, match=r"has uncommitted changes \(toolz/itertoolz.py"):
        check_clean(Tree(" M toolz.egg-info/PKG-INFO\n M toolz/itertoolz.py\n"))
