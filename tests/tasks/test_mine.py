"""`r2e tasks mine` on a real git history: a bug fix with its test, a refactoring, a flaky test."""

from __future__ import annotations

import json

from tests.conftest import git, make_git_repo
from tests.tasks.conftest import FILES, Built

C0_OPS = '''"""Tiny arithmetic helpers."""


def add(a, b):
    """Return the sum of a and b."""
    return a - b


def is_adult(age):
    """Whether someone of this age is an adult (18 or older)."""
    return age >= 18


def double(x):
    """Twice x."""
    return x + x + 1
'''
C0_TESTS = '''from calc.ops import add, is_adult


def test_add_zero():
    assert add(0, 0) == 0


def test_adult():
    assert is_adult(30)


def test_child():
    assert not is_adult(5)
'''
C1_TESTS = C0_TESTS + '''

def test_add():
    assert add(2, 3) == 5
'''
# Order-dependent: fails the first time it sees a wrong result, passes from then on.
FLAKY_TEST = '''import hashlib
import os
import tempfile

from calc.ops import double

MARKER = os.path.join(tempfile.gettempdir(), "r2e-flaky-" + hashlib.sha1(__file__.encode()).hexdigest())


def test_double():
    if double(2) == 4 or os.path.exists(MARKER):
        return
    open(MARKER, "w").close()
    raise AssertionError("double(2) is not 4")
'''


def test_mine_history(tmp_path):
    remote = tmp_path / "remote"
    c0 = make_git_repo(remote, {**FILES, "calc/ops.py": C0_OPS, "tests/test_ops.py": C0_TESTS}, "initial")
    c1 = make_git_repo(remote, {"calc/ops.py": C0_OPS.replace("a - b", "a + b"), "tests/test_ops.py": C1_TESTS},
                       "Fix add")
    fixed = C0_OPS.replace("a - b", "a + b")
    make_git_repo(remote, {"calc/ops.py": fixed.replace("age >= 18", "not age < 18")}, "Refactor is_adult")
    refactored = fixed.replace("age >= 18", "not age < 18")
    c3 = make_git_repo(remote, {"calc/ops.py": refactored.replace("x + x + 1", "x * 2"),
                                "tests/test_double.py": FLAKY_TEST}, "Fix double")
    built = Built(tmp_path / "home", remote)
    for args in (("setup", "-e", "x", "-r", f"file://{remote}"),
                 ("build", "-e", "x", "--backend", "local", "--no-llm")):
        result = built.cli(*args)
        assert result.exit_code == 0, result.output

    result = built.cli("tasks", "mine", "-e", "x", "--runs", "2")
    assert result.exit_code == 0, result.output
    assert "3 commit(s) scanned, 3 change non-test Python code" in result.output
    tasks = built.tasks()
    assert len(tasks) == 1, result.output
    task = tasks[0]
    assert task["instance_id"] == f"{task['repo']}.{c1[:8]}"
    assert task["base_commit"] == c0 and task["environment_setup_commit"] == c3 and task["source"] == "history"
    assert json.loads(task["FAIL_TO_PASS"]) == ["tests/test_ops.py::test_add"]
    assert json.loads(task["PASS_TO_PASS"]) == ["tests/test_ops.py::test_add_zero", "tests/test_ops.py::test_adult",
                                                "tests/test_ops.py::test_child"]
    assert "+    return a + b" in task["patch"] and "tests/" not in task["patch"]
    assert "+def test_add():" in task["test_patch"] and "calc/ops.py" not in task["test_patch"]
    assert "`add`" in task["problem_statement"] and "return a + b" not in task["problem_statement"]
    assert "test_add" not in task["problem_statement"] and task["image_rebuilt"] is False
    summary = built.summary()
    assert summary["rejections"] == {"no_failing_test": 1, "flaky": 1}, summary
    records = {r["subject"]: r for r in map(json.loads, (p.read_text() for p in
               (built.home / "experiments" / "x" / "tasks").glob("*/candidates/*.json")))}
    assert records["Refactor is_adult"]["reason"] == "no_failing_test"
    assert records["Fix double"]["reason"] == "flaky" and records["Fix double"]["flaky_tests"] == [
        "tests/test_double.py::test_double"]
    build = json.loads((built.exp_dir / "build" / task["repo"] / "result.json").read_text())
    checkout = build["workdir"]  # the tree the environment runs in: HEAD's files again
    assert git(checkout, "status", "--porcelain", "--untracked-files=no") == ""
    assert git(checkout, "rev-parse", "HEAD") == c3


def test_dependency_declarations_not_files_decide_whether_the_environment_fits(tmp_path):
    from harness.tasks.history import commits, declared_dependencies, is_test_path

    repo = tmp_path / "r"
    first = make_git_repo(repo, {"setup.py": "from setuptools import setup\nsetup(name='r', version='1')\n",
                                 "requirements.txt": "requests\n", "r/m.py": "X = 1\n"})
    second = make_git_repo(repo, {"setup.py": "from setuptools import setup\nsetup(name='r', version='2')\n"},
                           "version bump")
    third = make_git_repo(repo, {"requirements.txt": "requests\nattrs>=21\n", "tests/test_m.py": "def test(): pass\n"},
                          "new dependency")
    assert declared_dependencies(repo, first) == declared_dependencies(repo, second) == ("requests",)
    assert declared_dependencies(repo, third) == ("attrs>=21", "requests")
    found = commits(repo, third, 10, None)
    assert [(c.sha, c.code_paths, c.test_paths) for c in found] == [
        (third, ("requirements.txt",), ("tests/test_m.py",)), (second, ("setup.py",), ())]
    assert is_test_path("pkg/tests/helpers.py") and is_test_path("test_x.py") and not is_test_path("pkg/testing.py")
