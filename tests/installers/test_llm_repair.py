"""The LLM repair loop against a scripted OpenAI-compatible server over real HTTP, local backend."""

from __future__ import annotations

import json

import pytest

from installers.build import build_repo
from installers.llm_repair import parse_reply
from installers.options import BuildOptions
from r2e.llm import LLMConfig
from tests.conftest import make_git_repo
from tests.installers.fixtures import REPOS, experiment


def run(tmp_path, llm_server, **kw):
    repo = tmp_path / "repo"
    make_git_repo(repo, REPOS["hidden_dep"])
    cfg = LLMConfig(model="scripted", base_url=llm_server.base_url, max_retries=1)
    opts = BuildOptions(backend="local", rules=False, llm=cfg, timeout_per_task=300, **kw)
    exp = experiment(tmp_path)
    return build_repo("hidden_dep", repo, exp, opts), exp.build_files("hidden_dep")


def test_model_command_fixes_install_and_is_folded(tmp_path, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    llm_server.script("I will install it.\n```bash\nuv pip install six && env\n```", "RUN ORACLE")
    result, files = run(tmp_path, llm_server)
    assert result.status == "success", result.failure
    first_prompt = llm_server.requests[0]["messages"][1]["content"]
    assert "No module named 'six'" in first_prompt  # the oracle's failure reaches the model
    saved = json.loads(files.repairs.read_text())
    assert [s["kind"] for s in saved["steps"]] == ["command", "oracle"]
    assert saved["steps"][1]["helped"] is True and saved["final_status"] == "success"
    assert result.plan["extra_steps"] == ["uv pip install six && env"]
    assert result.install_script[-1] == "uv pip install six && env"  # reproducible from the script
    assert "sk-secret-value" not in files.install_log.read_text()  # keys never reach commands
    assert "sk-secret-value" not in files.repairs.read_text()


def test_loop_is_bounded_and_saves_transcript(tmp_path, llm_server):
    llm_server.default = "```bash\necho still broken\n```"
    result, files = run(tmp_path, llm_server, max_repair_steps=3)
    assert result.status == "failed"
    assert len(llm_server.requests) == 3
    assert len(json.loads(files.repairs.read_text())["steps"]) == 3
    assert [s["source"] for s in result.repair_steps] == ["llm"] * 3
    assert not any("still broken" in c for c in result.install_script)  # unhelpful trials are not recorded


def test_reply_parsing():
    assert parse_reply("```bash\nls -la\n```") == ("command", "ls -la")
    assert parse_reply("run oracle please")[0] == "oracle"
    assert parse_reply("I think we are done")[0] == "none"
    assert parse_reply("```bash\necho a\x00b\n```")[0] == "none"  # no shell takes a NUL byte
    assert parse_reply("$ rm -rf \x00")[0] == "none"
    assert parse_reply("")[0] == "none" and parse_reply("```bash\n```")[0] == "none"


def test_a_step_that_raises_is_recorded_and_the_build_keeps_its_result(tmp_path, llm_server, monkeypatch):
    import installers.llm_repair as loop

    def broken(*args, **kwargs):
        raise RuntimeError("unexpected reply shape")

    llm_server.script("I am not sure.")
    monkeypatch.setattr(loop, "parse_reply", broken)
    result, files = run(tmp_path, llm_server)
    assert result.status == "failed" and result.oracle is not None and result.venv
    saved = json.loads(files.repairs.read_text())
    assert "unexpected reply shape" in saved["steps"][-1]["error"] and saved["final_status"] == "failed"


def test_malformed_replies_end_the_loop_the_build_keeps_its_result_and_no_secret_is_written(tmp_path, llm_server,
                                                                                            monkeypatch):
    key = "sk-canary-1234"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    # a command that prints the key without containing it and fixes the install, then replies that are not
    # JSON: the client's bounded retries end in an LLM error, the loop stops, and the build keeps everything
    # (the unchecked command is checked at the end and folded)
    llm_server.script("```bash\necho sk-canary-$((1000+234)) && uv pip install six\n```",
                      {"body": '{"choices": [{"message": {"content": "trunc', "content_type": "application/json"},
                      {"body": "<html>bad gateway hunter2pw</html>", "content_type": "text/html"})
    repo = tmp_path / "repo"
    make_git_repo(repo, REPOS["hidden_dep"])
    url = llm_server.base_url.replace("http://", "http://bob:hunter2pw@")  # credentials in the URL
    cfg = LLMConfig(model="scripted", base_url=url, max_retries=1)
    exp = experiment(tmp_path)
    result = build_repo("hidden_dep", repo, exp, BuildOptions(backend="local", rules=False, llm=cfg,
                                                              timeout_per_task=300))
    files = exp.build_files("hidden_dep")
    assert result.status == "success", result.failure
    assert len(llm_server.requests) == 3  # one good reply, then 1 + max_retries(1) malformed ones
    assert llm_server.requests[0]["max_tokens"] == 512  # a repair command's bound, not the model's context
    saved = json.loads(files.repairs.read_text())
    assert "LLMError" in saved["steps"][-1]["error"] and saved["final_status"] == "success"
    assert result.oracle is not None and result.oracle.passed == 2
    assert result.commands and result.venv and files.result.exists()
    assert result.install_script[-1] == "echo sk-canary-$((1000+234)) && uv pip install six"
    # the command's output (the key) is scrubbed before the model sees it and before anything is saved
    second_prompt = json.dumps(llm_server.requests[1]["messages"])
    assert "***" in second_prompt and key not in second_prompt
    for text in (files.repairs.read_text(), files.result.read_text()):
        assert key not in text and "hunter2pw" not in text
    assert "***" in files.repairs.read_text()


def test_build_cli_takes_the_llm_options_and_a_dead_model_never_fails_the_build(tmp_path, r2e_home, cli, llm_server):
    from r2e.experiment import Experiment
    from r2e.workspace import Workspace

    repo = tmp_path / "hidden_dep"
    make_git_repo(repo, REPOS["hidden_dep"])
    assert cli("setup", "-e", "b", "-l", str(repo)).exit_code == 0
    llm_server.default = {"hang": True}
    url = llm_server.base_url.replace("http://", "http://bob:hunter2pw@")
    result = cli("build", "-e", "b", "--backend", "local", "--no-repairs", "--model", "scripted", "--base-url", url,
                 "--llm-timeout", "1", "--llm-max-failures", "1", "--max-tokens", "99", "--timeout-per-task", "120")
    assert result.exit_code == 1 and "Traceback" not in result.output  # 1: not a success; never an error
    assert len(llm_server.requests) == 2 and llm_server.requests[0]["max_tokens"] == 99  # one dead call, retried once
    assert result.stderr.count("no more LLM calls in this run") == 1
    assert "hunter2pw" not in result.output
    exp = Experiment(Workspace(r2e_home), "b")
    (record,) = exp.repos()
    build = exp.build_result(record.id, required=True)
    assert build.status == "failed" and build.oracle is not None and build.commands and build.venv
    transcript = exp.build_files(record.id).repairs.read_text()
    assert "no answer within 1 s" in transcript and "hunter2pw" not in transcript


@pytest.mark.parametrize("command", [("build", "-e", "b"), ("genexec", "-e", "b"), ("generate", "-e", "b")])
def test_commands_refuse_non_finite_llm_options(r2e_home, cli, command):
    result = cli(*command, "--model", "m", "--llm-timeout", "nan")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_build_with_a_model_and_no_key_is_a_one_line_error_before_any_build(r2e_home, cli, llm_server, tmp_path):
    repo = tmp_path / "hidden_dep"
    make_git_repo(repo, REPOS["hidden_dep"])
    assert cli("setup", "-e", "b", "-l", str(repo)).exit_code == 0
    result = cli("build", "-e", "b", "--backend", "local", "--model", "m")
    assert result.exit_code == 2 and "OPENAI_API_KEY is not set" in result.output
    assert not (r2e_home / "experiments" / "b" / "build").exists() or not any(
        (r2e_home / "experiments" / "b" / "build").rglob("result.json"))
