"""Local backend builds of fixture repos: real uv venvs, real pip installs from the index, real pytest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from installers.build import build_repo
from installers.options import BuildOptions
from r2e.stage_records import BuildResult
from tests.conftest import make_git_repo
from tests.installers.fixtures import REPOS, experiment


def build(tmp_path: Path, name: str, **kw) -> BuildResult:
    repo = tmp_path / "repos" / name
    make_git_repo(repo, REPOS[name])
    opts = BuildOptions(backend="local", timeout_per_task=kw.pop("timeout", 300), **kw)
    return build_repo(name, repo, experiment(tmp_path), opts)


def test_declared_and_renamed_dependency_installs_and_passes(tmp_path):
    r = build(tmp_path, "declared")
    assert r.status == "success", r.failure
    assert r.oracle.passed == 2 and r.oracle.pass_ratio == 1.0
    assert r.plan["inferred"] == {"yaml": "PyYAML"}
    venv_py = Path(r.venv) / "bin" / "python"
    out = subprocess.run([str(venv_py), "-c", "import yaml, six, calc; print(calc.add(2, 3))"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == "5", out.stderr
    files = experiment(tmp_path).build_files("declared")
    assert Path(r.venv) == files.venv.resolve()  # the local venv lives in the repo's build folder
    saved = json.loads(files.result.read_text())
    assert saved["status"] == "success" and files.install_log.read_text().count("$ ") >= 3
    assert set(saved["oracle"]) == {"imports_ok", "import_errors", "tests_run", "passed", "failed", "errors",
                                    "skipped", "pass_ratio", "pytest_exit", "timed_out", "output_tail"}
    assert experiment(tmp_path).build_result("declared") == r  # what was saved reads back as the same record


def test_broken_file_does_not_stop_the_install(tmp_path):
    r = build(tmp_path, "broken_file")
    assert r.status == "success"
    assert r.plan["unparsable"] == ["tool/legacy.py"]


def test_failing_tests_give_partial_with_pass_ratio(tmp_path):
    r = build(tmp_path, "failing")
    assert r.status == "partial"
    assert (r.oracle.passed, r.oracle.failed) == (2, 1)
    assert r.oracle.pass_ratio == pytest.approx(2 / 3, abs=1e-3)
    assert r.failure.cls == "TestsFailed"
    assert build(tmp_path / "low", "failing", min_pass_ratio=0.6).status == "success"


def test_repo_without_tests_and_python2_repo(tmp_path):
    r = build(tmp_path, "no_tests")
    assert r.status == "no_tests" and r.oracle.imports_ok
    r2 = build(tmp_path, "python2")
    assert r2.status == "python2" and r2.failure.cls == "python2"
    files = experiment(tmp_path).build_files("python2")
    assert files.result.exists() and not files.venv.exists()  # reported, not installed


def test_missing_module_rule_repair_and_without_it(tmp_path):
    bare = build(tmp_path / "a", "hidden_dep", rules=False)
    assert bare.status == "failed"
    assert bare.failure.cls == "ModuleNotFoundError" and bare.failure.module == "six"
    fixed = build(tmp_path / "b", "hidden_dep")
    assert fixed.status == "success"
    step = fixed.repair_steps[0]
    assert step["rule"] == "missing-module" and step["helped"] is True
    assert any("'six'" in c for c in fixed.plan["extra_steps"])  # folded into the install script


def test_task_timeout_is_reported(tmp_path):
    r = build(tmp_path, "slow", timeout=12)
    assert r.status == "timeout"
    assert r.duration < 40


def test_restart_with_another_python_keeps_the_whole_log(tmp_path):
    """`from collections import Mapping` -> the collections rule restarts the install with Python 3.9.

    Without a 3.9 on this host the local backend says so and falls back; the restart is recorded either way."""
    from installers.local_env import find_python

    repo = tmp_path / "repos" / "oldcoll"
    make_git_repo(repo, {"oc/__init__.py": "from collections import Mapping\n",
                         "tests/test_oc.py": "import oc\n\ndef test_x():\n    assert oc\n"})
    exp = experiment(tmp_path)
    r = build_repo("oldcoll", repo, exp, BuildOptions(backend="local", timeout_per_task=300))
    assert r.repair_steps[0]["rule"] == "collections-abc" and r.repair_steps[0]["python"] == "3.9"
    assert r.python == "3.9" and r.python_reason.startswith("repair: restarted")
    log = exp.install_log_path("oldcoll").read_text()
    assert log.count("uv venv") >= 2 and "# restarting the install with Python 3.9" in log
    if find_python("3.9"):
        assert r.status == "success", log[-2000:]
    else:
        assert r.status == "failed" and "local Python 3.9 unavailable" in " ".join(r.plan["notes"])


def test_environment_of_record_opens_from_the_result(tmp_path):
    from dataclasses import replace

    from installers.environment_of_record import open_environment
    from r2e.errors import R2EError

    build(tmp_path, "broken_file")
    result = experiment(tmp_path).build_result("broken_file", required=True)
    with open_environment(result) as env:
        out = env.execute("python -c 'import tool; print(tool.add(40, 2))'")
        assert out.output.strip() == "42", out.output
    try:
        open_environment(replace(result, status="failed"))
    except R2EError as exc:
        assert "did not build" in str(exc)
    else:
        raise AssertionError("a failed build must not open")


def test_local_copy_to_leaves_out_excluded_names(tmp_path):
    from installers.local_env import LocalEnvironment

    src = tmp_path / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "pkg" / "m.py").write_text("X = 1\n")
    (src / "pkg" / "__pycache__" / "m.pyc").write_text("junk")
    env = LocalEnvironment(tmp_path / "work")
    env.copy_to(src, "copy", exclude=frozenset({"__pycache__"}))
    assert sorted(p.name for p in (tmp_path / "work" / "copy" / "pkg").iterdir()) == ["m.py"]
