"""`EnvPool`: the repos' environments of one run, each opened once and shared by every step.

A stage that needs a repo's environment for several steps (carve its test suite, then execute
harnesses over several rounds) takes them from one pool: an environment is opened on first use,
kept until the caller releases it or closes the pool. A repo whose environment cannot be opened
keeps its error: every later request for it raises the same error, without trying again.

`keep_open` is the pool's policy for callers between steps: True keeps a repo's environment from
one step to the next (few repos); False asks each step to release a repo's environment when it is
done with it, so that few are alive at once (many repos), at the price of opening them again.
"""

from __future__ import annotations

import threading
from typing import Callable

from harness.environments import open_harness_environment
from installers.environment import Environment
from r2e.errors import R2EError
from r2e.experiment import Experiment


class EnvPool:
    def __init__(self, opener: Callable[[str], Environment], keep_open: bool = False):
        self._opener, self.keep_open = opener, keep_open
        self._open: dict[str, Environment] = {}
        self._failed: dict[str, BaseException] = {}
        self._lock = threading.Lock()
        self._repo_locks: dict[str, threading.Lock] = {}
        self.opened: list[str] = []  # repo ids in the order their environments were opened

    def get(self, repo_id: str) -> Environment:
        """The repo's environment, opened now if it is not open; raises the opening error."""
        with self._lock:
            repo_lock = self._repo_locks.setdefault(repo_id, threading.Lock())
        with repo_lock:  # one opening per repo, while other repos open in parallel
            if repo_id in self._failed:
                raise self._failed[repo_id]
            env = self._open.get(repo_id)
            if env is None:
                try:
                    env = self._opener(repo_id)
                except Exception as exc:  # noqa: BLE001 - kept and raised to every caller for this repo
                    self._failed[repo_id] = exc
                    raise
                with self._lock:
                    self._open[repo_id] = env
                    self.opened.append(repo_id)
            return env

    def open_repos(self) -> set[str]:
        with self._lock:
            return set(self._open)

    def release(self, repo_id: str) -> None:
        """Close the repo's environment now (it is opened again if asked for later)."""
        with self._lock:
            env = self._open.pop(repo_id, None)
        if env is not None:
            env.close()

    def close(self) -> None:
        with self._lock:
            envs, self._open = list(self._open.values()), {}
        for env in envs:
            env.close()

    def __enter__(self) -> "EnvPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def harness_pool(exp: Experiment, backend: str, keep_open: bool = False) -> EnvPool:
    """A pool of `exp`'s repos' harness environments on `backend`."""
    repos = {r.id: r for r in exp.repos()}

    def opener(repo_id: str) -> Environment:
        repo = repos.get(repo_id)
        if repo is None:
            raise R2EError(f"repo '{repo_id}' is not in experiment '{exp.name}'")
        return open_harness_environment(exp, repo, backend)

    return EnvPool(opener, keep_open=keep_open)
