"""The generate -> execute -> coverage feedback loop (`r2e genexec`).

Round r generates for the worklist and executes every sample in the repo's environment. A function
is done when its suite is valid with branch coverage >= min_cov. Valid but under-covered functions
get their source annotated with the uncovered branches; invalid ones get the trimmed errors;
functions whose execution crashed or timed out, or whose generation failed, stay in the worklist.
The loop stops when the done fraction over ALL functions reaches min_valid, or after k rounds.
Every function has a final result, whatever happened; genexec.json is rewritten after each round.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

from harness.env_pool import EnvPool, harness_pool
from harness.execute import RETRY_STATUSES, ExecOptions, execute_harness, sha256
from harness.execute_all import run_per_repo
from harness.generators import Attempt, Generated, HarnessGenerator
from installers.environment import Environment
from r2e.errors import R2EError
from r2e.experiment import Experiment, function_folder
from r2e.fsio import atomic_write_json
from r2e.llm.client import LLMAuthError
from r2e.stage_records import FunctionRecord, GenexecEntry, GenexecRun, HarnessResult, rank_of
from r2e.workspace import now_iso

KEEP_ENVS_UP_TO = 16  # repos whose environments stay open from carving through every round


@dataclass(frozen=True)
class LoopOptions:
    k: int = 3
    min_valid: float = 0.8
    min_cov: float = 0.8
    jobs: int = 1
    backend: str = "docker"
    save_chat: bool = False
    resume: bool = False  # continue from genexec.json: done functions stay done, rounds continue
    exec: ExecOptions = field(default_factory=ExecOptions)
    llm: dict | None = None  # the model's settings as recorded in genexec.json (URL redacted by the caller)


@dataclass
class FunctionState:
    record: FunctionRecord
    history: list[dict] = field(default_factory=list)
    best_test: str | None = None
    best_result: HarnessResult | None = None
    last: Attempt | None = None
    done: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class RoundStats:
    """One round's line in genexec.json's `rounds`."""

    round: int
    worklist: int
    generated: int = 0
    executed: int = 0
    valid: int = 0
    crashed_or_timeout: int = 0
    generation_failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    done: int = 0
    done_fraction: float = 0.0


def summarize(result: HarnessResult) -> dict:
    """A result's line in a function's history."""
    cov = result.coverage
    return {"status": result.status, "valid": result.valid, "counts": result.counts,
            "branch_coverage": cov.branch_coverage if cov else None,
            "line_coverage": cov.line_coverage if cov else None,
            "num_branches": cov.num_branches if cov else None,
            "covered_branches": cov.covered_branches if cov else None,
            "reasons": list(result.reasons[:5]), "duration": result.duration}


def genexec_pool(exp: Experiment, records: list[FunctionRecord], backend: str) -> EnvPool:
    """The run's environments: kept open from carving through the last round when there are few
    repos; with many, each repo's environment is closed after each step so few are alive at once."""
    keep = len({r.repo for r in records}) <= KEEP_ENVS_UP_TO
    return harness_pool(exp, backend, keep_open=keep)


def check_resumable(exp: Experiment) -> None:
    """Read what `--resume` takes over (genexec.json and the best results), so a corrupt file stops
    the run before anything is carved, generated or written."""
    previous = exp.genexec_doc()
    for fid, entry in (previous.functions if previous else {}).items():
        if entry.test:
            exp.harness_result(fid)


def run_genexec(exp: Experiment, records: list[FunctionRecord], generator: HarnessGenerator, opts: LoopOptions,
                echo: Callable[[str], None] = print, pool: EnvPool | None = None) -> GenexecRun:
    """Run the loop; returns genexec.json's record. Environments come from `pool` (the caller's,
    shared with carving) or from a pool of this run's own."""
    if pool is not None:
        return GenexecLoop(exp, records, generator, opts, pool, echo).run()
    with genexec_pool(exp, records, opts.backend) as own:
        return GenexecLoop(exp, records, generator, opts, own, echo).run()


class GenexecLoop:
    """One `r2e genexec` run: the functions' states, the rounds, and the GenexecRun record they make."""

    def __init__(self, exp: Experiment, records: list[FunctionRecord], generator: HarnessGenerator,
                 opts: LoopOptions, pool: EnvPool, echo: Callable[[str], None]):
        self.exp, self.generator, self.opts, self.pool, self.echo = exp, generator, opts, pool, echo
        self.states = {r.id: FunctionState(r) for r in records}
        self.auth_error: LLMAuthError | None = None
        self.started = now_iso()
        self.params = {"k": opts.k, "min_valid": opts.min_valid, "min_cov": opts.min_cov,
                       "backend": opts.backend, **({"llm": opts.llm} if opts.llm else {})}
        self.rounds: list[dict] = []
        if opts.resume:
            self.restore()

    # ---------------------------------------------------------------- the loop
    def run(self) -> GenexecRun:
        stop_reason = "k rounds"
        first = len(self.rounds) + 1
        for round_no in range(first, first + self.opts.k):
            worklist = [s.record for s in self.states.values() if not s.done]
            if not worklist:
                stop_reason = "all functions done"
                break
            self.run_round(round_no, worklist)
            if self.auth_error is not None:
                stop_reason = f"authentication failed: {self.auth_error}"
                break
            if self.states and self.done_count() / len(self.states) >= self.opts.min_valid:
                stop_reason = f"done fraction reached {self.opts.min_valid}"
                break
        return self.finish(stop_reason)

    def run_round(self, round_no: int, worklist: list[FunctionRecord]) -> RoundStats:
        stats = RoundStats(round_no, len(worklist))
        run_per_repo(self.pool, worklist, self.opts.jobs,
                     lambda env, record: self.attempt(env, record, round_no),
                     lambda record, value, error: self.record_outcome(record, round_no, value, error, stats),
                     release_when_done=not self.pool.keep_open)
        still = {s.record.repo for s in self.states.values() if not s.done}
        for repo_id in self.pool.open_repos() - still:  # nothing left to run there
            self.pool.release(repo_id)
        total = len(self.states)
        stats.done = self.done_count()
        stats.done_fraction = round(stats.done / total, 4) if total else 1.0
        self.rounds.append(asdict(stats))
        self.echo(f"round {round_no}: worklist {stats.worklist}, generated {stats.generated}, "
                  f"valid {stats.valid}, crashed/timeout {stats.crashed_or_timeout}, "
                  f"generation failed {stats.generation_failed}; done {stats.done}/{total} "
                  f"({100 * stats.done_fraction:.0f}%), tokens {stats.prompt_tokens}+{stats.completion_tokens}")
        self.save()
        return stats

    def attempt(self, env: Environment, record: FunctionRecord, round_no: int) -> tuple[Generated, list[HarnessResult]]:
        """Generate for one function and execute every sample (runs in a worker)."""
        try:
            generated = self.generator.generate(record, self.states[record.id].last, round_no)
        except LLMAuthError:
            raise  # no function can succeed after it: the loop stops
        except Exception as exc:  # noqa: BLE001 - whatever failed while generating is that function's
            # generation failure, with its reason; "crashed" is for executions the environment failed
            generated = Generated([], error=f"generation failed: {type(exc).__name__}: {exc}"[:1000])
        if not generated.tests and generated.rejected is not None:
            # A reply that is no Python test (prose, half a file, nothing) is an invalid test, judged without
            # spending an execution on it; like any invalid test it is kept and shown to the model next round.
            generated.tests = [generated.rejected]
            return generated, [rejected_result(record, generated.rejected, generated.error)]
        return generated, [execute_harness(env, record, test, self.opts.exec) for test in generated.tests]

    def record_outcome(self, record: FunctionRecord, round_no: int, value, error: BaseException | None,
                       stats: RoundStats) -> None:
        """Take one function's attempt into its state, history and files, and the round's stats."""
        state = self.states[record.id]
        entry: dict = {"round": round_no}
        state.history.append(entry)
        if error is not None:
            if isinstance(error, LLMAuthError):
                self.auth_error = error
                entry.update(status="generation-failed", valid=False, reasons=[str(error)])
                stats.generation_failed += 1
            else:
                entry.update(status="crashed", valid=False, reasons=[f"{type(error).__name__}: {error}"])
                stats.crashed_or_timeout += 1
            return
        generated, results = value
        self.count_tokens(state, generated, entry, stats)
        if self.opts.save_chat and generated.chat:
            atomic_write_json(self.exp.function_dir(record.id) / f"chat_round{round_no}.json", generated.chat)
        if not results:
            entry.update(status="generation-failed", valid=False, reasons=[generated.error or "no test generated"])
            stats.generation_failed += 1
            return
        stats.generated += 1
        stats.executed += sum(r.extra.get("executed", True) is not False for r in results)
        best = max(range(len(results)), key=lambda i: results[i].rank())
        result, test = results[best], generated.tests[best]
        entry.update(summarize(result), samples=len(results), sample_chosen=best)
        state.last = Attempt(test, result)
        stats.crashed_or_timeout += result.status in RETRY_STATUSES
        stats.valid += result.valid
        if result.rank() > rank_of(state.best_result):
            state.best_test, state.best_result = test, result
            self.exp.write_harness(record.id, test, result)
        if result.valid and result.branch_coverage >= self.opts.min_cov:
            state.done = True

    @staticmethod
    def count_tokens(state: FunctionState, generated: Generated, entry: dict, stats: RoundStats) -> None:
        state.prompt_tokens += generated.prompt_tokens
        state.completion_tokens += generated.completion_tokens
        stats.prompt_tokens += generated.prompt_tokens
        stats.completion_tokens += generated.completion_tokens
        entry["tokens"] = {"prompt": generated.prompt_tokens, "completion": generated.completion_tokens,
                           "cached": generated.cached}

    def done_count(self) -> int:
        return sum(s.done for s in self.states.values())

    # ---------------------------------------------------------------- the record
    def record(self, **end) -> GenexecRun:
        return GenexecRun(experiment=self.exp.name, generator=self.generator.name, started=self.started,
                          params=self.params, rounds=tuple(self.rounds),
                          functions={fid: final_entry(s) for fid, s in self.states.items()}, **end)

    def save(self) -> None:
        self.exp.write_genexec(self.record())

    def finish(self, stop_reason: str) -> GenexecRun:
        entries = [final_entry(s) for s in self.states.values()]
        summary = {"functions": len(self.states), "valid": sum(1 for f in entries if f.valid),
                   "done": sum(f.done for f in entries),
                   "prompt_tokens": sum(s.prompt_tokens for s in self.states.values()),
                   "completion_tokens": sum(s.completion_tokens for s in self.states.values()),
                   "rounds": len(self.rounds)}
        run = self.record(stop_reason=stop_reason, finished=now_iso(), summary=summary)
        self.exp.write_genexec(run)
        if self.auth_error is not None:
            raise R2EError(f"genexec stopped: {self.auth_error} (results so far in {self.exp.genexec_path})")
        return run

    def restore(self) -> None:
        """Take over a previous run's rounds and per-function state (best test and its result)."""
        previous = self.exp.genexec_doc()
        if previous is None:
            return
        self.rounds.extend(previous.rounds)
        self.started = previous.started or self.started
        for fid, entry in previous.functions.items():
            state = self.states.get(fid)
            if state is None:
                continue
            state.history = list(entry.history)
            state.prompt_tokens = entry.prompt_tokens
            state.completion_tokens = entry.completion_tokens
            result = self.exp.harness_result(fid) if entry.test else None
            if result is not None:
                state.best_test, state.best_result = entry.test, result
                state.last = Attempt(entry.test, result)
                state.done = entry.done


def rejected_result(record: FunctionRecord, code: str, reason: str | None) -> HarnessResult:
    """The result of a test that was not run because it cannot be one (not Python, empty)."""
    return HarnessResult(function=record.id, status="invalid", valid=False, test_sha256=sha256(code),
                         reasons=(reason or "the reply holds no test",), extra={"executed": False})


def final_entry(state: FunctionState) -> GenexecEntry:
    """The function's line in genexec.json: its best test and result, or why it has none."""
    result = state.best_result
    if result is None:
        last = state.history[-1] if state.history else {"status": "not-run", "reasons": ["never generated"]}
        status = last.get("status", "not-run")
    else:
        status = result.status
    cov = result.coverage if result else None
    return GenexecEntry(
        folder=function_folder(state.record.id),
        repo=state.record.repo,
        status=status,
        valid=bool(result and result.valid),
        done=state.done,
        branch_coverage=cov.branch_coverage if cov else None,
        line_coverage=cov.line_coverage if cov else None,
        coverage=cov,
        counts=result.counts if result else None,
        test=state.best_test,
        tokens={"prompt": state.prompt_tokens, "completion": state.completion_tokens},
        history=tuple(state.history),
    )
