"""`r2e execute`: run the current tests of an experiment's functions, one environment per repo."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
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
    """Group records by repo; open ONE environment per repo; run `work(env, record)` with -j threads.

    A repo whose environment cannot be opened fails all its functions as data (on_done with the error).
    With `envs` (repo id -> Environment) environments are kept there for the caller to reuse and
    close; without it each is closed when its repo is finished.
    """
    repos = {r.id: r for r in ws.repos_of(exp)}
    ordered = sorted(records, key=lambda r: r.repo)
    for repo_id, group in groupby(ordered, key=lambda r: r.repo):
        group = list(group)
        repo = repos.get(repo_id)
        try:
            if repo is None:
                raise RuntimeError(f"repo '{repo_id}' is not in experiment '{exp}'")
            env = envs.get(repo_id) if envs is not None else None
            if env is None:
                env = open_environment(ws, exp, repo, backend)
                if envs is not None:
                    envs[repo_id] = env
        except Exception as exc:  # noqa: BLE001 - reported per function
            for record in group:
                on_done(record, None, exc)
            continue
        try:
            run_pool(lambda rec: work(env, rec), group, workers=jobs, on_done=on_done)
        finally:
            if envs is None:
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
