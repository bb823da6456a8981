"""The LLM repair loop against a scripted OpenAI-compatible server over real HTTP, local backend."""

from __future__ import annotations

import json

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
