"""Builds run the maintainers' own test command through the eval script of record (local backend):
the project's pytest options kept, unittest aggregators run as written, per-test maps saved."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from installers.build import build_repo
from installers.options import BuildOptions
from r2e.stage_records import BuildResult
from tests.conftest import make_git_repo
from tests.installers.fixtures import experiment

STRESS = {
    "pyproject.toml": (
        '[project]\nname = "stressy"\nversion = "0.1"\n\n'
        "[tool.pytest.ini_options]\n"
        "addopts = \"-m 'not stress' --timeout=60\"\n"
        'markers = ["stress: thousands of cases, deselected by default"]\n'),
    "stressy/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_stressy.py": (
        "import pytest\nfrom stressy import add\n\n"
        "def test_add():\n    assert add(1, 2) == 3\n\n"
        "@pytest.mark.stress\ndef test_stress():\n    assert False, 'the maintainers never run this'\n"),
}

# The tests are unittest modules not named test_*, run by `make test` as `python3 -m tests.all`.
UNITTEST_ONLY = {
    "Makefile": "test:\n\tpython3 -m tests.all\n",
    "netlib/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/__init__.py": "",
    "tests/basic.py": (
        "import unittest\nfrom netlib import add\n\n"
        "class BasicTest(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n\n"
        "    def test_add_str(self):\n        self.assertEqual(add('a', 'b'), 'ab')\n"),
    "tests/all.py": (
        "import unittest\nfrom tests.basic import *  # noqa\n\n"
        "if __name__ == '__main__':\n    unittest.main()\n"),
}

# One test hangs, one fails the first time only; a marker file outside the repo remembers the first run.
HUNG_AND_FLAKY = {
    "hf/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_hf.py": (
        "import hashlib, pathlib, tempfile, time\nfrom hf import add\n\n"
        "MARK = pathlib.Path(tempfile.gettempdir(), 'r2e-flaky-' + hashlib.sha1(__file__.encode()).hexdigest())\n\n"
        "def test_add():\n    assert add(1, 2) == 3\n\n"
        "def test_hangs():\n    time.sleep(600)\n\n"
        "def test_flaky():\n"
        "    if not MARK.exists():\n        MARK.write_text('seen')\n        assert False, 'first run'\n"
        "    MARK.unlink()\n"),
}


def build(tmp_path: Path, name: str, files: dict, **kw) -> BuildResult:
    repo = tmp_path / "repos" / name
    make_git_repo(repo, files)
    opts = BuildOptions(backend="local", timeout_per_task=kw.pop("timeout", 300), **kw)
    return build_repo(name, repo, experiment(tmp_path), opts)


def git_status(repo: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def test_project_addopts_deselect_stress_tests_and_its_plugin_is_installed(tmp_path):
    r = build(tmp_path, "stressy", STRESS)
    log = experiment(tmp_path).install_log_path("stressy").read_text()
    assert r.status == "success", (r.failure, log[-3000:])
    assert r.tests == {"tests/test_stressy.py::test_add": "PASSED"}  # test_stress deselected by the project
    assert r.test_command["command"] == "python -m pytest" and r.test_command["source"].startswith("pyproject.toml")
    assert r.test_command["plugins_needed"] == ["pytest-timeout"]
    assert "pytest-timeout" in r.plan["test_requirements"] and "addopts=''" not in log
    assert "python -m pytest" in r.eval_script and r.eval_timeout >= 900
    files = experiment(tmp_path).build_files("stressy")
    assert files.run_tests.read_text() == r.eval_script
    assert git_status(tmp_path / "repos" / "stressy") == ""  # venv, caches, egg-info: all excluded


def test_unittest_aggregator_module_gives_an_exact_per_test_map(tmp_path):
    r = build(tmp_path, "netlib", UNITTEST_ONLY)
    assert r.status == "success", r.failure
    assert r.test_command["command"] == "python -m tests.all" and r.test_command["source"].startswith("Makefile")
    assert r.tests == {"tests/basic.py::BasicTest::test_add": "PASSED",
                       "tests/basic.py::BasicTest::test_add_str": "PASSED"}
    assert (r.oracle.passed, r.oracle.pass_ratio) == (2, 1.0)
    assert r.test_run["runner"] == "unittest"


def test_hung_test_costs_only_itself_flaky_test_is_left_out_and_the_map_reloads(tmp_path):
    r = build(tmp_path, "hf", HUNG_AND_FLAKY, per_test_timeout=3, min_pass_ratio=0.5)
    assert r.tests == {"tests/test_hf.py::test_add": "PASSED", "tests/test_hf.py::test_flaky": "FAILED",
                       "tests/test_hf.py::test_hangs": "FAILED"}
    assert r.test_run["reasons"]["tests/test_hf.py::test_hangs"] == "timeout"
    assert r.flaky == ("tests/test_hf.py::test_flaky",)
    assert (r.oracle.passed, r.oracle.failed, r.oracle.pass_ratio) == (1, 1, 0.5)  # flaky out of the ratio
    assert r.status == "success" and r.duration < 120
    exp = experiment(tmp_path)
    saved = json.loads(exp.build_files("hf").result.read_text())
    assert saved["test_run"]["tests"] == r.tests and saved["test_run"]["flaky"] == list(r.flaky)
    assert BuildResult.from_dict(saved) == r == exp.build_result("hf")


def test_results_written_before_the_eval_script_still_load():
    old = {"repo": "x", "status": "success", "backend": "local", "oracle": {"passed": 1, "pass_ratio": 1.0}}
    r = BuildResult.from_dict(old)
    assert (r.test_command, r.eval_script, r.test_run, r.tests, r.flaky) == ({}, None, None, {}, ())
    assert BuildResult.from_dict(r.to_dict()) == r


def test_report_files_the_command_writes_are_kept_out_of_git_status(tmp_path):
    from installers.eval_script import command_outputs, git_exclude_command

    cmd = "python -m pytest tests --junitxml=report.xml --cov-report=xml:./out/cov.xml --cov-report term --html /tmp/x.html"
    assert command_outputs(cmd) == ("/report.xml", "/out/cov.xml")
    assert command_outputs("python -m pytest --junitxml ../up.xml") == ()
    repo = tmp_path / "r"
    make_git_repo(repo, {"pkg/report.xml": "tracked, deeper: not hidden\n"})
    (repo / "report.xml").write_text("<testsuite/>")
    (repo / "out").mkdir()
    (repo / "out" / "cov.xml").write_text("<coverage/>")
    (repo / "pkg" / "report.xml").write_text("edited\n")
    subprocess.run(["bash", "-c", git_exclude_command(str(repo), str(repo / ".venv"), command_outputs(cmd))], check=True)
    assert git_status(repo) == " M pkg/report.xml\n"  # the anchored lines hide the outputs only
