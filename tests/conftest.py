"""Shared fixtures: a private R2E home, real git repos in temp folders, the CLI in and out of process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest_plugins = ["tests.llm_server", "tests.real_model"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True,
        env={**os.environ, **GIT_IDENTITY},
    ).stdout.strip()


def make_git_repo(path: Path, files: dict[str, str | bytes], message: str = "initial") -> str:
    """Create (or add a commit to) a git repo at `path` with `files`; return the new HEAD SHA."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        git(path, "init", "--quiet", "--initial-branch=main")
    for rel, content in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", message)
    return git(path, "rev-parse", "HEAD")


@pytest.fixture
def r2e_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "r2e-home"
    monkeypatch.setenv("R2E_HOME", str(home))
    return home


@pytest.fixture
def git_repo_factory(tmp_path):
    """make(owner, name, files) -> (file:// URL, repo path, HEAD SHA) of a real git repo."""

    def make(owner: str, name: str, files: dict[str, str | bytes] | None = None):
        path = tmp_path / "remotes" / owner / name
        sha = make_git_repo(path, files or {"README.md": f"# {name}\n", f"{name}/__init__.py": "X = 1\n"})
        return f"file://{path}", path, sha

    return make


@pytest.fixture
def cli(r2e_home):
    """Run the CLI in process: cli(*args) -> click Result (exit_code, output)."""
    from r2e.cli import cli as root

    runner = CliRunner()

    def invoke(*args: str, **kwargs):
        return runner.invoke(root, list(args), catch_exceptions=False, **kwargs)

    return invoke


@pytest.fixture
def run_r2e(r2e_home):
    """Run `python -m r2e` as a real process against this checkout: (*args) -> CompletedProcess."""

    def run(*args: str, timeout: float = 300, cwd: Path | None = None, env: dict | None = None):
        full_env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "r2e", *args], capture_output=True, text=True,
            timeout=timeout, cwd=cwd, env=full_env,
        )

    return run


def docker_reason() -> str | None:
    """Why Docker tests cannot run here, or None when an engine answers."""
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as exc:  # any failure to reach the engine is a reason to skip
        return f"no reachable Docker Engine ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture(scope="session")
def docker_client():
    reason = docker_reason()
    if reason:
        pytest.skip(reason)
    import docker

    return docker.from_env(timeout=120)
