"""Where an instance's agent and its grader run: a fresh container of the instance's image per use
(docker), or a fresh copy of a local checkout (local). Every container carries the run's label, so
one Ctrl-C removes them all, whichever thread made them.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from pathlib import Path

from harness.agents.dataset import AgentInstance
from installers.environment import Environment
from r2e.errors import R2EUsageError

RUN_LABEL = "r2e.run"  # value: the run id; `remove_run_containers` finds a run's containers by it


class RunInterrupted(RuntimeError):
    """The run is being stopped (Ctrl-C): no new environment is opened."""


class EnvFactory:
    def __init__(self, backend: str = "docker", run_id: str | None = None, client=None, network: bool = True):
        if backend not in ("docker", "local"):
            raise R2EUsageError(f"unknown backend '{backend}': choose docker or local")
        self.backend = backend
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.network = network
        self.stopping = threading.Event()
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                import docker

                try:
                    self._client = docker.from_env(timeout=300)
                    self._client.ping()
                except Exception as exc:
                    raise R2EUsageError(f"Docker is not reachable ({type(exc).__name__}: {exc}); "
                                        "start it or use --backend local") from None
            return self._client

    def __call__(self, inst: AgentInstance, purpose: str) -> Environment:
        if self.stopping.is_set():
            raise RunInterrupted("the run is stopping")
        if self.backend == "local":
            return _local_copy(inst)
        from installers.docker_env import DockerEnvironment

        env = DockerEnvironment(inst.docker_image, client=self.client, workdir=inst.workdir,
                                name_hint=f"{purpose}-{inst.instance_id}", network=self.network,
                                labels={RUN_LABEL: self.run_id})
        if self.stopping.is_set():  # Ctrl-C came while the container was starting
            env.close()
            raise RunInterrupted("the run is stopping")
        return env

    def remove_all(self) -> int:
        """Remove every container of this run (all threads, whatever state they are in)."""
        if self.backend != "docker" or self._client is None:
            return 0
        from installers.docker_env import close_all

        close_all()
        removed = 0
        # The low-level API: the high-level list() looks each container up again and fails on one
        # that is being removed meanwhile.
        api = self._client.api
        for _ in range(3):  # a container created while we list is caught by the next pass
            try:
                found = api.containers(all=True, filters={"label": f"{RUN_LABEL}={self.run_id}"})
            except Exception:
                found = []
            if not found:
                break
            for c in found:
                try:
                    api.remove_container(c["Id"], force=True)
                    removed += 1
                except Exception:
                    continue
        return removed


def _local_copy(inst: AgentInstance) -> Environment:
    from installers.local_env import LocalEnvironment

    src = inst.source.get("repo_path") or inst.source.get("local_path")
    if not src or not Path(src, ".git").exists():
        raise R2EUsageError(f"instance {inst.instance_id}: --backend local needs a `repo_path` field naming a "
                            "git checkout on this machine")
    tmp = Path(tempfile.mkdtemp(prefix="r2e-agent-"))
    dest = tmp / "repo"
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    venv = inst.source.get("venv") or str(Path(src) / ".venv")

    class LocalCopy(LocalEnvironment):
        def close(self) -> None:  # the copy is throwaway: closing removes it
            shutil.rmtree(tmp, ignore_errors=True)

    return LocalCopy(dest, venv=venv)
