"""LocalEnvironment's isolation plumbing: per-build copies of the checkout, the network switch, the
secret scrubbing, the run records that reaping reads, and what the sandbox costs per command."""

from __future__ import annotations

import json
import os
import socket
import statistics
import threading
from pathlib import Path

import pytest

from installers import orphans
from installers.isolation import isolation_available
from installers.local_env import LocalEnvironment, hide_variable, is_secret_name, scrubbed_environ
from tests.conftest import git, make_git_repo

needs_bwrap = pytest.mark.skipif(not isolation_available(), reason="bubblewrap is not installed or does not work here")


def test_from_checkout_copies_the_checkout_and_leaves_the_original_alone(tmp_path):
    repo = tmp_path / "repo"
    make_git_repo(repo, {"pkg/__init__.py": "X = 1\n"})
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / "pkg" / "__pycache__").mkdir()
    (repo / "pkg" / "__pycache__" / "x.pyc").write_text("junk")
    (repo / "passwd").symlink_to("/etc/passwd")
    env = LocalEnvironment.from_checkout(repo, tmp_path / "build", run_dir=tmp_path / "run")
    work = Path(env.workdir)
    assert work == (tmp_path / "build" / "checkout").resolve() and env.venv == str((tmp_path / "build" / "venv").resolve())
    assert (work / "pkg" / "__init__.py").exists() and (work / ".git").is_dir()
    assert not (work / ".venv").exists() and not (work / "pkg" / "__pycache__").exists()
    assert (work / "passwd").is_symlink()  # copied as a link, never followed
    res = env.execute("echo changed > pkg/__init__.py && touch new.txt && git status --porcelain")
    assert res.ok and "new.txt" in res.output
    assert (repo / "pkg" / "__init__.py").read_text() == "X = 1\n" and not (repo / "new.txt").exists()
    assert "new.txt" not in git(repo, "status", "--porcelain") and " M " not in git(repo, "status", "--porcelain")
    again = LocalEnvironment.from_checkout(repo, tmp_path / "build", run_dir=tmp_path / "run")
    assert not (Path(again.workdir) / "new.txt").exists()  # each attempt starts from a fresh copy


def test_secret_variables_never_reach_commands(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD",
                 "SSH_AUTH_SOCK", "MY_APIKEY", "GITHUB_PAT_TOKEN", "KEY", "SIGNING_KEY_ID"):
        assert is_secret_name(name), name
    for name in ("PATH", "HOME", "UV_INDEX_URL", "GIT_AUTHOR_NAME", "PYTHON_KEYRING_BACKEND", "MONKEY_MODE",
                 orphans.RUN_TOKEN_ENV):
        assert not is_secret_name(name), name
    monkeypatch.setenv("LLM_CRED_FOR_TEST", "value-of-a-key")
    assert "LLM_CRED_FOR_TEST" in scrubbed_environ()
    hide_variable("LLM_CRED_FOR_TEST")
    assert "LLM_CRED_FOR_TEST" not in scrubbed_environ()


@needs_bwrap
def test_network_false_cuts_a_sandboxed_command_off(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    port = server.getsockname()[1]
    threading.Thread(target=lambda: [server.accept() for _ in range(2)], daemon=True).start()
    probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 5); print('connected')\""
    try:
        on = LocalEnvironment(tmp_path, venv=tmp_path / "v", run_dir=tmp_path / "run").execute(probe)
        off = LocalEnvironment(tmp_path, venv=tmp_path / "v", run_dir=tmp_path / "run", network=False).execute(probe)
    finally:
        server.close()
    assert on.ok and "connected" in on.output
    assert not off.ok and "connected" not in off.output


def test_reaping_clears_unreadable_and_dead_records_and_their_scratch(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "1-bad.json").write_text("{truncated")
    scratch = tmp_path / f"{orphans.SCRATCH_PREFIX}x"
    scratch.mkdir()
    dead = {"token": "t" * 32, "owner": 2 ** 22 + 7, "owner_start": "1", "pgid": None, "scratch": str(scratch)}
    (run / "2-dead.json").write_text(json.dumps(dead))
    live = {"token": "u" * 32, "owner": os.getpid(), "owner_start": orphans.start_time(os.getpid()), "pgid": None}
    (run / "3-live.json").write_text(json.dumps(live))
    assert orphans.reap_orphans(run) == 0
    assert sorted(p.name for p in run.iterdir()) == ["3-live.json"] and not scratch.exists()


@needs_bwrap
def test_sandbox_costs_little_per_command(tmp_path):
    """Median of 20 `true`: bwrap adds a few milliseconds (and skips the login shell's profile)."""
    env = LocalEnvironment(tmp_path, venv=tmp_path / "v", run_dir=tmp_path / "run")
    assert env.isolated
    durations = []
    for _ in range(20):
        res = env.execute("true")
        assert res.ok, res.output
        durations.append(res.duration)
    assert statistics.median(durations) < 0.25
