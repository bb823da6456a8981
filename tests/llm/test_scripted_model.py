"""The bundled scripted model: its server against the real LLM client, its fix scripts through the real
file_editor tool, and a whole agent run graded with it (no tests/llm_server.py here: this is the model
`r2e quickstart` ships)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.agents.sandbox import Sandbox
from harness.agents.scaffolds import make_scaffold
from installers.local_env import LocalEnvironment
from r2e.cli import cli
from r2e.errors import R2EUsageError
from r2e.llm import LLMClient, LLMConfig
from r2e.llm.scripted_model import check_script, fix_actions, fix_script_for, serve
from tests.conftest import make_git_repo

TOOLS = list(make_scaffold("r2egym", True).tools)
SCRIPT = [
    {"match": "[alpha]", "replies": ["first { answer }",
                                     {"content": "look", "tool_calls": [{"name": "execute_bash",
                                                                         "arguments": {"cmd": "ls -la\n"}}]}]},
    {"match": "[beta]", "replies": ["beta says hi"]},
]

FIXED = ("def mean(xs):\n    if not xs:\n        return 0\n    total = 0\n    for x in xs:\n        total += x\n"
         "    return total / len(xs)\n\n\ndef biggest(xs):\n    return max(xs)\n\n\ndef smallest(xs):\n"
         "    return min(xs)\n")
BUGGY = FIXED.replace("total / len(xs)", "total / (len(xs) - 1)").replace("return max(xs)", "return min(xs)", 1)
NO_EOL_FIXED, NO_EOL_BUGGY = "VALUE = 2\nNAME = 'b'", "VALUE = 1\nNAME = 'b'"


def chat(messages, stream=True, tools=None, url=""):
    client = LLMClient(LLMConfig(model="scripted", base_url=url, max_retries=0, stream=stream))
    return client.chat(messages, tools=tools, purpose="agent")


def user(text):
    return [{"role": "system", "content": "sys"}, {"role": "user", "content": f"Fix this: {text}"}]


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.mark.parametrize("stream", [True, False])
def test_server_answers_the_real_client_by_conversation_and_step(stream):
    with serve(SCRIPT) as url:
        first = chat(user("[alpha] bug"), stream, TOOLS, url)
        assert first.text == "first { answer }" and first.tool_calls == []
        assert first.prompt_tokens > 0 and first.completion_tokens > 0
        # The step is the number of assistant messages already there: no state in the server.
        later = user("[alpha] bug") + [first.message, {"role": "user", "content": "ok"}]
        second = chat(later, stream, TOOLS, url)
        [call] = second.tool_calls
        assert call["function"]["name"] == "execute_bash"
        assert json.loads(call["function"]["arguments"]) == {"cmd": "ls -la\n"}
        assert second.text == "look" and call["id"].startswith("call_")
        assert chat(later, stream, TOOLS, url).tool_calls == [call]  # same request, same answer (and id)
        assert chat(user("[beta] other"), stream, TOOLS, url).text == "beta says hi"
        # Past the last reply, and a conversation no entry knows: a submission, so runs end.
        for messages in (later + [second.message, {"role": "tool", "content": "x", "tool_call_id": call["id"]}],
                         user("something else")):
            [done] = chat(messages, stream, TOOLS, url).tool_calls
            assert done["function"]["name"] == "finish"
            assert json.loads(done["function"]["arguments"]) == {"command": "submit"}
        with urllib.request.urlopen(f"{url}/models", timeout=10) as resp:
            assert json.load(resp)["data"][0]["id"] == "scripted"


def test_text_mode_and_mini_get_their_own_action_syntax():
    with serve(SCRIPT) as url:
        text = chat(user("[alpha]") + [{"role": "assistant", "content": "a"}, {"role": "user", "content": "o"}],
                    url=url).text
        assert "<function=execute_bash>" in text and "<parameter=cmd>ls -la\n</parameter>" in text
        assert "<function=finish>" in chat(user("unknown"), url=url).text
        mini = [{"role": "system", "content": "end with COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"}, *user("unknown")[1:]]
        assert "```bash\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```" in chat(mini, url=url).text


def test_stream_chunks_follow_openai_format():
    body = json.dumps({"model": "scripted", "stream": True, "stream_options": {"include_usage": True},
                       "tools": TOOLS, "messages": user("nothing known")}).encode()
    with serve([]) as url:
        req = urllib.request.Request(f"{url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            events = [line[6:] for line in resp.read().decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if c["choices"] and
             c["choices"][0]["delta"].get("tool_calls")]
    assert calls[0]["id"] and calls[0]["function"]["name"] == "finish" and "id" not in calls[1]
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"command": "submit"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_bad_scripts_are_one_line_errors():
    with pytest.raises(R2EUsageError, match="entry 1"):
        check_script([{"match": 3, "replies": []}])
    with pytest.raises(R2EUsageError, match="a reply is"):
        check_script([{"match": "x", "replies": [{"content": "no calls"}]}])


def _diff(repo, files: dict, *flags: str) -> str:
    """The diff that turns `repo`'s committed files into `files` (git's own unified diff; -R: the other way)."""
    for name, text in files.items():
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    out = subprocess.run(["git", "diff", "--cached", *flags], cwd=repo, check=True, capture_output=True,
                         text=True).stdout
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=repo, check=True)
    return out


def test_fix_script_edits_the_buggy_files_into_the_fixed_ones_through_file_editor(tmp_path):
    repo = tmp_path / "repo"
    make_git_repo(repo, {"stats.py": BUGGY, "conf.py": NO_EOL_BUGGY})
    gold = _diff(repo, {"stats.py": FIXED, "conf.py": NO_EOL_FIXED, "new_mod.py": "X = 1\n"})
    assert "\\ No newline at end of file" in gold
    entry = fix_script_for({"instance_id": "i", "problem_statement": "  mean is wrong\n", "patch": gold},
                           workdir=str(repo))
    assert entry["match"] == "mean is wrong"
    calls = [r["tool_calls"][0] for r in entry["replies"]]
    assert [c["arguments"].get("command") for c in calls] == ["view", "str_replace", "create", "view",
                                                              "str_replace", "submit"]
    sandbox = Sandbox(LocalEnvironment(repo, venv=tmp_path / "no-venv"))
    sandbox.install()
    try:
        for call in calls[:-1]:
            out = sandbox.file_editor(dict(call["arguments"]))
            assert out.exit_code == 0 and "ERROR" not in out.output, out.output
    finally:
        sandbox.remove()
    assert (repo / "stats.py").read_text() == FIXED
    assert (repo / "conf.py").read_text() == NO_EOL_FIXED
    assert (repo / "new_mod.py").read_text() == "X = 1\n"
    # The hunk's context is what makes old_str unique: `return min(xs)` alone is in the file twice.
    assert BUGGY.count(calls[4]["arguments"]["old_str"]) == 1 and BUGGY.count("return min(xs)") == 2


def test_pure_additions_without_context_and_deletions(tmp_path):
    repo = tmp_path / "repo"
    make_git_repo(repo, {"a.py": "A = 1\nC = 3\n", "gone.py": "x\n"})
    (repo / "gone.py").unlink()
    (repo / "a.py").write_text("A = 1\nB = 2\nC = 3\nD = 4\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    gold = subprocess.run(["git", "diff", "--cached", "-U0"], cwd=repo, check=True, capture_output=True,
                          text=True).stdout
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=repo, check=True)
    calls = fix_actions(gold, str(repo))
    assert [(c["name"], c["arguments"].get("command")) for c in calls] == [
        ("file_editor", "view"), ("file_editor", "insert"), ("file_editor", "insert"), ("execute_bash", None)]
    sandbox = Sandbox(LocalEnvironment(repo, venv=tmp_path / "no-venv"))
    sandbox.install()
    try:
        for call in calls:
            run = sandbox.file_editor if call["name"] == "file_editor" else (lambda a: sandbox.bash(a["cmd"]))
            out = run(dict(call["arguments"]))
            assert out.exit_code == 0 and "ERROR" not in out.output, out.output
    finally:
        sandbox.remove()
    assert (repo / "a.py").read_text() == "A = 1\nB = 2\nC = 3\nD = 4\n"
    assert not (repo / "gone.py").exists()


SRC = "def add(a, b):\n    return a + b\n"
TEST = ("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n")


def test_agent_run_with_the_bundled_model_is_graded_resolved(tmp_path, monkeypatch):
    """A tasks.jsonl-style mutation instance on the local backend: the scripted agent applies the gold
    patch with file_editor, and a fresh copy grades it 1; an instance it has no script for scores 0."""
    home = tmp_path / "home"  # the host's login profile can cost a second per command
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    repo = tmp_path / "calc"
    base = make_git_repo(repo, {"calc.py": SRC, "tests/test_calc.py": TEST})
    bug = _diff(repo, {"calc.py": SRC.replace("a + b", "a - b")})
    gold = _diff(repo, {"calc.py": SRC.replace("a + b", "a - b")}, "-R")  # buggy -> clean
    rows = [{"instance_id": f"calc.{n}", "repo": "calc", "base_commit": base, "patch": gold, "bug_patch": bug,
             "problem_statement": f"add() returns the wrong sum ({n})", "docker_image": "unused",
             "repo_path": str(repo), "FAIL_TO_PASS": ["tests/test_calc.py::test_add"],
             "PASS_TO_PASS": ["tests/test_calc.py::test_zero"], "strategy": "swap_operator",
             "eval_script": f"{sys.executable} -m pytest -rA -p no:cacheprovider tests"} for n in ("fix", "idle")]
    data = tmp_path / "tasks.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # The local backend's copy lives in a fresh folder: paths relative to the workdir (the tools' cwd).
    with serve([fix_script_for(rows[0], workdir=".")]) as url:
        res = CliRunner().invoke(cli, ["agent", "run", str(data), "--exp", "sm", "--out", str(tmp_path / "out"),
                                       "--backend", "local", "--allow-unisolated-local", "--model", "scripted",
                                       "--base-url", url, "--max-steps", "10"])
    assert res.exit_code == 0, res.output
    records = {r["instance_id"]: r for r in map(json.loads, (tmp_path / "out/sm/sm.jsonl").read_text().splitlines())}
    fixed, idle = records["calc.fix"], records["calc.idle"]
    assert (fixed["reward"], fixed["exit_reason"]) == (1.0, "agent"), json.dumps(fixed["trajectory_steps"])[:3000]
    assert len(fixed["trajectory_steps"]) == 3  # view, str_replace, submit
    assert "+    return a + b" in fixed["output_patch"]
    assert (idle["reward"], idle["exit_reason"], idle["output_patch"]) == (0.0, "agent", "")
    assert (repo / "calc.py").read_text() == SRC  # the checkout stays clean: the bug lives in the copies


def test_cli_serves_fix_scripts_for_a_tasks_file_and_refuses_a_bad_script(tmp_path):
    row = {"instance_id": "t1", "problem_statement": "the mean is off", "patch": ""}
    (tmp_path / "tasks.jsonl").write_text(json.dumps(row) + "\n")
    (tmp_path / "bad.json").write_text('{"match": 1}')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    bad = subprocess.run([sys.executable, "-m", "r2e", "scripted-model", "serve", "--script",
                          str(tmp_path / "bad.json")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "entries" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "r2e", "scripted-model", "serve", "--tasks",
                             str(tmp_path / "tasks.jsonl")], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().startswith("scripted model: 1 conversation(s)")
        url = json.loads(proc.stdout.readline())["base_url"]
        reply = chat(user("the mean is off"), url=url, tools=TOOLS)
        assert reply.tool_calls[0]["function"]["name"] == "finish"  # an empty patch: nothing to edit, submit
    finally:
        proc.terminate()
        proc.wait(timeout=10)
