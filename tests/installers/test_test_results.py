"""Per-test results: the in-environment reporters on real pytest/unittest suites, the eval script, flaky runs."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from installers.eval_run import install_eval_script, run_with_flaky_check
from installers.eval_script import git_exclude_command, render_eval_script, sandbox_source, unittest_command
from installers.local_env import LocalEnvironment
from installers.test_results import TestRun, make_run, merge_rerun, parse_report, read_report, result_marker
from r2e.errors import R2EError
from tests.conftest import make_git_repo

SANDBOX = sandbox_source()

PYTEST_SUITE = {
    "tests/__init__.py": "",
    "tests/test_kinds.py": '''
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown")

def test_pass(): pass
def test_fail(): assert 0
def test_fixture_error(broken): pass
def test_teardown_error(bad_teardown): pass
@pytest.mark.skip(reason="no")
def test_skip(): pass
@pytest.mark.xfail
def test_xfail(): assert 0
@pytest.mark.xfail
def test_xpass(): pass
@pytest.mark.xfail(strict=True)
def test_xpass_strict(): pass
@pytest.mark.parametrize("x", [1, "a b", "c::d"])
def test_param(x): assert x != 1

class TestGroup:
    def test_method(self): pass
    class TestInner:
        def test_nested(self): pass
''',
    "tests/test_broken_import.py": "import module_that_is_not_there\n",
}
PYTEST_EXPECTED = {
    "tests/test_kinds.py::test_pass": "PASSED",
    "tests/test_kinds.py::test_fail": "FAILED",
    "tests/test_kinds.py::test_fixture_error": "ERROR",
    "tests/test_kinds.py::test_teardown_error": "ERROR",
    "tests/test_kinds.py::test_skip": "SKIPPED",
    "tests/test_kinds.py::test_xfail": "XFAIL",
    "tests/test_kinds.py::test_xpass": "PASSED",
    "tests/test_kinds.py::test_xpass_strict": "FAILED",
    "tests/test_kinds.py::test_param[1]": "FAILED",
    "tests/test_kinds.py::test_param[a b]": "PASSED",
    "tests/test_kinds.py::test_param[c::d]": "PASSED",
    "tests/test_kinds.py::TestGroup::test_method": "PASSED",
    "tests/test_kinds.py::TestGroup::TestInner::test_nested": "PASSED",
    "tests/test_broken_import.py": "ERROR",
}
HANGING_SUITE = {
    "tests/test_hang.py": '''
import time

def test_before(): pass

def test_hangs():
    try:
        time.sleep(60)
    except Exception:  # the timeout must not be swallowed by the test
        time.sleep(60)

def test_after(): pass
''',
}
UNITTEST_SUITE = {
    "pkg/__init__.py": 'def add(a, b):\n    """\n    >>> add(1, 2)\n    3\n    """\n    return a + b\n',
    "tests/__init__.py": "",
    "tests/basics.py": '''
import time, unittest

class TestA(unittest.TestCase):
    def test_pass(self): pass
    def test_fail(self): self.assertEqual(1, 2)
    def test_raises(self): raise ValueError("x")
    @unittest.skip("no")
    def test_skip(self): pass
    @unittest.expectedFailure
    def test_xfail(self): self.assertEqual(1, 2)
    @unittest.expectedFailure
    def test_xpass(self): pass
    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, 1)

class TestBrokenClass(unittest.TestCase):
    @classmethod
    def setUpClass(cls): raise RuntimeError("setUpClass")
    def test_one(self): pass
    def test_two(self): pass
''',
    "tests/slow.py": '''
import time, unittest

class TestSlow(unittest.TestCase):
    def test_hangs(self):
        try:
            time.sleep(60)
        except Exception:
            time.sleep(60)
    def test_quick(self): pass
''',
    # the maintainers run `python -m tests.all`: a module not named test_*, building its own suite
    "tests/all.py": '''
import doctest, sys, unittest
import pkg
from tests import basics, slow

def suite():
    s = unittest.TestSuite()
    for module in (basics, slow):
        s.addTests(unittest.defaultTestLoader.loadTestsFromModule(module))
    s.addTests(doctest.DocTestSuite(pkg))
    return s

if __name__ == "__main__":
    result = unittest.TextTestRunner(verbosity=2).run(suite())
    sys.exit(not result.wasSuccessful())
''',
}
UNITTEST_EXPECTED = {
    "tests/basics.py::TestA::test_pass": "PASSED",
    "tests/basics.py::TestA::test_fail": "FAILED",
    "tests/basics.py::TestA::test_raises": "FAILED",
    "tests/basics.py::TestA::test_skip": "SKIPPED",
    "tests/basics.py::TestA::test_xfail": "XFAIL",
    "tests/basics.py::TestA::test_xpass": "FAILED",
    "tests/basics.py::TestA::test_subtests": "FAILED",
    "tests/basics.py::TestBrokenClass::test_one": "ERROR",
    "tests/basics.py::TestBrokenClass::test_two": "ERROR",
    "tests/slow.py::TestSlow::test_hangs": "FAILED",
    "tests/slow.py::TestSlow::test_quick": "PASSED",
    "pkg/__init__.py::pkg.add": "PASSED",
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "R2E_TEST"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def _pytest(repo: Path, report: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "r2e_pytest_report", *args], cwd=repo,
                          env=_env(PYTHONPATH=str(SANDBOX), R2E_TEST_REPORT=str(report), **env),
                          capture_output=True, text=True, timeout=timeout)


def _unittest(repo: Path, report: Path, *what: str, timeout_s: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SANDBOX / "r2e_unittest_report.py"), str(report)]
    if timeout_s:
        cmd += ["--timeout", timeout_s]
    return subprocess.run([*cmd, "--", *what], cwd=repo, env=_env(), capture_output=True, text=True, timeout=60)


@pytest.fixture
def venv(tmp_path) -> Path:
    """A venv whose python sees the host's pytest (as a built environment's venv has it installed)."""
    path = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(path)], check=True)
    return path


# ------------------------------------------------------------------------------------- pytest plugin
def test_pytest_plugin_records_every_kind_of_outcome_with_pytest_ids(tmp_path):
    repo = _write(tmp_path / "repo", PYTEST_SUITE)
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    proc = _pytest(repo, report, f"--junitxml={junit}")
    data = json.loads(report.read_text())
    assert data["tests"] == PYTEST_EXPECTED, proc.stdout[-3000:]
    assert data["complete"] is True and data["exit_code"] == proc.returncode == 1
    assert data["reasons"] == {"tests/test_broken_import.py": "collection"}
    run = make_run(read_report(report), exit_code=proc.returncode)
    assert run.counts == {"PASSED": 6, "FAILED": 3, "ERROR": 3, "SKIPPED": 1, "XFAIL": 1}
    assert run.pass_ratio == round(6 / 12, 4)
    # the JUnit fallback reads the same run into the same map (classnames resolved against the repo)
    assert parse_report(junit, root=repo) == PYTEST_EXPECTED
    assert parse_report(str(junit), root=repo) == PYTEST_EXPECTED


@pytest.mark.parametrize("pytest_timeout_plugin", ["loaded", "absent"])
def test_a_hung_test_costs_only_itself(tmp_path, pytest_timeout_plugin):
    """SIGALRM of our own; or, where the project has pytest-timeout, its alarm with our budget."""
    repo = _write(tmp_path / "repo", HANGING_SUITE)
    report = tmp_path / "report.json"
    args = ("-p", "no:timeout") if pytest_timeout_plugin == "absent" else ()
    start = time.monotonic()
    proc = _pytest(repo, report, *args, R2E_TEST_TIMEOUT="2")
    assert time.monotonic() - start < 20, proc.stdout[-2000:]
    data = json.loads(report.read_text())
    assert data["tests"] == {"tests/test_hang.py::test_before": "PASSED", "tests/test_hang.py::test_hangs": "FAILED",
                             "tests/test_hang.py::test_after": "PASSED"}
    assert data["reasons"] == {"tests/test_hang.py::test_hangs": "timeout"}
    assert data["complete"] is True


def test_a_session_killed_by_the_suite_budget_leaves_its_results(tmp_path):
    repo = _write(tmp_path / "repo", HANGING_SUITE)
    report = tmp_path / "report.json"
    proc = subprocess.run(["timeout", "3", sys.executable, "-m", "pytest", "-q", "-p", "r2e_pytest_report"],
                          cwd=repo, env=_env(PYTHONPATH=str(SANDBOX), R2E_TEST_REPORT=str(report)),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 124
    data = json.loads(report.read_text())
    assert data["complete"] is False
    assert data["tests"] == {"tests/test_hang.py::test_before": "PASSED", "tests/test_hang.py::test_hangs": "FAILED"}
    assert data["reasons"] == {"tests/test_hang.py::test_hangs": "killed"}


# ------------------------------------------------------------------------------------ unittest runner
def test_unittest_runner_records_a_tests_all_module_suite(tmp_path):
    repo = _write(tmp_path / "repo", UNITTEST_SUITE)
    report = tmp_path / "report.json"
    start = time.monotonic()
    proc = _unittest(repo, report, "-m", "tests.all", timeout_s="2")
    assert time.monotonic() - start < 20
    data = json.loads(report.read_text())
    assert data["tests"] == UNITTEST_EXPECTED, proc.stderr[-3000:]
    assert proc.returncode == data["exit_code"] == 1  # the module's own sys.exit
    assert data["reasons"]["tests/slow.py::TestSlow::test_hangs"] == "timeout"
    assert data["reasons"]["tests/basics.py::TestBrokenClass::test_one"] == "setUpClass"
    assert data["aliases"]["tests.basics.TestA.test_pass"] == "tests/basics.py::TestA::test_pass"
    assert "Ran 10 tests" in proc.stderr  # the maintainers' own runner ran, unchanged


def test_unittest_runner_discovers_modules_not_named_test(tmp_path):
    files = {k: v for k, v in UNITTEST_SUITE.items() if k not in ("tests/slow.py", "tests/all.py")}
    repo = _write(tmp_path / "repo", {**files, "tests/broken.py": "import module_that_is_not_there\n"})
    report = tmp_path / "report.json"
    proc = _unittest(repo, report, "discover", "-s", "tests", "-p", "*.py", "-t", ".")
    data = json.loads(report.read_text())
    expected = {k: v for k, v in UNITTEST_EXPECTED.items() if k.startswith("tests/basics.py")}
    assert data["tests"] == {**expected, "tests/broken.py": "ERROR"}, proc.stderr[-3000:]
    assert data["reasons"]["tests/broken.py"] == "collection"
    assert proc.returncode == 1


# ------------------------------------------------------------------------------ eval script and runs
def _render(repo: Path, venv: Path, report: Path, command: str, runner: str, **kw) -> Path:
    script = repo.parent / "run_tests.sh"
    script.write_text(render_eval_script(command, runner=runner, workdir=str(repo), venv=str(venv),
                                         report_path=str(report), per_test_timeout=kw.pop("per_test_timeout", 5),
                                         suite_timeout=kw.pop("suite_timeout", 120), sandbox_dir=str(SANDBOX), **kw))
    return script


def test_eval_script_runs_a_pytest_subset_by_ids(tmp_path, venv):
    repo = _write(tmp_path / "repo", PYTEST_SUITE)
    report = tmp_path / "report.json"
    script = _render(repo, venv, report, "python -m pytest -q", "pytest")
    ids = ["tests/test_kinds.py::test_param[a b]", "tests/test_kinds.py::TestGroup::test_method"]
    proc = subprocess.run(["bash", str(script), *ids], env=_env(), capture_output=True, text=True, timeout=60)
    assert parse_report(report) == {i: "PASSED" for i in ids}, proc.stdout[-3000:]
    marker = result_marker(proc.stdout)
    # only the files of the requested ids are imported: the broken file is not this subset's business
    assert marker["exit_code"] == proc.returncode == 0
    assert marker["timed_out"] is False and marker["report_written"] is True and marker["runner"] == "pytest"
    ids = ["tests/test_kinds.py::test_fail", "tests/test_broken_import.py"]
    proc = subprocess.run(["bash", str(script), *ids], env=_env(), capture_output=True, text=True, timeout=60)
    assert parse_report(report) == {ids[0]: "FAILED", ids[1]: "ERROR"}, proc.stdout[-3000:]
    assert result_marker(proc.stdout)["exit_code"] == proc.returncode == 1  # pytest's real exit code


def test_eval_script_runs_a_unittest_subset_named_either_way(tmp_path, venv):
    repo = _write(tmp_path / "repo", UNITTEST_SUITE)
    report = tmp_path / "report.json"
    script = _render(repo, venv, report, "python -m tests.all", "unittest")
    proc = subprocess.run(["bash", str(script), "tests/basics.py::TestA::test_pass", "tests.slow.TestSlow.test_quick"],
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert parse_report(report) == {"tests/basics.py::TestA::test_pass": "PASSED",
                                    "tests/slow.py::TestSlow::test_quick": "PASSED"}, proc.stderr[-3000:]
    assert result_marker(proc.stdout)["exit_code"] == proc.returncode == 0


def test_eval_script_reads_junit_when_the_command_only_writes_junit(tmp_path, venv):
    repo = _write(tmp_path / "repo", PYTEST_SUITE)
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    command = f"env -u PYTEST_ADDOPTS python -m pytest -q --continue-on-collection-errors --junitxml={junit}"
    script = _render(repo, venv, report, command, "other", junit_path=str(junit))
    proc = subprocess.run(["bash", str(script)], env=_env(), capture_output=True, text=True, timeout=60)
    assert read_report(report)["runner"] == "junit"
    assert parse_report(report) == PYTEST_EXPECTED, proc.stdout[-3000:]


def test_flaky_test_is_found_by_a_rerun_and_left_out_of_the_ratio(tmp_path, venv):
    repo = tmp_path / "repo"
    make_git_repo(repo, {"tests/test_flaky.py": '''
from pathlib import Path

def test_stable(): pass

def test_broken(): assert False

def test_flaky():
    counter = Path(__file__).with_name("runs.txt")  # fails the first time only
    runs = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(runs + 1))
    assert runs > 0
'''})
    env = LocalEnvironment(repo, venv)
    script = install_eval_script(env, "python -m pytest -q", runner="pytest", per_test_timeout=10, suite_timeout=120)
    run = run_with_flaky_check(env, script)
    assert run.tests == {"tests/test_flaky.py::test_stable": "PASSED", "tests/test_flaky.py::test_broken": "FAILED",
                         "tests/test_flaky.py::test_flaky": "FAILED"}
    assert run.flaky == ("tests/test_flaky.py::test_flaky",)
    assert run.pass_ratio == 0.5 and run.exit_code == 1 and run.runner == "pytest"
    assert (repo / "tests" / "runs.txt").read_text() == "2"
    assert TestRun.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    # the venv, report, caches and the test's own counter aside, git sees no edits
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert status.split() == ["??", "tests/runs.txt"]


def test_git_exclude_keeps_tool_noise_out_of_git_status(tmp_path):
    repo = tmp_path / "repo"
    make_git_repo(repo, {"pkg/__init__.py": "X = 1\n"})
    for noise in (".venv/bin/python", "pkg.egg-info/PKG-INFO", "pkg/__pycache__/x.pyc", ".pytest_cache/v",
                  "build/lib/pkg.py", "dist/pkg.whl", ".coverage.host.1", ".tox/py/x", ".nox/s/x"):
        (repo / noise).parent.mkdir(parents=True, exist_ok=True)
        (repo / noise).write_text("")
    (repo / "pkg" / "__init__.py").write_text("X = 2\n")
    (repo / "pkg" / "build").mkdir()
    (repo / "pkg" / "build" / "real.py").write_text("")  # a real source folder named build is not noise
    for _ in range(2):  # idempotent
        subprocess.run(["bash", "-c", git_exclude_command(str(repo), str(repo / ".venv"))], check=True)
    status = subprocess.run(["git", "status", "--porcelain", "-uall"], cwd=repo, capture_output=True, text=True).stdout
    assert sorted(status.splitlines()) == [" M pkg/__init__.py", "?? pkg/build/real.py"]
    exclude = (repo / ".git" / "info" / "exclude").read_text().splitlines()
    assert exclude.count(".venv/") == 1


# ----------------------------------------------------------------------------------- pure functions
def test_merge_rerun_marks_only_failures_that_pass_again():
    first = TestRun({"a": "PASSED", "b": "FAILED", "c": "ERROR", "d": "FAILED"}, exit_code=1, duration=1.0)
    rerun = TestRun({"b": "PASSED", "c": "ERROR", "d": "SKIPPED"}, exit_code=1, duration=0.5)
    merged = merge_rerun(first, rerun)
    assert merged.flaky == ("b",) and merged.tests == first.tests
    assert merged.pass_ratio == round(1 / 3, 4) and first.pass_ratio == 0.25
    assert merged.duration == 1.5
    assert TestRun({"s": "SKIPPED"}).pass_ratio is None


def test_bad_input_is_a_one_line_error(tmp_path):
    with pytest.raises(R2EError, match="unknown test runner"):
        render_eval_script("pytest", runner="nose", venv="/v", per_test_timeout=1, suite_timeout=1)
    with pytest.raises(R2EError, match="starts with python"):
        unittest_command("make test", "/s")
    with pytest.raises(R2EError, match="shell pipeline"):
        unittest_command("cd tests && python -m unittest", "/s")
    with pytest.raises(R2EError, match="unknown status"):
        parse_report('{"tests": {"t": "OK"}}')
    with pytest.raises(R2EError, match="neither JSON nor JUnit"):
        parse_report(str(_write(tmp_path, {"r.json": "{oops"}) / "r.json"))
    with pytest.raises(R2EError, match="cannot read test report"):
        parse_report(tmp_path / "missing.json")


def test_unittest_command_keeps_interpreter_options_and_environment():
    assert unittest_command("LANG=C python3 -W error -m tests.all -v", "/s") == (
        'LANG=C python3 -W error /s/r2e_unittest_report.py "$R2E_TEST_REPORT" -- -m tests.all -v')


def test_sandbox_files_are_python_3_8_standard_library():
    stdlib = set(sys.stdlib_module_names) | {"pytest", "r2e_report_io"}
    for path in SANDBOX.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path), feature_version=(3, 8))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                assert name.split(".")[0] in stdlib, f"{path.name} imports {name}"
            assert not isinstance(node, ast.AnnAssign), f"{path.name}: annotations need Python 3.8-safe code"
