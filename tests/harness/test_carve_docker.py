"""Carving inside a real container of the repo's built image: the repo's suite runs there, the
replay check runs there, and the carved harness is executed there by the runner."""

from __future__ import annotations

import pytest

from harness.carve.carving import CarveOptions, carve_repo
from harness.carve.writer import write_harness
from harness.execute import ExecOptions, execute_harness
from installers.environment_of_record import open_environment
from r2e.workspace import Workspace
from tests.harness.carve_fixture import make_carve_repo
from tests.harness.extracted import by_qualname, setup_and_extract

pytestmark = pytest.mark.docker


def test_carving_in_a_container(tmp_path, r2e_home, docker_client, docker_build):
    repo = make_carve_repo(tmp_path / "repo")
    records = by_qualname(setup_and_extract(r2e_home, "x", repo, ["pkg/mod.py"]))
    build = docker_build("x", Workspace(r2e_home))
    env = open_environment(build, network=False, name_hint="carve-test")
    container_id = env.container.id
    try:
        report, kept = carve_repo(env, list(records.values()), CarveOptions(max_samples=10))
        assert report["status"] == "ok", report
        assert report["suite"]["counts"]["passed"] == 10
        noisy = report["functions"][records["noisy"].id]
        assert noisy["status"] == "nondeterministic" and noisy["kept"] == 0
        record = records["Counter.add"]  # a method with state
        result = execute_harness(env, record, write_harness(record, kept[record.id]),
                                 ExecOptions(per_test_timeout=10, run_timeout=60))
        assert result.status == "valid", result.reasons or result.output
        assert result.counts["run"] == report["functions"][record.id]["kept"] == 10
    finally:
        env.close()
    assert not docker_client.containers.list(all=True, filters={"id": container_id})
