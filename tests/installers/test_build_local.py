"""Local backend builds of fixture repos: real uv venvs, real pip installs from the index, real pytest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from installers.build import BuildOptions, build_repo
from tests.conftest import make_git_repo
from tests.installers.fixtures import REPOS


def build(tmp_path: Path, name: str, **kw) -> dict:
    repo = tmp_path / "repos" / name
    make_git_repo(repo, REPOS[name])
    opts = BuildOptions(backend="local", timeout_per_task=kw.pop("timeout", 300), **kw)
    return build_repo(name, repo, tmp_path / "build" / name, opts)


def test_declared_and_renamed_dependency_installs_and_passes(tmp_path):
    r = build(tmp_path, "declared")
    assert r["status"] == "success", r["failure"]
    assert r["oracle"]["passed"] == 2 and r["oracle"]["pass_ratio"] == 1.0
    assert r["plan"]["inferred"] == {"yaml": "PyYAML"}
    venv_py = Path(r["venv"]) / "bin" / "python"
    out = subprocess.run([str(venv_py), "-c", "import yaml, six, calc; print(calc.add(2, 3))"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == "5", out.stderr
    saved = json.loads((tmp_path / "build" / "declared" / "result.json").read_text())
    assert saved["status"] == "success" and (tmp_path / "build" / "declared" / "install.log").read_text().count("$ ") >= 3


def test_broken_file_does_not_stop_the_install(tmp_path):
    r = build(tmp_path, "broken_file")
    assert r["status"] == "success"
    assert r["plan"]["unparsable"] == ["tool/legacy.py"]


def test_failing_tests_give_partial_with_pass_ratio(tmp_path):
    r = build(tmp_path, "failing")
    assert r["status"] == "partial"
    assert (r["oracle"]["passed"], r["oracle"]["failed"]) == (2, 1)
    assert r["oracle"]["pass_ratio"] == pytest.approx(2 / 3, abs=1e-3)
    assert r["failure"]["class"] == "TestsFailed"
    assert build(tmp_path / "low", "failing", min_pass_ratio=0.6)["status"] == "success"


def test_repo_without_tests_and_python2_repo(tmp_path):
    r = build(tmp_path, "no_tests")
    assert r["status"] == "no_tests" and r["oracle"]["imports_ok"]
    r2 = build(tmp_path, "python2")
    assert r2["status"] == "python2" and r2["failure"]["class"] == "python2"
    assert not (tmp_path / "build" / "python2" / "venv").exists()  # reported, not installed


def test_missing_module_rule_repair_and_without_it(tmp_path):
    bare = build(tmp_path / "a", "hidden_dep", rules=False)
    assert bare["status"] == "failed"
    assert bare["failure"]["class"] == "ModuleNotFoundError" and bare["failure"]["module"] == "six"
    fixed = build(tmp_path / "b", "hidden_dep")
    assert fixed["status"] == "success"
    step = fixed["repair_steps"][0]
    assert step["rule"] == "missing-module" and step["helped"] is True
    assert any("'six'" in c for c in fixed["plan"]["extra_steps"])  # folded into the install script


def test_task_timeout_is_reported(tmp_path):
    r = build(tmp_path, "slow", timeout=12)
    assert r["status"] == "timeout"
    assert r["duration"] < 40


def test_restart_with_another_python_keeps_the_whole_log(tmp_path):
    """`from collections import Mapping` -> the collections rule restarts the install with Python 3.9.

    Without a 3.9 on this host the local backend says so and falls back; the restart is recorded either way."""
    from installers.local_env import find_python

    repo = tmp_path / "repos" / "oldcoll"
    make_git_repo(repo, {"oc/__init__.py": "from collections import Mapping\n",
                         "tests/test_oc.py": "import oc\n\ndef test_x():\n    assert oc\n"})
    r = build_repo("oldcoll", repo, tmp_path / "out", BuildOptions(backend="local", timeout_per_task=300))
    assert r["repair_steps"][0]["rule"] == "collections-abc" and r["repair_steps"][0]["python"] == "3.9"
    assert r["python"] == "3.9" and r["python_reason"].startswith("repair: restarted")
    log = (tmp_path / "out" / "install.log").read_text()
    assert log.count("uv venv") >= 2 and "# restarting the install with Python 3.9" in log
    if find_python("3.9"):
        assert r["status"] == "success", log[-2000:]
    else:
        assert r["status"] == "failed" and "local Python 3.9 unavailable" in " ".join(r["plan"]["notes"])


def test_environment_of_record_opens_from_the_result(tmp_path):
    from dataclasses import replace

    from installers.environment_of_record import open_environment
    from r2e.errors import R2EError
    from r2e.stage_records import BuildResult

    build(tmp_path, "broken_file")
    result = BuildResult.from_dict(json.loads((tmp_path / "build" / "broken_file" / "result.json").read_text()))
    with open_environment(result) as env:
        out = env.execute("python -c 'import tool; print(tool.add(40, 2))'")
        assert out.output.strip() == "42", out.output
    try:
        open_environment(replace(result, status="failed"))
    except R2EError as exc:
        assert "did not build" in str(exc)
    else:
        raise AssertionError("a failed build must not open")
