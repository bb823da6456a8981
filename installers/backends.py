"""Make the environment a build runs in (docker container from the base or repo image, or a local
venv next to the checkout), and turn a finished docker build into the repo's image of record."""

from __future__ import annotations

import shutil
from pathlib import Path

from installers.build import BuildOptions, write_dockerfile
from installers.environment import Environment
from installers.plan import InstallPlan
from r2e.errors import R2EError
from r2e.fsio import file_lock

COPY_IGNORE = {".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache"}


def default_env_factory(repo_id: str, repo_path: Path, out_dir: Path, opts: BuildOptions):
    if opts.backend == "local":
        return lambda plan: local_env(repo_path, out_dir)
    if opts.backend == "docker":
        return lambda plan: docker_env(repo_id, repo_path, plan, opts)
    raise R2EError(f"unknown backend '{opts.backend}': use docker or local")


def local_env(repo_path: Path, out_dir: Path) -> Environment:
    from installers.local_env import LocalEnvironment

    venv = out_dir / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    return LocalEnvironment(repo_path, venv=venv)


def docker_client(opts: BuildOptions):
    if opts.docker_client is None:
        import docker

        try:
            opts.docker_client = docker.from_env(timeout=300)
            opts.docker_client.ping()
        except Exception as exc:
            raise R2EError(f"Docker Engine not reachable ({type(exc).__name__}); start it or use --backend local") from None
    return opts.docker_client


def ensure_base(client, python: str, minimal: bool, lock_dir: Path | None = None, log=None) -> str:
    """The base image for `python`, built here (once, under a lock) when missing."""
    from installers.images import BaseSpec, build_base, image_exists

    spec = BaseSpec(python, minimal=minimal)
    if image_exists(client, spec.name):
        return spec.name
    import tempfile

    # One builder per machine (the engine is shared), so the lock lives in the system temp folder.
    lock = (lock_dir or Path(tempfile.gettempdir())) / f"r2e-base-{python}{'-min' if minimal else ''}.lock"
    with file_lock(lock):
        return build_base(client, spec, log=log or (lambda s: None))


def docker_env(repo_id: str, repo_path: Path, plan: InstallPlan, opts: BuildOptions) -> Environment:
    from installers.docker_env import DockerEnvironment
    from installers.images import image_exists, nearest_python, plan_hash, repo_image_name

    client = docker_client(opts)
    py = nearest_python(plan.python)
    plan.python = py
    base = ensure_base(client, py, opts.base_minimal)
    digest = plan_hash({**plan.to_dict(), "commit": opts.commit}, base)
    name = repo_image_name(repo_id, digest)
    if image_exists(client, name) and not opts.rebuild:
        env = DockerEnvironment(name, client=client, name_hint=repo_id, network=opts.network)
        env.r2e_reused_image = name
    else:
        env = DockerEnvironment(base, client=client, name_hint=repo_id, network=opts.network)
        try:
            env.copy_to(repo_path, env.workdir, exclude=COPY_IGNORE)
        except BaseException:
            env.close()
            raise
    env.r2e_image_name = name
    env.r2e_base = base
    return env


def finish_docker(env, repo_id: str, plan: InstallPlan, opts: BuildOptions, commands: list[str],
                  out_dir: Path, status: str) -> str | None:
    name = getattr(env, "r2e_image_name", None)
    base = getattr(env, "r2e_base", None)
    if base:
        write_dockerfile(out_dir / "Dockerfile", base, commands, env.workdir)
    if getattr(env, "r2e_reused_image", None):
        return name
    if not name or status in ("error",):
        return None
    from installers.oracle import junit_path

    repository, tag = name.rsplit(":", 1)
    # Caches are not part of the environment: keep repo image layers small.
    env.execute(f"uv cache clean >/dev/null 2>&1; rm -rf /root/.cache {junit_path(env)}", cwd="/", timeout=120)
    env.commit(repository, tag)
    return name
