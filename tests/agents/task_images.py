"""A real task image for agent runs, built once per machine (tagged by its recipe's hash):

the session's small base image + git + pytest, a git repository at /testbed whose `add` subtracts
(its visible test `tests/test_mul.py` passes), and R2E's /run_tests.sh. A second tag without
/run_tests.sh but with R2E-Gym's hidden tests at /r2e_tests stands for a foreign (SWE-bench / R2E-Gym)
image, named as SWE-bench names its instance images.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIXED = BUGGY.replace("a - b", "a + b")
VISIBLE_TEST = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
HIDDEN_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
RECIPE = 2  # bump when the build below changes
SWEBENCH_ID = "calc__calc-1"
SWEBENCH_TAG = "swebench/sweb.eval.x86_64.calc_1776_calc-1:latest"


@dataclass(frozen=True)
class TaskImage:
    image: str  # with /run_tests.sh (R2E's own)
    foreign: str  # without it, hidden R2E-Gym tests at /r2e_tests (SWE-bench name)
    base_commit: str
    gold_patch: str
    test_patch: str

    def task(self, instance_id: str, statement: str = "add() subtracts instead of adding", **extra) -> dict:
        """A row of R2E's tasks.jsonl for this image."""
        return {"instance_id": instance_id, "repo": "calc", "base_commit": self.base_commit,
                "patch": self.gold_patch, "test_patch": self.test_patch, "problem_statement": statement,
                "FAIL_TO_PASS": json.dumps(["tests/test_add.py::test_add"]),
                "PASS_TO_PASS": json.dumps(["tests/test_mul.py::test_mul"]), "docker_image": self.image,
                "statement_kind": "offline", "version": "0.1", **extra}


# Fixed identity and dates: the same recipe gives the same base commit, so a cached image still matches.
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": os.environ.get("HOME", "/tmp")}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=repo,
                          check=True, capture_output=True, text=True, env=GIT_ENV).stdout


def _patches(tmp: Path) -> tuple[Path, str, str, str]:
    repo = tmp / "calc"
    (repo / "tests").mkdir(parents=True)
    for rel, text in {"calc.py": BUGGY, "tests/__init__.py": "", "tests/test_mul.py": VISIBLE_TEST}.items():
        (repo / rel).write_text(text)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "calc")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc.py").write_text(FIXED)
    gold = _git(repo, "diff")
    _git(repo, "checkout", "--", "calc.py")
    (repo / "tests" / "test_add.py").write_text(HIDDEN_TEST)
    _git(repo, "add", "-N", "tests/test_add.py")
    test_patch = _git(repo, "diff")
    _git(repo, "reset", "-q")
    (repo / "tests" / "test_add.py").unlink()
    return repo, base, gold, test_patch


def build_task_image(docker_client, base_image: str, tmp: Path) -> TaskImage:
    from installers.docker_env import DockerEnvironment
    from installers.eval_run import install_eval_script
    from installers.images import image_exists

    repo, base, gold, test_patch = _patches(tmp)
    digest = hashlib.sha1(json.dumps([RECIPE, base_image, BUGGY, VISIBLE_TEST, HIDDEN_TEST]).encode()).hexdigest()[:12]
    name = f"r2e-test-agent:{digest}"
    info = TaskImage(name, SWEBENCH_TAG, base, gold, test_patch)
    if image_exists(docker_client, name) and image_exists(docker_client, SWEBENCH_TAG) and \
            docker_client.images.get(SWEBENCH_TAG).labels.get("r2e.test-agent") == digest:
        return info
    env = DockerEnvironment(base_image, client=docker_client, name_hint="agent-fixture")
    try:
        for cmd in ("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                    "--no-install-recommends git >/dev/null",
                    "uv pip install --system --break-system-packages -q pytest"):
            res = env.execute(cmd, cwd="/", timeout=300)
            if not res.ok:
                pytest.fail(f"building the agent test image: {cmd}: {res.output[-500:]}")
        env.copy_to(repo, "/testbed")
        install_eval_script(env, "python3 -m pytest tests", runner="pytest", per_test_timeout=None, suite_timeout=60)
        env.commit("r2e-test-agent", digest)
        env.execute("rm -f /run_tests.sh && mkdir -p /r2e_tests", cwd="/")
        hidden = tmp / "test_add.py"
        hidden.write_text(HIDDEN_TEST)
        env.copy_to(hidden, "/r2e_tests/test_add.py")
        repository, tag = SWEBENCH_TAG.rsplit(":", 1)
        env.commit(repository, tag, changes=["WORKDIR /testbed", f"LABEL r2e.test-agent={digest}", "LABEL r2e=repo",
                                             'CMD ["bash"]'])
    finally:
        env.close()
    return info
