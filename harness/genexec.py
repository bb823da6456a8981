"""The generate -> execute -> coverage feedback loop (`r2e genexec`).

Round r generates for the worklist and executes every sample in the repo's environment. A function
is done when its suite is valid with branch coverage >= min_cov. Valid but under-covered functions
get their source annotated with the uncovered branches; invalid ones get the trimmed errors;
functions whose execution crashed or timed out, or whose generation failed, stay in the worklist.
The loop stops when the done fraction over ALL functions reaches min_valid, or after k rounds.
Every function has a final result, whatever happened; genexec.json is rewritten after each round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from harness.batch import RESULT_FILE, TEST_FILE, run_per_repo
from harness.execute import ExecOptions, execute_harness
from harness.folders import function_dir, function_folder
from harness.generators import Attempt, Generated
from harness.records import FunctionRecord
from r2e.fsio import atomic_write_json, atomic_write_text, read_json
from r2e.workspace import Workspace, now_iso

GENEXEC_FILE = "genexec.json"
KEEP_ENVS_UP_TO = 16  # repos whose environments stay open across rounds


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


@dataclass
class FunctionState:
    record: FunctionRecord
    history: list[dict] = field(default_factory=list)
    best_test: str | None = None
    best_result: dict | None = None
    last: Attempt | None = None
    done: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


def branch_cov(result: dict | None) -> float:
    cov = (result or {}).get("coverage") or {}
    value = cov.get("branch_coverage")
    return float(value) if value is not None else 0.0


def rank(result: dict | None) -> tuple:
    """Better results sort higher: valid first, then branch coverage, then line coverage."""
    if not result:
        return (False, -1.0, -1.0)
    cov = result.get("coverage") or {}
    return (bool(result.get("valid")), branch_cov(result), float(cov.get("line_coverage") or 0.0))


def summarize(result: dict) -> dict:
    cov = result.get("coverage") or {}
    return {"status": result.get("status"), "valid": bool(result.get("valid")), "counts": result.get("counts"),
            "branch_coverage": cov.get("branch_coverage"), "line_coverage": cov.get("line_coverage"),
            "num_branches": cov.get("num_branches"), "covered_branches": cov.get("covered_branches"),
            "reasons": (result.get("reasons") or [])[:5], "duration": result.get("duration")}


def run_genexec(ws: Workspace, exp: str, records: list[FunctionRecord], generator, opts: LoopOptions,
                echo: Callable[[str], None] = print) -> dict:
    states = {r.id: FunctionState(r) for r in records}
    rounds: list[dict] = []
    doc = {"experiment": exp, "generator": getattr(generator, "name", type(generator).__name__),
           "started": now_iso(), "params": {"k": opts.k, "min_valid": opts.min_valid, "min_cov": opts.min_cov,
                                            "backend": opts.backend}, "rounds": rounds, "functions": {}}
    if opts.resume:
        _restore(ws, exp, states, doc)
    # One environment per repo for the whole loop, closed when the repo has nothing left to run.
    # With many repos, environments are opened per round instead, so few are alive at once.
    envs: dict | None = {} if len({r.repo for r in records}) <= KEEP_ENVS_UP_TO else None
    try:
        return _loop(ws, exp, records, generator, opts, echo, states, doc, envs)
    finally:
        for env in (envs or {}).values():
            env.close()


def _loop(ws, exp, records, generator, opts: LoopOptions, echo, states: dict, doc: dict, envs: dict | None) -> dict:
    total = len(records)
    rounds = doc["rounds"]
    auth_error: BaseException | None = None
    stop_reason = "k rounds"
    first = len(rounds) + 1
    for round_no in range(first, first + opts.k):
        worklist = [s.record for s in states.values() if not s.done]
        if not worklist:
            stop_reason = "all functions done"
            break
        stats = {"round": round_no, "worklist": len(worklist), "generated": 0, "executed": 0, "valid": 0,
                 "crashed_or_timeout": 0, "generation_failed": 0, "prompt_tokens": 0, "completion_tokens": 0}

        def work(env, record: FunctionRecord, round_no=round_no):
            state = states[record.id]
            generated: Generated = generator.generate(record, state.last, round_no)
            results = [execute_harness(env, record, test, opts.exec) for test in generated.tests]
            return generated, results

        def done(record: FunctionRecord, value, error: BaseException | None, round_no=round_no, stats=stats):
            nonlocal auth_error
            state = states[record.id]
            entry: dict = {"round": round_no}
            if error is not None:
                if type(error).__name__ == "LLMAuthError":
                    auth_error = error
                    entry.update(status="generation-failed", valid=False, reasons=[str(error)])
                    stats["generation_failed"] += 1
                else:
                    entry.update(status="crashed", valid=False, reasons=[f"{type(error).__name__}: {error}"])
                    stats["crashed_or_timeout"] += 1
                state.history.append(entry)
                return
            generated, results = value
            state.prompt_tokens += generated.prompt_tokens
            state.completion_tokens += generated.completion_tokens
            stats["prompt_tokens"] += generated.prompt_tokens
            stats["completion_tokens"] += generated.completion_tokens
            entry["tokens"] = {"prompt": generated.prompt_tokens, "completion": generated.completion_tokens,
                               "cached": generated.cached}
            folder = function_dir(ws, exp, record.id)
            if opts.save_chat and generated.chat:
                atomic_write_json(folder / f"chat_round{round_no}.json", generated.chat)
            if not results:
                entry.update(status="generation-failed", valid=False, reasons=[generated.error or "no test generated"])
                stats["generation_failed"] += 1
                state.history.append(entry)
                return
            stats["generated"] += 1
            stats["executed"] += len(results)
            best = max(range(len(results)), key=lambda i: rank(results[i]))
            result, test = results[best], generated.tests[best]
            entry.update(summarize(result), samples=len(results), sample_chosen=best)
            state.history.append(entry)
            state.last = Attempt(test, result)
            if result.get("status") in ("timeout", "crashed"):
                stats["crashed_or_timeout"] += 1
            if result.get("valid"):
                stats["valid"] += 1
            if rank(result) > rank(state.best_result):
                state.best_test, state.best_result = test, result
                atomic_write_text(folder / TEST_FILE, test)
                atomic_write_json(folder / RESULT_FILE, result)
            if result.get("valid") and branch_cov(result) >= opts.min_cov:
                state.done = True

        run_per_repo(ws, exp, worklist, opts.backend, opts.jobs, work, done, envs=envs)
        still = {s.record.repo for s in states.values() if not s.done}
        for repo_id in [r for r in (envs or {}) if r not in still]:  # nothing left to run there
            envs.pop(repo_id).close()
        done_count = sum(s.done for s in states.values())
        stats["done"] = done_count
        stats["done_fraction"] = round(done_count / total, 4) if total else 1.0
        rounds.append(stats)
        echo(f"round {round_no}: worklist {stats['worklist']}, generated {stats['generated']}, "
             f"valid {stats['valid']}, crashed/timeout {stats['crashed_or_timeout']}, "
             f"generation failed {stats['generation_failed']}; done {done_count}/{total} "
             f"({100 * stats['done_fraction']:.0f}%), tokens {stats['prompt_tokens']}+{stats['completion_tokens']}")
        doc["functions"] = {fid: final_entry(s) for fid, s in states.items()}
        atomic_write_json(ws.experiment_dir(exp) / GENEXEC_FILE, doc)
        if auth_error is not None:
            stop_reason = f"authentication failed: {auth_error}"
            break
        if total and done_count / total >= opts.min_valid:
            stop_reason = f"done fraction reached {opts.min_valid}"
            break
    doc["functions"] = {fid: final_entry(s) for fid, s in states.items()}
    doc["stop_reason"] = stop_reason
    doc["finished"] = now_iso()
    valid = sum(1 for f in doc["functions"].values() if f["valid"])
    doc["summary"] = {"functions": total, "valid": valid, "done": sum(f["done"] for f in doc["functions"].values()),
                      "prompt_tokens": sum(s.prompt_tokens for s in states.values()),
                      "completion_tokens": sum(s.completion_tokens for s in states.values()),
                      "rounds": len(rounds)}
    atomic_write_json(ws.experiment_dir(exp) / GENEXEC_FILE, doc)
    if auth_error is not None:
        from r2e.errors import R2EError

        raise R2EError(f"genexec stopped: {auth_error} (results so far in {GENEXEC_FILE})")
    return doc


def _restore(ws: Workspace, exp: str, states: dict[str, FunctionState], doc: dict) -> None:
    """Take over a previous run's rounds and per-function state (best test and its result)."""
    previous = read_json(ws.experiment_dir(exp) / GENEXEC_FILE)
    if not previous:
        return
    doc["rounds"].extend(previous.get("rounds") or [])
    doc["started"] = previous.get("started", doc["started"])
    for fid, entry in (previous.get("functions") or {}).items():
        state = states.get(fid)
        if state is None:
            continue
        state.history = list(entry.get("history") or [])
        state.prompt_tokens = (entry.get("tokens") or {}).get("prompt", 0)
        state.completion_tokens = (entry.get("tokens") or {}).get("completion", 0)
        result = read_json(function_dir(ws, exp, fid) / RESULT_FILE) if entry.get("test") else None
        if result is not None:
            state.best_test, state.best_result = entry["test"], result
            state.last = Attempt(entry["test"], result)
            state.done = bool(entry.get("done"))


def final_entry(state: FunctionState) -> dict:
    """The function's final record: its best test and result, or why it has none."""
    result = state.best_result
    if result is None:
        last = state.history[-1] if state.history else {"status": "not-run", "reasons": ["never generated"]}
        status = last.get("status", "not-run")
    else:
        status = result.get("status")
    cov = (result or {}).get("coverage") or {}
    return {
        "folder": function_folder(state.record.id),
        "repo": state.record.repo,
        "status": status,
        "valid": bool(result and result.get("valid")),
        "done": state.done,
        "branch_coverage": cov.get("branch_coverage"),
        "line_coverage": cov.get("line_coverage"),
        "coverage": cov or None,
        "counts": (result or {}).get("counts"),
        "test": state.best_test,
        "tokens": {"prompt": state.prompt_tokens, "completion": state.completion_tokens},
        "history": state.history,
    }
