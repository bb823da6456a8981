"""The runner and the genexec loop inside a real container (Docker Engine, locally built base image)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness.batch
from tests.harness.container_env import LABEL, ContainerEnvironment, find_python_image
from tests.harness.test_genexec import BROKEN, GOOD, LOW

pytestmark = pytest.mark.docker


@pytest.fixture
def python_image(docker_client):
    image = find_python_image(docker_client)
    if image is None:
        pytest.skip("no local image with python3 >= 3.10 (build one with `r2e images build-base` "
                    "or set R2E_TEST_PYTHON_IMAGE)")
    return image


def test_genexec_loop_in_a_container(r2e_home, cli, fixture_exp, llm_server, docker_client, python_image,
                                     monkeypatch):
    repo_id, recs = fixture_exp(keep=lambda r: r["name"] == "classify")
    opened: list[ContainerEnvironment] = []

    def open_container(ws, exp, repo, backend):
        env = ContainerEnvironment(docker_client, python_image)  # no coverage in the image:
        opened.append(env)  # execution must bring its own (harness.execute.coverage_pythonpath)
        try:
            env.copy_to(Path(repo.path), env.workdir)
        except BaseException:
            env.close()
            raise
        return env

    monkeypatch.setattr(harness.batch, "open_environment", open_container)
    llm_server.script(BROKEN, LOW, GOOD)
    result = cli("genexec", "-e", "x", "--model", "scripted", "--base-url", llm_server.base_url, "-k", "4",
                 "--min-cov", "1.0", "--timeout-per-test", "5")
    assert result.exit_code == 0, result.output
    doc = json.loads((r2e_home / "experiments" / "x" / "genexec.json").read_text())
    (entry,) = doc["functions"].values()
    assert [h["status"] for h in entry["history"]] == ["invalid", "valid", "valid"]
    assert [h["covered_branches"] for h in entry["history"][1:]] == [1, 4]
    assert entry["done"] and entry["coverage"]["source"] == "coverage-functions"
    assert len(opened) == 1  # one container for the repo across all rounds, never one per function
    assert not docker_client.containers.list(all=True, filters={"label": f"{k}={v}" for k, v in LABEL.items()})
