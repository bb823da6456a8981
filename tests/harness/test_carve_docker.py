"""Carving inside a real container: the repo's suite runs there (pytest brought in when the image
lacks it), the replay check runs there, and the carved harness is executed there by the runner."""

from __future__ import annotations


import pytest

from harness.carve.carving import CarveOptions, carve_repo
from harness.carve.writer import write_harness
from harness.execute import ExecOptions, execute_harness
from harness.records import FunctionRecord
from tests.harness.carve_fixture import make_carve_repo
from tests.harness.container_env import LABEL, ContainerEnvironment, find_python_image
from tests.harness.extracted import records_for

pytestmark = pytest.mark.docker


def test_carving_in_a_container(tmp_path, docker_client):
    image = find_python_image(docker_client)
    if image is None:
        pytest.skip("no local image with python3 >= 3.10 (set R2E_TEST_PYTHON_IMAGE)")
    repo = make_carve_repo(tmp_path / "repo")
    records = {r["name"]: FunctionRecord.from_dict(r) for r in records_for("fx", repo, "pkg/mod.py")}
    env = ContainerEnvironment(docker_client, image)
    try:
        env.copy_to(repo, env.workdir)
        report, kept = carve_repo(env, list(records.values()), CarveOptions(max_samples=10))
        assert report["status"] == "ok", report
        assert report["suite"]["counts"]["passed"] == 10
        noisy = report["functions"][records["noisy"].id]
        assert noisy["status"] == "nondeterministic" and noisy["kept"] == 0
        record = records["add"]  # Counter.add: a method with state
        result = execute_harness(env, record, write_harness(record, kept[record.id]),
                                 ExecOptions(per_test_timeout=10, run_timeout=60))
        assert result["status"] == "valid", result.get("reasons") or result.get("output")
        assert result["counts"]["run"] == report["functions"][record.id]["kept"] == 10
    finally:
        env.close()
    assert not docker_client.containers.list(all=True, filters={"label": f"{k}={v}" for k, v in LABEL.items()})
