"""`r2e agent run --backend local`: each instance in a throwaway copy of a local checkout, graded in another."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from r2e.cli import cli
from tests.agents.task_images import BUGGY, HIDDEN_TEST, VISIBLE_TEST
from tests.conftest import make_git_repo


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}], "content": ""}


def test_local_backend_runs_and_grades_in_copies(tmp_path, llm_server, monkeypatch):
    repo = tmp_path / "calc"
    base = make_git_repo(repo, {"calc.py": BUGGY, "tests/__init__.py": "", "tests/test_mul.py": VISIBLE_TEST})
    (repo / "tests" / "test_add.py").write_text(HIDDEN_TEST)
    subprocess.run(["git", "add", "-N", "tests/test_add.py"], cwd=repo, check=True)
    test_patch = subprocess.run(["git", "diff"], cwd=repo, check=True, capture_output=True, text=True).stdout
    subprocess.run(["git", "reset", "-q"], cwd=repo, check=True)
    (repo / "tests" / "test_add.py").unlink()
    row = {"instance_id": "calc-local", "repo": "calc", "base_commit": base, "problem_statement": "add subtracts",
           "docker_image": "unused", "repo_path": str(repo), "test_patch": test_patch,
           "FAIL_TO_PASS": ["tests/test_add.py::test_add"], "PASS_TO_PASS": ["tests/test_mul.py::test_mul"],
           "eval_script": f"{sys.executable} -m pytest -rA -p no:cacheprovider tests"}
    home = tmp_path / "home"  # the host's own login profile can cost a second per command
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(row) + "\n")
    llm_server.script(call("execute_bash", cmd="sed -i 's/a - b/a + b/' calc.py"), call("finish", command="submit"))
    res = CliRunner().invoke(cli, ["agent", "run", str(data), "--exp", "loc", "--out", str(tmp_path / "out"),
                                   "--backend", "local", "--model", "m", "--base-url", llm_server.base_url])
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "out" / "loc" / "loc.jsonl").read_text())
    assert (record["reward"], record["exit_reason"]) == (1.0, "agent"), record["test_output"][-500:]
    assert "+    return a + b" in record["output_patch"]
    assert (repo / "calc.py").read_text() == BUGGY  # the checkout itself was never touched
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""
