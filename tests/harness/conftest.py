from __future__ import annotations

import pytest

from r2e.workspace import Workspace
from tests.harness.extracted import by_qualname, extract
from tests.harness.fixtures import make_fixture_repo
from tests.installers.conftest import docker_base  # noqa: F401 - the session's small base image, for the docker tests


@pytest.fixture
def fixture_exp(tmp_path, r2e_home, cli):
    """An experiment with the fixture package set up (local copy) and its functions extracted for real.

    make(keep, exp, extra) -> (repo id, {qualname: FunctionRecord}); `extra` adds files to the package."""

    def make(keep=lambda r: True, exp: str = "x", extra: dict | None = None):
        src = make_fixture_repo(tmp_path / "src" / "fixturepkg")
        for rel, text in (extra or {}).items():
            (src / rel).write_text(text)
        result = cli("setup", "-e", exp, "-l", str(src))
        assert result.exit_code == 0, result.output
        repo = Workspace(r2e_home).repos_of(exp)[0]
        records = extract(r2e_home, exp, ["pkg/mod.py", *(extra or {})], keep)
        return repo.id, by_qualname(records)

    return make


@pytest.fixture
def docker_build(cli, docker_client, docker_base):  # noqa: F811 - docker_base is the imported fixture
    """build(exp) -> the experiment's one BuildResult, made by the real `r2e build --backend docker`."""
    from r2e.experiment import Experiment

    def build(exp: str, ws: Workspace):
        result = cli("build", "-e", exp, "--backend", "docker", "--minimal-base", "--no-llm", "--python", "3.11",
                     "--timeout-per-task", "600")
        experiment = Experiment(ws, exp)
        (repo,) = experiment.repos()
        record = experiment.build_result(repo.id, required=True)
        assert record.usable, (result.output, record.status, record.failure)
        return record

    return build
