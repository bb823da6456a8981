"""Open a built repository's environment of record: what every later stage runs in.

One rule for every stage: a build whose status is usable (`USABLE_STATUSES`) has an environment; a
docker build opens a fresh container of its image, a local build its venv beside the checkout.
"""

from __future__ import annotations

from pathlib import Path

from installers.docker_env import DockerEnvironment
from installers.environment import Environment
from installers.local_env import LocalEnvironment
from r2e.errors import R2EError
from r2e.stage_records import BuildResult


def open_environment(result: BuildResult, *, network: bool = True, name_hint: str | None = None,
                     client=None) -> Environment:
    """A fresh environment from a build result. The caller closes it (use it as a context manager).

    `network=False` runs a docker container without any network (generated code, agents' tests)."""
    if not result.usable:
        raise R2EError(f"repo '{result.repo}' did not build (status {result.status}); nothing to run in")
    if result.backend == "docker":
        if not result.image:
            raise R2EError(f"repo '{result.repo}' has no image in its build result; rebuild it with `r2e build --force`")
        return DockerEnvironment(result.image, client=client, workdir=result.workdir or "/testbed",
                                 network=network, name_hint=name_hint or result.repo)
    if not result.workdir or not result.venv or not Path(result.venv).is_dir():
        raise R2EError(f"repo '{result.repo}': its local venv {result.venv} is gone; rebuild it with `r2e build --force`")
    return LocalEnvironment(result.workdir, venv=result.venv, network=network)
