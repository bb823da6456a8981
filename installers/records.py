"""Open the environment of record of a built repo (what later stages, e.g. genexec, run in)."""

from __future__ import annotations

from pathlib import Path

from installers.environment import Environment
from r2e.errors import R2EError
from r2e.fsio import read_json

USABLE = ("success", "partial", "no_tests")


def load_result(build_dir: Path, repo_id: str) -> dict:
    result = read_json(Path(build_dir) / repo_id / "result.json")
    if result is None:
        raise R2EError(f"repo '{repo_id}' has no build result under {build_dir} (run `r2e build` first)")
    return result


def open_environment(result: dict, *, client=None, name_hint: str | None = None) -> Environment:
    """A fresh environment from a build result: a container of its image, or its local venv.

    The caller closes it (use it as a context manager)."""
    status = result.get("status")
    repo = result.get("repo", "?")
    if status not in USABLE:
        raise R2EError(f"repo '{repo}' did not build (status {status}); nothing to run in")
    if result.get("backend") == "docker":
        image = result.get("image")
        if not image:
            raise R2EError(f"repo '{repo}' has no image in its build result; rebuild it with `r2e build --force`")
        from installers.docker_env import DockerEnvironment

        return DockerEnvironment(image, client=client, name_hint=name_hint or repo)
    from installers.local_env import LocalEnvironment

    workdir, venv = result.get("workdir"), result.get("venv")
    if not workdir or not venv or not Path(venv).is_dir():
        raise R2EError(f"repo '{repo}': its local venv {venv} is gone; rebuild it with `r2e build --force`")
    return LocalEnvironment(workdir, venv=venv)
