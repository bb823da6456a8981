"""The factory point: which `Environment` runs a repo's harnesses.

`r2e build` (issue 6) writes experiments/EXP/build/<repo_id>/result.json with `status`, `image`,
`python` (and `venv` for the local backend). Execution only needs an `Environment` instance, so
wiring the docker backend is one function here (`_docker_environment`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from installers.environment import Environment
from installers.local_env import LocalEnvironment
from r2e.errors import R2EError
from r2e.fsio import read_json
from r2e.workspace import RepoRecord, Workspace

BACKENDS = ("docker", "local")


def build_result(ws: Workspace, exp: str, repo_id: str) -> dict | None:
    return read_json(ws.experiment_dir(exp) / "build" / repo_id / "result.json")


def quickstart_backend(ws: Workspace, exp: str) -> str:
    """The backend quickstart uses: docker when every repo has a built image, else local.

    The single switch the lead flips once issue 6's docker build is part of quickstart.
    """
    repos = ws.repos_of(exp)
    built = [build_result(ws, exp, r.id) or {} for r in repos]
    if repos and all(b.get("status") == "success" and b.get("image") for b in built) and _docker_available():
        return "docker"
    return "local"


def open_environment(ws: Workspace, exp: str, repo: RepoRecord, backend: str) -> Environment:
    if backend not in BACKENDS:
        raise R2EError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
    result = build_result(ws, exp, repo.id) or {}
    if backend == "docker":
        return _docker_environment(result, repo)
    venv = result.get("venv")
    if venv and Path(venv, "bin", "python").exists():
        return LocalEnvironment(repo.path, venv)
    return LocalEnvironment(repo.path, ensure_fallback_venv(ws, repo.id))


def _docker_environment(result: dict, repo: RepoRecord) -> Environment:
    image = result.get("image")
    if not image or result.get("status") not in (None, "success"):
        raise R2EError(f"repo '{repo.id}' has no built image (run `r2e build` first, or use --backend local)")
    try:
        from installers.docker_env import DockerEnvironment  # issue 6
    except ImportError:
        raise R2EError("the docker backend is not available in this installation; use --backend local") from None
    # generated tests run without network; the build's workdir and venv hold the repo
    return DockerEnvironment(image, workdir=result.get("workdir") or "/testbed", network=False,
                             name_hint=f"harness-{repo.id}")


def _docker_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("installers.docker_env") is not None


def ensure_fallback_venv(ws: Workspace, repo_id: str) -> Path:
    """A workspace venv for repos without a local build: this interpreter's packages, offline.

    Made with `--system-site-packages` so the runner finds coverage without any download; the repo
    itself is imported from its checkout by path.
    """
    venv = ws.cache_dir("venvs") / repo_id
    if (venv / "bin" / "python").exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv")
    cmd = ([uv, "venv", "--quiet", "--system-site-packages", "--python", sys.executable, str(venv)] if uv
           else [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not (venv / "bin" / "python").exists():
        raise R2EError(f"could not create a venv at {venv}: {(proc.stderr or proc.stdout).strip()[:300]}")
    return venv
