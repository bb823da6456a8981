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
from installers.eval_run import EvalScript
from installers.eval_script import EVAL_SCRIPT_PATH, REPORT_PATH, SANDBOX_DIR, git_exclude_command, sandbox_source
from installers.images import BaseSpec, build_base, image_exists, nearest_python, plan_hash, repo_image_name
from installers.local_env import LocalEnvironment
from installers.options import BuildOptions
from installers.plan import InstallPlan
from r2e.errors import R2EError
from r2e.experiment import BuildFiles
from r2e.fsio import atomic_write_text, file_lock

COPY_IGNORE = frozenset({".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache"})
EVAL_CONTEXT = ".r2e"  # where the Dockerfile's context holds run_tests.sh and the reporters (git-excluded)


@dataclass(frozen=True)
class ImagePlan:
    """The repo image a docker build aims at: its name (a hash of the plan), the base it grows from,
    and whether that image already exists and is reused instead of installing again."""

    image: str
    base: str
    reused: bool = False


# An environment for an install plan, with the image plan when the backend makes images.
EnvFactory = Callable[[InstallPlan], tuple[Environment, ImagePlan | None]]


def default_env_factory(repo_id: str, repo_path: Path, files: BuildFiles, opts: BuildOptions,
                        eval_key: str = "") -> EnvFactory:
    """`eval_key` names what the image's eval script is made from: part of the image name, so an image
    is reused only with the same test command, budgets and reporters."""
    if opts.backend == "local":
        return lambda plan: (local_env(repo_path, files.venv), None)
    if opts.backend == "docker":
        return lambda plan: docker_env(repo_id, repo_path, plan, opts, eval_key)
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


def docker_env(repo_id: str, repo_path: Path, plan: InstallPlan, opts: BuildOptions,
               eval_key: str = "") -> tuple[Environment, ImagePlan]:
    """A container for the plan: from the repo's image when one with this plan exists (and no
    --rebuild), else from the base image with the checkout copied in."""
    client = docker_client(opts)
    plan.python = nearest_python(plan.python)
    base = ensure_base(client, plan.python, opts.base_minimal)
    name = repo_image_name(repo_id, plan_hash({**plan.to_dict(), "commit": opts.commit, "eval": eval_key}, base))
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


def write_dockerfile(path: Path, base: str, commands: list[str], workdir: str, with_eval: bool = False,
                     excludes: tuple[str, ...] = ()) -> None:
    """The Dockerfile of record. Its context is the repo checkout; with the eval script, this build
    folder's run_tests.sh and sandbox/ go into the context's .r2e/ first."""
    lines = ["# Reproduces this repo's image from the base image (built by `r2e images build-base`).",
             "# Context: the repo checkout" + (f", with run_tests.sh and sandbox/ of this folder copied into its"
                                               f" {EVAL_CONTEXT}/:" if with_eval else ".")]
    if with_eval:
        lines += [f"#   mkdir -p REPO/{EVAL_CONTEXT} && cp -r run_tests.sh sandbox REPO/{EVAL_CONTEXT}/"
                  " && docker build -f Dockerfile REPO",
                  f"FROM {base}",
                  f"COPY {EVAL_CONTEXT}/sandbox/ {SANDBOX_DIR}/",
                  f"COPY {EVAL_CONTEXT}/run_tests.sh {EVAL_SCRIPT_PATH}",
                  f"COPY . {workdir}", f"WORKDIR {workdir}",
                  f"RUN rm -rf {workdir}/{EVAL_CONTEXT} && chmod +x {EVAL_SCRIPT_PATH} && "
                  + git_exclude_command(workdir, f"{workdir}/.venv", excludes)]
    else:
        lines += [f"FROM {base}", f"COPY . {workdir}", f"WORKDIR {workdir}"]
    lines += [f"RUN {c}" for c in commands]
    lines += [f"ENV VIRTUAL_ENV={workdir}/.venv PATH={workdir}/.venv/bin:$PATH"]
    atomic_write_text(path, "\n".join(lines) + "\n")


def save_reporters(folder: Path) -> None:
    """The reporters the Dockerfile copies to SANDBOX_DIR, beside it in the build folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for source in sorted(sandbox_source().glob("r2e_*.py")):
        shutil.copy2(source, folder / source.name)


def finish_docker(env: Environment, image: ImagePlan, commands: list[str], files: BuildFiles,
                  status: str, eval_script: EvalScript | None = None) -> str | None:
    """Write the Dockerfile and commit the container as the repo's image; return the image name
    (None when the build errored and left nothing worth keeping)."""
    write_dockerfile(files.dockerfile, image.base, commands, env.workdir, with_eval=eval_script is not None,
                     excludes=eval_script.excludes if eval_script is not None else ())
    if eval_script is not None:
        save_reporters(files.sandbox)
    if image.reused:
        return image.image
    if status == "error":
        return None
    repository, tag = image.image.rsplit(":", 1)
    # Caches and the last test report are not part of the environment: keep repo image layers small.
    env.execute(f"uv cache clean >/dev/null 2>&1; rm -rf /root/.cache {REPORT_PATH}", cwd="/", timeout=120)
    env.commit(repository, tag)
    return image.image
