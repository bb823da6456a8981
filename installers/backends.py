"""Make the environment a build runs in (docker container from the base or repo image, or a local
venv next to the checkout), and turn a finished docker build into the repo's image of record."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from installers.docker_env import DockerEnvironment
from installers.environment import Environment
from installers.images import BaseSpec, build_base, image_exists, nearest_python, plan_hash, repo_image_name
from installers.local_env import LocalEnvironment
from installers.options import BuildOptions
from installers.oracle import junit_path
from installers.plan import InstallPlan
from r2e.errors import R2EError
from r2e.experiment import BuildFiles
from r2e.fsio import atomic_write_text, file_lock

COPY_IGNORE = frozenset({".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache"})


@dataclass(frozen=True)
class ImagePlan:
    """The repo image a docker build aims at: its name (a hash of the plan), the base it grows from,
    and whether that image already exists and is reused instead of installing again."""

    image: str
    base: str
    reused: bool = False


# An environment for an install plan, with the image plan when the backend makes images.
EnvFactory = Callable[[InstallPlan], tuple[Environment, ImagePlan | None]]


def default_env_factory(repo_id: str, repo_path: Path, files: BuildFiles, opts: BuildOptions) -> EnvFactory:
    if opts.backend == "local":
        return lambda plan: (local_env(repo_path, files.venv), None)
    if opts.backend == "docker":
        return lambda plan: docker_env(repo_id, repo_path, plan, opts)
    raise R2EError(f"unknown backend '{opts.backend}': use docker or local")


def local_env(repo_path: Path, venv: Path) -> Environment:
    shutil.rmtree(venv, ignore_errors=True)
    return LocalEnvironment.from_checkout(repo_path, venv.parent, venv=venv)  # never the shared checkout


def docker_client(opts: BuildOptions):
    if opts.docker_client is None:
        import docker  # the SDK is needed only when docker is used

        try:
            opts.docker_client = docker.from_env(timeout=300)
            opts.docker_client.ping()
        except Exception as exc:
            raise R2EError(f"Docker Engine not reachable ({type(exc).__name__}); start it or use --backend local") from None
    return opts.docker_client


def ensure_base(client, python: str, minimal: bool, lock_dir: Path | None = None, log=None) -> str:
    """The base image for `python`, built here (once, under a lock) when missing."""
    spec = BaseSpec(python, minimal=minimal)
    if image_exists(client, spec.name):
        return spec.name
    # One builder per machine (the engine is shared), so the lock lives in the system temp folder.
    lock = (lock_dir or Path(tempfile.gettempdir())) / f"r2e-base-{python}{'-min' if minimal else ''}.lock"
    with file_lock(lock):
        return build_base(client, spec, log=log or (lambda s: None))


def docker_env(repo_id: str, repo_path: Path, plan: InstallPlan, opts: BuildOptions) -> tuple[Environment, ImagePlan]:
    """A container for the plan: from the repo's image when one with this plan exists (and no
    --rebuild), else from the base image with the checkout copied in."""
    client = docker_client(opts)
    plan.python = nearest_python(plan.python)
    base = ensure_base(client, plan.python, opts.base_minimal)
    name = repo_image_name(repo_id, plan_hash({**plan.to_dict(), "commit": opts.commit}, base))
    if image_exists(client, name) and not opts.rebuild:
        env = DockerEnvironment(name, client=client, name_hint=repo_id, network=opts.network)
        return env, ImagePlan(name, base, reused=True)
    env = DockerEnvironment(base, client=client, name_hint=repo_id, network=opts.network)
    try:
        env.copy_to(repo_path, env.workdir, exclude=COPY_IGNORE)
    except BaseException:
        env.close()
        raise
    return env, ImagePlan(name, base)


def write_dockerfile(path: Path, base: str, commands: list[str], workdir: str) -> None:
    lines = ["# Reproduces this repo's image from the base image (built by `r2e images build-base`).",
             f"FROM {base}", f"COPY . {workdir}", f"WORKDIR {workdir}"]
    lines += [f"RUN {c}" for c in commands]
    lines += [f"ENV VIRTUAL_ENV={workdir}/.venv PATH={workdir}/.venv/bin:$PATH"]
    atomic_write_text(path, "\n".join(lines) + "\n")


def finish_docker(env: Environment, image: ImagePlan, commands: list[str], dockerfile: Path,
                  status: str) -> str | None:
    """Write the Dockerfile and commit the container as the repo's image; return the image name
    (None when the build errored and left nothing worth keeping)."""
    write_dockerfile(dockerfile, image.base, commands, env.workdir)
    if image.reused:
        return image.image
    if status == "error":
        return None
    repository, tag = image.image.rsplit(":", 1)
    # Caches are not part of the environment: keep repo image layers small.
    env.execute(f"uv cache clean >/dev/null 2>&1; rm -rf /root/.cache {junit_path(env)}", cwd="/", timeout=120)
    env.commit(repository, tag)
    return image.image
