"""`r2e execute`: run the current test of each of an experiment's functions, one environment per repo."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable

from harness.env_pool import EnvPool, harness_pool
from harness.execute import RETRY_STATUSES, ExecOptions, crashed_result, execute_harness, sha256
from installers.environment import Environment
from r2e.experiment import Experiment, StageFileError
from r2e.pool import run_pool
from r2e.stage_records import FunctionRecord, HarnessResult

@dataclass(frozen=True)
class Outcome:
    function: str
    status: str  # valid | invalid | timeout | crashed | no-test | reused
    result: HarnessResult | None = None


def run_per_repo(pool: EnvPool, records: list[FunctionRecord], jobs: int,
                 work: Callable[[Environment, FunctionRecord], object],
                 on_done: Callable[[FunctionRecord, object, BaseException | None], None],
                 release_when_done: bool = True) -> None:
    """Run `work(env, record)` over all records with `jobs` workers, the environments from `pool`.

    Records are taken repo by repo, so few environments are open at once. A repo whose environment
    cannot be opened fails all its functions as data (on_done with the error). With
    `release_when_done` a repo's environment is closed as soon as its last record is done.
    """
    ordered = sorted(records, key=lambda r: r.repo)
    remaining = Counter(r.repo for r in ordered)

    def item(record: FunctionRecord):
        return work(pool.get(record.repo), record)

    def done(record: FunctionRecord, value, error) -> None:
        try:
            on_done(record, value, error)
        finally:
            remaining[record.repo] -= 1
            if release_when_done and remaining[record.repo] == 0:
                pool.release(record.repo)

    run_pool(item, ordered, workers=jobs, on_done=done)


def previous_result(exp: Experiment, record: FunctionRecord) -> HarnessResult | None:
    """The saved result of the function's test; an unreadable one is simply run again."""
    try:
        return exp.harness_result(record.id)
    except StageFileError:
        return None


def execute_experiment(exp: Experiment, records: list[FunctionRecord], backend: str, jobs: int,
                       opts: ExecOptions, overwrite: bool = False,
                       report: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Execute each function's tests/<folder>/test.py; its result.json next to it. Resumable."""
    outcomes: list[Outcome] = []
    todo: list[FunctionRecord] = []
    for record in records:
        test = exp.harness_test_path(record.id)
        if not test.exists():
            outcomes.append(Outcome(record.id, "no-test"))
            continue
        old = None if overwrite else previous_result(exp, record)
        if old is not None and old.test_sha256 == sha256(test.read_text()) and old.status not in RETRY_STATUSES:
            outcomes.append(Outcome(record.id, "reused", old))
            continue
        todo.append(record)

    def work(env: Environment, record: FunctionRecord) -> HarnessResult:
        result = execute_harness(env, record, exp.harness_test_path(record.id).read_text(), opts)
        exp.write_harness(record.id, None, result)
        return result

    def done(record: FunctionRecord, result: HarnessResult | None, error: BaseException | None) -> None:
        if error is not None:
            result = crashed_result(record, error)
        outcome = Outcome(record.id, result.status, result)
        outcomes.append(outcome)
        if report:
            report(outcome)

    with harness_pool(exp, backend) as pool:
        run_per_repo(pool, todo, jobs, work, done)
    return outcomes
