"""`r2e execute`: run the current tests of an experiment's functions, one environment per repo."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from harness.environments import open_environment
from harness.execute import ExecOptions, execute_harness, sha256
from harness.folders import function_dir
from harness.records import FunctionRecord
from r2e.fsio import atomic_write_json, read_json
from r2e.pool import run_pool
from r2e.workspace import Workspace

TEST_FILE = "test.py"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class Outcome:
    function: str
    status: str  # valid | invalid | timeout | crashed | skipped | no-test | reused
    result: dict | None = None


def run_per_repo(ws: Workspace, exp: str, records: list[FunctionRecord], backend: str, jobs: int,
                 work: Callable, on_done: Callable[[FunctionRecord, dict | None, BaseException | None], None],
                 envs: dict | None = None):
    """Run `work(env, record)` over all records with `jobs` workers, ONE environment per repo.

    Records are taken repo by repo, so few environments are open at once; an environment is opened
    when its repo's first record starts. A repo whose environment cannot be opened fails all its
    functions as data (on_done with the error). With `envs` (repo id -> Environment) environments
    are kept there for the caller to reuse and close; without it each is closed as soon as its
    repo's last record is done.
    """
    repos = {r.id: r for r in ws.repos_of(exp)}
    ordered = sorted(records, key=lambda r: r.repo)
    remaining = Counter(r.repo for r in ordered)
    own = envs is None
    opened: dict = {} if own else envs
    failures: dict[str, BaseException] = {}
    registry_lock = threading.Lock()
    repo_locks: dict[str, threading.Lock] = {}

    def env_for(repo_id: str):
        with registry_lock:
            lock = repo_locks.setdefault(repo_id, threading.Lock())
        with lock:
            if repo_id in failures:
                raise failures[repo_id]
            if repo_id not in opened:
                try:
                    repo = repos.get(repo_id)
                    if repo is None:
                        raise RuntimeError(f"repo '{repo_id}' is not in experiment '{exp}'")
                    opened[repo_id] = open_environment(ws, exp, repo, backend)
                except Exception as exc:  # noqa: BLE001 - reported per function
                    failures[repo_id] = exc
                    raise
            return opened[repo_id]

    def item(record: FunctionRecord):
        return work(env_for(record.repo), record)

    def done(record: FunctionRecord, result, error) -> None:
        try:
            on_done(record, result, error)
        finally:
            remaining[record.repo] -= 1
            if own and remaining[record.repo] == 0 and record.repo in opened:
                opened.pop(record.repo).close()

    try:
        run_pool(item, ordered, workers=jobs, on_done=done)
    finally:
        if own:
            for env in opened.values():
                env.close()


def execute_experiment(ws: Workspace, exp: str, records: list[FunctionRecord], backend: str, jobs: int,
                       opts: ExecOptions, overwrite: bool = False,
                       report: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Execute each function's tests/<folder>/test.py; result.json next to it. Resumable."""
    outcomes: list[Outcome] = []
    todo: list[FunctionRecord] = []
    for record in records:
        folder = function_dir(ws, exp, record.id)
        test = folder / TEST_FILE
        if not test.exists():
            outcomes.append(Outcome(record.id, "no-test"))
            continue
        old = read_json(folder / RESULT_FILE)
        if not overwrite and old and old.get("test_sha256") == sha256(test.read_text()) \
                and old.get("status") not in ("timeout", "crashed"):
            outcomes.append(Outcome(record.id, "reused", old))
            continue
        todo.append(record)

    def work(env, record: FunctionRecord) -> dict:
        folder = function_dir(ws, exp, record.id)
        result = execute_harness(env, record, (folder / TEST_FILE).read_text(), opts)
        atomic_write_json(folder / RESULT_FILE, result)
        return result

    def done(record: FunctionRecord, result: dict | None, error: BaseException | None) -> None:
        if error is not None:
            result = {"function": record.id, "status": "crashed", "valid": False,
                      "reasons": [f"{type(error).__name__}: {error}"]}
        outcome = Outcome(record.id, result["status"], result)
        outcomes.append(outcome)
        if report:
            report(outcome)

    run_per_repo(ws, exp, todo, backend, jobs, work, done)
    return outcomes
