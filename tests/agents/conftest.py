"""Agent fixtures: a buggy repository in a local environment, and a client of the scripted LLM server."""

from __future__ import annotations

import pytest

from installers.local_env import LocalEnvironment
from r2e.llm import LLMClient, LLMConfig
from tests.conftest import make_git_repo
from tests.installers.conftest import docker_base  # noqa: F401  (the session's small base image)

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"


@pytest.fixture
def buggy_repo(tmp_path):
    repo = tmp_path / "repo"
    sha = make_git_repo(repo, {"calc.py": BUGGY, "tests/test_calc.py": "from calc import add\n\n\n"
                               "def test_add():\n    assert add(2, 3) == 5\n"})
    return repo, sha


@pytest.fixture
def local_env(buggy_repo, tmp_path):
    repo, _ = buggy_repo
    return LocalEnvironment(repo, venv=tmp_path / "no-venv")


@pytest.fixture
def client(llm_server):
    return LLMClient(LLMConfig(model="scripted", base_url=llm_server.base_url, max_retries=0))


@pytest.fixture(scope="session")
def task_image(docker_client, docker_base, tmp_path_factory):
    """The agents' task image (built once per machine, ~20 s the first time)."""
    from tests.agents.task_images import build_task_image

    return build_task_image(docker_client, docker_base, tmp_path_factory.mktemp("task-image"))
