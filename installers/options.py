"""`BuildOptions`: how `r2e build` builds each repository (backend, limits, repairs, docker settings)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path


@dataclass
class BuildOptions:
    backend: str = "docker"  # docker | local
    python: str | None = None  # force a version
    timeout_per_task: float = 1800
    test_timeout: float = 900  # the whole test suite's budget (the eval script's)
    per_test_timeout: float | None = 300  # one test's budget, injected by R2E's reporters (None: no limit)
    min_pass_ratio: float = 0.95
    rules: bool = True  # rule-based repairs
    llm: object | None = None  # an r2e.llm.LLMConfig, or None
    notify: object | None = None  # fn(message): where the LLM breaker's once-only notice goes (default stderr)
    max_repair_steps: int = 10
    rebuild: bool = False
    base_minimal: bool = False  # docker: use the small test base image
    docker_client: object | None = None  # one client shared by every build of a batch
    wheelhouse: Path | None = None  # docker: resolve wheels on the host into this folder, install --no-index
    network: bool = True  # docker: False runs containers without any network
    commit: str | None = None  # the repo's commit, part of the image name hash

    def for_commit(self, commit: str | None) -> "BuildOptions":
        """The same options for one repo at `commit` (the shared docker client stays shared)."""
        return replace(self, commit=commit)
