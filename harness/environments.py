"""Which `Environment` runs a repo's harnesses, and the local fallback when a repo has no local build.

The environment of record comes from the repo's `BuildResult` (`open_environment`). Harness code
is generated, so a docker container runs without any network. `--backend local` on a repo without
a usable local build runs in the checkout with a workspace venv that borrows this interpreter's
packages (`checkout_with_fallback_venv`): quickstart works offline before anything was built.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from installers.environment import Environment
from installers.environment_of_record import open_environment
from installers.local_env import LocalEnvironment
from r2e.errors import R2EError
from r2e.experiment import Experiment
from r2e.workspace import RepoRecord, Workspace

BACKENDS = ("docker", "local")


def open_harness_environment(exp: Experiment, repo: RepoRecord, backend: str) -> Environment:
    """A fresh environment for `repo`'s harnesses; the caller closes it."""
    if backend not in BACKENDS:
        raise R2EError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
    result = exp.build_result(repo.id)
    if backend == "docker":
        if result is None or result.backend != "docker" or not result.usable:
            raise R2EError(f"repo '{repo.id}' has no built image (run `r2e build` first, or use --backend local)")
        return open_environment(result, network=False, name_hint=f"harness-{repo.id}")
    if result is not None and result.backend == "local" and result.usable and result.venv \
            and Path(result.venv, "bin", "python").exists():
        return open_environment(result, network=False)
    return checkout_with_fallback_venv(exp.ws, repo)


def checkout_with_fallback_venv(ws: Workspace, repo: RepoRecord) -> LocalEnvironment:
    """The repo's checkout with the workspace fallback venv: for `--backend local` without a local build."""
    return LocalEnvironment(repo.path, ensure_fallback_venv(ws, repo.id))


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


def quickstart_backend(exp: Experiment) -> str:
    """The backend quickstart's harness stages use: docker when every repo has a usable image, else local."""
    repos = exp.repos()
    results = [exp.build_result(r.id) for r in repos]
    if repos and all(b is not None and b.backend == "docker" and b.usable and b.image for b in results):
        return "docker"
    return "local"
