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


def test_429_and_500_are_retried_within_bounds_and_redo_errors_runs_failures_again(tmp_path, llm_server, monkeypatch):
    from harness.agents.dataset import normalise
    from harness.agents.envs import EnvFactory
    from harness.agents.outputs import RunFiles
    from harness.agents.run import RunOptions, run_all
    from r2e.llm import LLMClient, LLMConfig

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    repo = tmp_path / "calc"
    base = make_git_repo(repo, {"calc.py": BUGGY})
    inst = [normalise({"instance_id": f"calc-{n}", "repo": "calc", "base_commit": base, "docker_image": "unused",
                       "problem_statement": "add subtracts", "repo_path": str(repo), "FAIL_TO_PASS": ["t.py::t"],
                       "eval_script": "true"}) for n in (1, 2)]
    config = LLMConfig(model="m", base_url=llm_server.base_url, max_retries=2, backoff_seconds=0.01, max_failures=0)
    files = RunFiles(tmp_path / "out", "r")
    opts = RunOptions(exp="r", out=tmp_path / "out", model_name="m")
    finish = call("finish", command="submit")
    # calc-1: a 429 and a 500 are retried; calc-2: three 500s in a row are more than 2 retries
    llm_server.script({"status": 429, "retry_after": 0}, {"status": 500}, finish,
                      {"status": 500}, {"status": 500}, {"status": 500})
    summary = run_all(inst, LLMClient(config), EnvFactory("local"), files, opts, say=lambda m: None)
    records = {r["instance_id"]: r for r in files.load()}
    assert records["calc-1"]["exit_reason"] == "agent" and records["calc-2"]["exit_reason"] == "llm_error"
    assert summary["errors"] == {"llm_error": 1} and len(llm_server.requests) == 6
    llm_server.script(finish)
    run_all(inst, LLMClient(config), EnvFactory("local"), files, RunOptions(
        exp="r", out=tmp_path / "out", model_name="m", skip_existing=True, redo_errors=True), say=lambda m: None)
    lines = files.jsonl.read_text().splitlines()
    assert [json.loads(line)["instance_id"] for line in lines] == ["calc-1", "calc-2"]
    assert json.loads(lines[1])["exit_reason"] == "agent" and len(llm_server.requests) == 7


def test_a_grader_that_cannot_start_keeps_the_trajectory_as_an_error(tmp_path, llm_server, monkeypatch):
    from harness.agents.dataset import normalise
    from harness.agents.envs import EnvFactory
    from harness.agents.outputs import RunFiles
    from harness.agents.run import RunOptions, run_all
    from r2e.llm import LLMClient, LLMConfig

    class NoGrader(EnvFactory):
        def __call__(self, inst, purpose):
            if purpose == "grade":
                raise OSError("no room for another container")
            return super().__call__(inst, purpose)

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    repo = tmp_path / "calc"
    base = make_git_repo(repo, {"calc.py": BUGGY})
    inst = normalise({"instance_id": "calc-1", "repo": "calc", "base_commit": base, "docker_image": "unused",
                      "problem_statement": "add subtracts", "repo_path": str(repo), "FAIL_TO_PASS": ["t.py::t"]})
    llm_server.script(call("execute_bash", cmd="sed -i 's/a - b/a + b/' calc.py"), call("finish", command="submit"))
    files = RunFiles(tmp_path / "out", "g")
    summary = run_all([inst], LLMClient(LLMConfig(model="m", base_url=llm_server.base_url)), NoGrader("local"), files,
                      RunOptions(exp="g", out=tmp_path / "out", model_name="m"), say=lambda m: None)
    [record] = files.load()
    assert (record["exit_reason"], record["reward"], len(record["trajectory_steps"])) == ("agent", 0.0, 2)
    assert record["error"] == "GradingError: OSError: no room for another container"
    assert "+    return a + b" in record["output_patch"] and summary["errors"] == {"GradingError": 1}
