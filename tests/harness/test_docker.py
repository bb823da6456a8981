"""The genexec loop in the real docker backend: the repo's image built by `r2e build`, its
container opened through the environment of record."""

from __future__ import annotations

import json

import pytest

import harness.env_pool
from r2e.workspace import Workspace
from tests.harness.test_genexec import BROKEN, GOOD, LOW

pytestmark = pytest.mark.docker


def test_genexec_loop_in_a_container(r2e_home, cli, fixture_exp, llm_server, docker_client, docker_build,
                                     monkeypatch):
    repo_id, recs = fixture_exp(keep=lambda r: r.name == "classify")
    build = docker_build("x", Workspace(r2e_home))
    assert build.backend == "docker" and build.image
    opened = []
    real_open = harness.env_pool.open_harness_environment

    def tracking_open(exp, repo, backend):
        env = real_open(exp, repo, backend)
        opened.append((env, env.container.id))
        return env

    monkeypatch.setattr(harness.env_pool, "open_harness_environment", tracking_open)
    llm_server.script(BROKEN, LOW, GOOD)
    result = cli("genexec", "-e", "x", "--model", "scripted", "--base-url", llm_server.base_url, "-k", "4",
                 "--min-cov", "1.0", "--timeout-per-test", "5")
    assert result.exit_code == 0, result.output
    doc = json.loads((r2e_home / "experiments" / "x" / "genexec.json").read_text())
    assert doc["params"]["backend"] == "docker"
    (entry,) = doc["functions"].values()
    assert [h["status"] for h in entry["history"]] == ["invalid", "valid", "valid"]
    assert [h["covered_branches"] for h in entry["history"][1:]] == [1, 4]
    assert entry["done"] and entry["coverage"]["source"] == "coverage-functions"
    # one container of the repo's image for carving and all rounds, never one per step or function
    ((env, container_id),) = opened
    assert env.image == build.image
    assert not docker_client.containers.list(all=True, filters={"id": container_id})  # closed at the end
