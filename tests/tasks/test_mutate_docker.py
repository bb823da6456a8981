"""The validation path in a real container: the bug goes into /testbed and comes out again."""

from __future__ import annotations

import json

import pytest

from installers.docker_env import DockerEnvironment
from tests.installers.conftest import docker_base  # noqa: F401  (the session's small base image)
from tests.tasks.conftest import build

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_mutation_tasks_in_docker(docker_client, docker_base, tmp_path):  # noqa: F811
    built = build(tmp_path, "docker")
    image = json.loads((built.exp_dir / "build" / "local__calc" / "result.json").read_text())["image"]
    try:
        result = built.cli("tasks", "mutate", "-e", "x", "--strategies", "swap_operator", "--runs", "1")
        assert result.exit_code == 0, result.output
        tasks = {t["function_id"].rsplit("::", 1)[1]: t for t in built.tasks()}
        assert json.loads(tasks["add"]["FAIL_TO_PASS"]) == ["tests/test_ops.py::test_add"]
        assert json.loads(tasks["is_adult"]["FAIL_TO_PASS"]) == ["tests/test_ops.py::test_adult",
                                                                 "tests/test_ops.py::test_child"]
        assert tasks["add"]["docker_image"] == tasks["add"]["image_name"] == image
        script = tasks["add"]["eval_script"]
        assert script.startswith("#!/usr/bin/env bash") and "/testbed" in script
        assert not docker_client.containers.list(all=True, filters={"name": "r2e-tasks-local__calc"})
        # the image itself was never changed: a fresh container has the clean file
        with DockerEnvironment(image, client=docker_client, name_hint="tasks-check") as env:
            out = env.execute("cat calc/ops.py; git status --porcelain --untracked-files=no").output
        assert "return a + b" in out and "return age >= 18" in out and " M " not in out
    finally:
        for img in docker_client.images.list(name="r2e-repo-local__calc"):
            docker_client.images.remove(img.id, force=True)
