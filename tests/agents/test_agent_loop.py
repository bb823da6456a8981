"""Agents driven by the scripted LLM server in a real local environment (real bash, real git)."""

from __future__ import annotations

import json
import subprocess

from harness.agents import AgentOptions, Trajectory, run_agent
from harness.agents.trajectory import without_timings

FIX_DIFF = "-    return a - b\n+    return a + b\n"


def call(name: str, content: str = "", **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}], "content": content}


def fix_script(repo) -> list:
    return [
        call("file_editor", "Let me look at the code.", command="view", path=f"{repo}/calc.py"),
        call("file_editor", "add subtracts; fix it.", command="str_replace", path=f"{repo}/calc.py",
             old_str="return a - b", new_str="return a + b"),
        call("finish", "Done.", command="submit"),
    ]


def test_fn_calling_agent_fixes_the_bug_and_the_patch_is_exactly_the_fix(buggy_repo, local_env, client, llm_server):
    repo, _ = buggy_repo
    llm_server.script(*fix_script(repo))
    traj = run_agent({"instance_id": "calc-1", "problem_statement": "add() subtracts"}, local_env, client,
                     AgentOptions(exp_name="t"))
    assert traj.exit_reason == "agent" and traj.num_steps == 3
    assert "Here's the result of running `cat -n` on the file" in traj.trajectory_steps[0].observation
    assert "The file" in traj.trajectory_steps[1].observation and "has been edited" in traj.trajectory_steps[1].observation
    assert traj.trajectory_steps[2].observation == "<<< Finished >>>" and traj.trajectory_steps[2].done
    assert FIX_DIFF in traj.output_patch and traj.output_patch.count("diff --git") == 1
    assert "<function=file_editor>" in traj.trajectory_steps[1].action
    # the model was offered R2E-Gym's four tools; the chat keeps each call and its tool answer
    offered = [t["function"]["name"] for t in llm_server.requests[0]["tools"]]
    assert sorted(offered) == ["execute_bash", "file_editor", "finish", "search"]
    tool_msgs = [m for m in traj.messages if m["role"] == "tool"]
    assert len(tool_msgs) == 3 and all(m["tool_call_id"].startswith("call_") for m in tool_msgs)
    assert "Steps Remaining: 40" in llm_server.requests[0]["messages"][-1]["content"]
    record = traj.history_record()
    assert set(record) == {"messages", "tools"}
    # the record has R2E-Gym's fields and round-trips
    data = json.loads(json.dumps(traj.to_dict()))
    for key in ("trajectory_steps", "problem_statement", "docker_image", "exp_name", "env_args", "agent_args", "ds",
                "max_steps", "max_steps_absolute", "max_token_limit", "exit_reason", "output_patch", "reward",
                "test_output", "reward_calc_time"):
        assert key in data
    assert "messages" not in data
    assert Trajectory.from_dict(data).to_dict() == data
    # the tools' folder and undo history were outside the repo and are gone
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout \
        == " M calc.py\n"


def test_text_mode_function_blocks(buggy_repo, local_env, client, llm_server):
    repo, _ = buggy_repo
    llm_server.script(
        "I will fix it.\n<function=file_editor>\n<parameter=command>str_replace</parameter>\n"
        f"<parameter=path>{repo}/calc.py</parameter>\n<parameter=old_str>return a - b</parameter>\n"
        "<parameter=new_str>return a + b</parameter>\n</function>",
        "Check.\n<function=execute_bash>\n<parameter=cmd>python3 -c 'import calc; print(calc.add(2, 3))'"
        "</parameter>\n</function>",
        "<function=search>\n<parameter=search_term>def mul</parameter>\n</function>",
        "Submit.\n<function=finish>\n<parameter=command>submit</parameter>\n</function>",
    )
    traj = run_agent({"problem_statement": "add() subtracts"}, local_env, client,
                     AgentOptions(fn_calling=False))
    assert traj.exit_reason == "agent", traj.trajectory_steps[-1].observation
    assert "tools" not in llm_server.requests[0]
    bash = traj.trajectory_steps[1].observation
    assert bash.startswith("Exit code: 0\nExecution output of [execute_bash]:\n[STDOUT]\n\n5")
    assert "Found 1 matches for \"def mul\"" in traj.trajectory_steps[2].observation
    assert traj.trajectory_steps[0].thought == "I will fix it."
    assert FIX_DIFF in traj.output_patch
    assert isinstance(traj.history_record(), list)


def test_mini_scaffold_fixes_with_sed_then_submits(buggy_repo, local_env, client, llm_server):
    llm_server.script(
        "THOUGHT: fix the operator.\n\n```bash\nsed -i 's/return a - b/return a + b/' calc.py\n```",
        "THOUGHT: done.\n\n```bash\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git add -A && git diff --cached\n```",
    )
    traj = run_agent({"problem_statement": "add() subtracts"}, local_env, client, AgentOptions(scaffold="mini"))
    assert traj.exit_reason == "agent" and traj.num_steps == 2
    assert traj.trajectory_steps[0].observation == "<returncode>0</returncode>\n<output>\n</output>\n"
    assert traj.trajectory_steps[0].action == "sed -i 's/return a - b/return a + b/' calc.py"
    assert FIX_DIFF in traj.output_patch and FIX_DIFF in traj.trajectory_steps[1].observation
    assert "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" in llm_server.requests[0]["messages"][1]["content"]


def test_looping_agent_stops_at_the_step_limit(local_env, client, llm_server):
    llm_server.default = call("execute_bash", cmd="true")
    traj = run_agent({"problem_statement": "x"}, local_env, client, AgentOptions(max_steps=3))
    assert traj.exit_reason == "max_steps" and traj.num_steps == 3
    assert [s.done for s in traj.trajectory_steps] == [False, False, True]
    assert "Steps Remaining: 1" in llm_server.requests[-1]["messages"][-1]["content"]
    assert traj.output_patch == ""


def test_token_and_time_limits(local_env, client, llm_server):
    llm_server.default = call("execute_bash", cmd="true")
    traj = run_agent({"problem_statement": "x"}, local_env, client, AgentOptions(max_tokens=5))
    assert traj.exit_reason == "max_tokens" and traj.num_steps == 1
    llm_server.default = call("execute_bash", cmd="sleep 5")
    traj = run_agent({"problem_statement": "x"}, local_env, client, AgentOptions(max_time=1.0, max_tokens=0))
    assert traj.exit_reason == "timeout" and traj.num_steps == 1
    assert "took too long to execute" in traj.trajectory_steps[0].observation


def test_unparseable_replies_become_observations_then_recovery(buggy_repo, local_env, client, llm_server):
    repo, _ = buggy_repo
    llm_server.script(
        "I am thinking without calling anything.",
        {"tool_calls": [{"name": "file_editor", "arguments": "{not json"}], "content": ""},
        call("no_such_tool", x="1"),
        *fix_script(repo)[1:],
    )
    traj = run_agent({"problem_statement": "x"}, local_env, client, AgentOptions(max_format_errors=4))
    assert traj.exit_reason == "agent"
    first, second, third = traj.trajectory_steps[:3]
    assert "You forgot to use a function call" in first.observation and first.info["format_error"]
    assert "not valid JSON" in second.observation
    assert "Invalid Action" in third.observation
    assert FIX_DIFF in traj.output_patch
    # three in a row end the run
    llm_server.default = "no call"
    traj = run_agent({"problem_statement": "x"}, local_env, client, AgentOptions(scaffold="mini"))
    assert traj.exit_reason == "format_errors" and traj.num_steps == 3
    assert "found 0 actions" in traj.trajectory_steps[0].observation


def test_same_script_twice_gives_identical_trajectories_apart_from_timings(buggy_repo, local_env, client, llm_server):
    repo, sha = buggy_repo
    records = []
    for _ in range(2):
        llm_server.script(call("execute_bash", cmd="ls && echo err >&2 && false"), *fix_script(repo))
        traj = run_agent({"instance_id": "i", "problem_statement": "x"}, local_env, client, AgentOptions())
        records.append(json.dumps(without_timings(traj.to_dict(with_history=True)), sort_keys=True))
        subprocess.run(["git", "checkout", "-q", "--", "."], cwd=repo, check=True)
    assert records[0] == records[1]
    assert "Exit code: Error: Exit code 1" in records[0] and "[STDERR]\\n\\nerr" in records[0]


def test_api_key_never_reaches_the_environment_or_the_trajectory(buggy_repo, local_env, client, llm_server,
                                                                monkeypatch):
    repo, _ = buggy_repo
    canary = "canary-5f1c2e9d7b"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    llm_server.script(call("execute_bash", cmd="env > seen_env.txt; env"), *fix_script(repo))
    traj = run_agent({"problem_statement": "x"}, local_env, client, AgentOptions())
    assert llm_server.headers[0]["Authorization"] == f"Bearer {canary}"  # the key was used ...
    assert canary not in json.dumps(traj.to_dict(with_history=True))  # ... and is nowhere else
    found = subprocess.run(["grep", "-r", canary, str(repo)], capture_output=True, text=True)
    assert found.returncode == 1, found.stdout
    assert "PATH=" in traj.trajectory_steps[0].observation
    # an unreachable model ends the run as llm_error, the key redacted from the message
    llm_server.script({"status": 401, "message": f"bad key {canary}"})
    traj = run_agent({"problem_statement": "x"}, local_env, client, AgentOptions())
    assert traj.exit_reason == "llm_error" and traj.num_steps == 0
    assert traj.error and canary not in json.dumps(traj.to_dict(with_history=True))
