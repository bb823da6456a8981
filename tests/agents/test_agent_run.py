"""`r2e agent run / eval / summary` end to end: the scripted LLM server, real Docker, one shared task image."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.agents.dataset import normalise
from harness.agents.envs import RUN_LABEL, EnvFactory
from harness.agents.grading import grade
from r2e.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-test-SECRET-4f9a2c"
pytestmark = pytest.mark.docker


def call(name: str, content: str = "", **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}], "content": content}


def steps_taken(body: dict) -> int:
    return sum(1 for m in body["messages"] if m["role"] == "assistant")


def scripted_agents(body: dict) -> dict:
    """One behaviour per instance, chosen by its problem statement: the same replies whatever the order."""
    statement = body["messages"][1]["content"]
    step = steps_taken(body)
    if "[fix]" in statement:
        plan = [call("file_editor", "add subtracts", command="str_replace", path="/testbed/calc.py",
                     old_str="return a - b", new_str="return a + b"),
                call("finish", "done", command="submit")]
    elif "[tamper]" in statement:  # writes the hidden test's file so that it passes, and a conftest
        plan = [call("file_editor", command="create", path="/testbed/tests/test_add.py",
                     file_text="def test_add():\n    assert True\n"),
                call("execute_bash", cmd="printf 'import pytest\\n' > tests/conftest.py"),
                call("finish", command="submit")]
    elif "[loop]" in statement:  # looks at the environment forever: the key must not be there
        plan = [call("execute_bash", cmd="env; echo $OPENAI_API_KEY")] * 10
    else:  # does nothing, and says the key out loud: no file may keep it
        plan = [call("finish", f"my key is {SECRET}", command="submit")]
    return plan[min(step, len(plan) - 1)]


def write_tasks(path: Path, task_image, names: list[str]) -> Path:
    with open(path, "w") as fh:
        for name in names:
            fh.write(json.dumps(task_image.task(f"calc-{name}", f"[{name}] add() subtracts instead of adding")) + "\n")
    return path


def run_labelled(docker_client, prefix: str) -> list[dict]:
    return [c for c in docker_client.api.containers(all=True, filters={"label": RUN_LABEL})
            if c["Labels"].get(RUN_LABEL, "").startswith(prefix)]


def test_run_grades_fix_nothing_tamper_and_loop(task_image, llm_server, tmp_path, monkeypatch, docker_client):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    llm_server.default = scripted_agents
    data = write_tasks(tmp_path / "tasks.jsonl", task_image, ["fix", "noop", "tamper", "loop"])
    with open(data, "a") as fh:  # an instance whose image does not exist: its own error, the run goes on
        fh.write(json.dumps(task_image.task("ghost-1", repo="ghost", docker_image="r2e-test-no-such-image:0")) + "\n")
    out = tmp_path / "runs"
    res = CliRunner().invoke(cli, ["agent", "run", str(data), "--exp", "e1", "--out", str(out), "--max-workers", "2",
                                   "--max-steps", "3", "--model", "openai/scripted", "--base-url",
                                   llm_server.base_url, "--step-timeout", "20"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    run = out / "e1"
    records = {r["instance_id"]: r for r in map(json.loads, (run / "e1.jsonl").read_text().splitlines())}
    ghost = records.pop("ghost-1")
    cls = ghost["error"].split(":")[0]  # the engine's answer: no such image here, and no registry to pull from
    assert (ghost["exit_reason"], ghost["reward"]) == ("error", 0.0) and cls in ("ImageNotFound", "APIError")
    assert {k: (r["reward"], r["exit_reason"]) for k, r in records.items()} == {
        "calc-fix": (1.0, "agent"), "calc-noop": (0.0, "agent"), "calc-tamper": (0.0, "agent"),
        "calc-loop": (0.0, "max_steps")}
    assert llm_server.requests[0]["model"] == "scripted"  # the LiteLLM prefix is for LiteLLM only
    assert "-    return a - b\n+    return a + b" in records["calc-fix"]["output_patch"]
    tamper = json.loads((run / "calc-tamper" / "report.json").read_text())["calc-tamper"]
    assert sorted(tamper["reverted_test_files"]) == ["tests/conftest.py", "tests/test_add.py"]
    assert tamper["tests_status"]["FAIL_TO_PASS"]["failure"] == ["tests/test_add.py::test_add"]
    fixed = json.loads((run / "calc-fix" / "report.json").read_text())["calc-fix"]
    assert fixed["resolved"] and fixed["tests_status"]["PASS_TO_PASS"]["success"] == ["tests/test_mul.py::test_mul"]
    for name in ("agent.log", "output_patch.diff", "test_output.log", "metadata.json", "report.json"):
        assert (run / "calc-fix" / name).is_file(), name
    preds = [json.loads(line) for line in (run / "preds.jsonl").read_text().splitlines()]
    assert {p["instance_id"] for p in preds} == {*records, "ghost-1"} and preds[0]["model_name_or_path"] == "openai/scripted"
    accepted = (run / "trajectories_rejection_sampling.jsonl").read_text().splitlines()
    assert len(accepted) == 1 and set(json.loads(accepted[0])) == {"messages", "tools"}
    assert len((run / "trajectories.jsonl").read_text().splitlines()) == 4  # ghost-1 never talked to the model
    summary = json.loads((run / "reward_summary.json").read_text())
    assert summary["resolved_ids"] == ["calc-fix"] and summary["per_repo"]["calc"]["n"] == 4
    assert summary["per_repo"]["calc"]["ci95"][0] < 0.25 < summary["per_repo"]["calc"]["ci95"][1]
    assert summary["per_exit_reason"]["max_steps"] == {"n": 1, "resolved": 0}
    assert summary["errors"] == {cls: 1} and summary["error_ids"] == ["ghost-1"]
    # the key: not in the containers (`env` showed none), not in any file the run wrote
    assert "OPENAI_API_KEY" not in records["calc-loop"]["trajectory_steps"][0]["observation"]
    for path in run.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    assert "***" in records["calc-noop"]["trajectory_steps"][0]["thought"]
    assert not run_labelled(docker_client, "e1-")
    table = CliRunner().invoke(cli, ["agent", "summary", str(run), "--charts", str(tmp_path / "charts")])
    assert table.exit_code == 0 and "| calc | 4 | 1 | 25.0% |" in table.output
    for chart in ("resolve_rate.png", "exit_reasons.png"):
        png = (tmp_path / "charts" / chart).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 2000
    # grading the run's own predictions again gives the same verdicts
    again = CliRunner().invoke(cli, ["agent", "eval", str(run / "preds.jsonl"), "--dataset", str(data), "--exp", "re",
                                     "--out", str(out), "--filter", "fix"])
    assert again.exit_code == 0 and "resolved 1/1" in again.output, again.output
    assert json.loads((out / "re" / "calc-fix" / "report.json").read_text())["calc-fix"]["resolved"]


def test_gold_and_empty_check_lists_the_broken_instance(task_image, tmp_path):
    data = tmp_path / "tasks.jsonl"
    broken = task_image.task("calc-broken", patch=task_image.gold_patch.replace("a + b", "a * b"))
    data.write_text(json.dumps(task_image.task("calc-ok")) + "\n" + json.dumps(broken) + "\n")
    res = CliRunner().invoke(cli, ["agent", "eval", "--dataset", str(data), "--gold", "--empty", "--runs", "3",
                                   "--exp", "check", "--out", str(tmp_path), "--max-workers", "2"])
    assert res.exit_code == 1, res.output
    assert "1/2 instances: gold scores 1 and empty scores 0 in 3 run(s)" in res.output
    assert "calc-broken: gold: tests_failed" in res.output and "calc-ok: ok" in res.output
    check = json.loads((tmp_path / "check" / "dataset_check.json").read_text())
    assert list(check["failing"]) == ["calc-broken"]


def test_swebench_and_r2egym_rows_normalise_and_grade(task_image, docker_client):
    envs = EnvFactory("docker", client=docker_client)
    swebench = {  # the published fields, ids as JSON-encoded strings; the image named as SWE-bench names it
        "repo": "calc/calc", "instance_id": "calc__calc-1", "base_commit": task_image.base_commit,
        "patch": task_image.gold_patch, "test_patch": task_image.test_patch, "problem_statement": "add subtracts",
        "hints_text": "", "created_at": "2024-01-01T00:00:00Z", "version": "0.1",
        "FAIL_TO_PASS": '["tests/test_add.py::test_add"]', "PASS_TO_PASS": '["tests/test_mul.py::test_mul"]',
        "environment_setup_commit": task_image.base_commit}
    inst = normalise(swebench)
    assert (inst.kind, inst.docker_image) == ("swebench", task_image.foreign)
    gold, empty = grade(inst, inst.patch, envs), grade(inst, "", envs)
    assert (gold.reward, gold.method, empty.reward) == (1.0, "log", 0.0)
    r2egym = {  # R2E-Gym: no instance_id, hidden tests baked at /r2e_tests, graded against the expected map
        "repo_name": "calc", "commit_hash": task_image.base_commit, "docker_image": task_image.foreign,
        "problem_statement": "add subtracts", "patch": task_image.gold_patch,
        "expected_output_json": json.dumps({"r2e_tests/test_add.py::test_add": "PASSED",
                                            "tests/test_mul.py::test_mul": "PASSED"})}
    inst = normalise(r2egym)
    assert inst.kind == "r2egym" and inst.instance_id == f"calc-{task_image.base_commit[:12]}"
    gold, empty = grade(inst, inst.patch, envs), grade(inst, "", envs)
    assert (gold.reward, gold.method, gold.reason) == (1.0, "expected", "resolved"), gold.log[-800:]
    assert (empty.reward, empty.tests["r2e_tests/test_add.py::test_add"]) == (0.0, "FAILED")


def _cli(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "EMPTY"}
    return subprocess.Popen([sys.executable, "-m", "r2e", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def _wait(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail("timed out waiting")


def test_kill_9_then_resume_loses_and_duplicates_nothing(task_image, llm_server, tmp_path, docker_client):
    def slow_after_first(body):
        if "[noop0]" not in body["messages"][1]["content"]:
            time.sleep(2)  # the others are still running when the process dies
        return call("finish", command="submit")
    llm_server.default = slow_after_first
    data = write_tasks(tmp_path / "tasks.jsonl", task_image, ["noop0", "noop1"])
    exp = f"k9{uuid.uuid4().hex[:6]}"  # its own label prefix, whatever other runs left
    args = ["agent", "run", str(data), "--exp", exp, "--out", str(tmp_path), "--model", "scripted",
            "--base-url", llm_server.base_url]
    jsonl = tmp_path / exp / f"{exp}.jsonl"
    proc = _cli(args)
    try:
        _wait(lambda: jsonl.exists() and jsonl.read_text().count("\n") >= 1)
        proc.kill()
        proc.wait(10)
    finally:
        proc.kill()
    for c in run_labelled(docker_client, f"{exp}-"):  # what the killed process left (they would expire by themselves)
        docker_client.api.remove_container(c["Id"], force=True)
    first = jsonl.read_text().splitlines()
    assert len(first) == 1
    llm_server.default = lambda body: call("finish", command="submit")
    res = CliRunner().invoke(cli, [*args, "--skip-existing"])
    assert res.exit_code == 0, res.output
    ids = [json.loads(line)["instance_id"] for line in jsonl.read_text().splitlines()]
    assert sorted(ids) == ["calc-noop0", "calc-noop1"]
    assert jsonl.read_text().splitlines()[:len(first)] == first  # what was there stays, byte for byte
    again = CliRunner().invoke(cli, args)  # without --skip-existing a finished run is never overwritten
    assert again.exit_code == 2 and "--skip-existing" in again.output
    for c in run_labelled(docker_client, f"{exp}-"):  # a create the daemon finished after the kill
        docker_client.api.remove_container(c["Id"], force=True)


def test_ctrl_c_removes_every_container_of_the_run(task_image, llm_server, tmp_path, docker_client):
    llm_server.default = lambda body: call("execute_bash", cmd="sleep 60")
    data = write_tasks(tmp_path / "tasks.jsonl", task_image, ["a", "b"])
    exp = f"cc{uuid.uuid4().hex[:6]}"
    proc = _cli(["agent", "run", str(data), "--exp", exp, "--out", str(tmp_path), "--model", "scripted",
                 "--base-url", llm_server.base_url, "--max-workers", "2", "--step-timeout", "90"])
    try:
        _wait(lambda: len(run_labelled(docker_client, f"{exp}-")) >= 2 and len(llm_server.requests) >= 2)
        time.sleep(0.5)  # the agents are inside `sleep 60`
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=40)
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    assert "Interrupted" in out and "Traceback" not in out
    left = run_labelled(docker_client, f"{exp}-")
    assert not left, (out, [(c["State"], c["Labels"]) for c in left])


def test_a_setup_patch_is_hidden_from_the_agent_and_left_out_for_gold(task_image, docker_client):
    """SWE-smith rows: `patch` makes the bug; the agent starts from it, committed out of sight; gold is without it."""
    from harness.agents.evaluate import check_dataset
    from harness.agents.grading import prepare_pristine

    bug = ("diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -5,2 +5,2 @@\n"
           " def mul(a, b):\n-    return a * b\n+    return a + b\n")
    row = {"instance_id": "calc.swesmith.1", "repo": "calc", "base_commit": task_image.base_commit, "patch": bug,
           "problem_statement": "mul adds", "image_name": "swesmith.x86_64.calc", "docker_image": task_image.image,
           "FAIL_TO_PASS": ["tests/test_mul.py::test_mul"], "PASS_TO_PASS": []}
    inst = normalise(row)
    assert (inst.kind, inst.patch, inst.setup_patch) == ("swesmith", "", bug)
    envs = EnvFactory("docker", client=docker_client)
    env = envs(inst, "agent")
    try:
        assert prepare_pristine(env, inst) == ""
        assert "return a + b" in env.execute("tail -1 calc.py").output
        assert env.execute("git status --porcelain").output.strip() == ""  # nothing shows where the bug is
        assert env.execute("git log --oneline | wc -l").output.strip() == "1"
        assert env.execute("git reflog | wc -l").output.strip() == "0"
    finally:
        env.close()
    [check] = check_dataset([inst], envs, runs=1, say=lambda m: None)
    assert check.ok and (check.gold, check.empty) == ((1.0,), (0.0,))
