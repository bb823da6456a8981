"""`r2e tasks mutate`: per repository, covered functions -> seeded mutations -> validated tasks.

Per repository (its environment of record opened once):
  tasks/<repo>/coverage.json    lines the suite executes (R2E's line tracer), reused on resume
  tasks/<repo>/baseline.json    the clean suite run `runs` times: stable passing tests, flaky ones
  tasks/<repo>/candidates/<id>.json  one validation record per candidate (valid or rejected with a
                                     reason), written last: a candidate with a record is skipped
Then tasks.jsonl (TaskInstance per valid candidate, every repo) and tasks_summary.json are rewritten
from all candidate records.

Time: every suite run with a bug gets min(--eval-timeout, max(60 s, 5 x the clean suite's slowest
run)); a bug that makes the suite hang or crawl is rejected (timeout) without waiting out the full
--eval-timeout. Mined commits get min(--eval-timeout, --commit-timeout / 3) per run.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import dataclass, replace
from typing import Callable

from harness.tasks import mutate
from harness.tasks.diffs import git_apply_check, unified_diff
from harness.tasks.runs import covered_lines, eval_script_of
from harness.tasks.statements import leaks, llm_statement, observations, offline_statement
from harness.tasks.validate import REASONS, Baseline, clean_baseline, read_file, validate
from installers.environment_of_record import open_environment
from r2e.errors import R2EError
from r2e.experiment import Experiment
from r2e.fsio import atomic_write_json
from r2e.stage_records import FunctionRecord, TaskInstance
from r2e.workspace import now_iso

Echo = Callable[[str], None]


@dataclass(frozen=True)
class MutateOptions:
    per_function: int = 3
    seed: int = 0
    strategies: tuple[str, ...] = mutate.strategy_names()
    eval_timeout: float = 300.0
    runs: int = 3  # clean-suite runs (flakiness) and gold runs of the F2P tests
    max_candidates: int | None = None  # per repository
    llm: object | None = None  # an LLMClient: model-written statements


def candidate_id(repo: str, commit: str, edit: mutate.Edit, function_id: str) -> str:
    """SWE-smith's shape: <repo>.<commit8>.<strategy>__<hash of the edit and function>."""
    digest = hashlib.sha1(f"{function_id}:{edit.key}".encode()).hexdigest()[:8]
    return f"{repo}.{commit[:8]}.{edit.strategy}__{digest}"


def mutate_experiment(exp: Experiment, records: list[FunctionRecord], opts: MutateOptions, echo: Echo) -> dict:
    """Make and validate candidates for every repo of `records`; write tasks.jsonl and the summary."""
    repos: dict[str, dict] = {}
    for repo_id in sorted({r.repo for r in records}):
        fns = [r for r in records if r.repo == repo_id]
        t0 = time.monotonic()
        try:
            repos[repo_id] = mutate_repo(exp, repo_id, fns, opts, echo)
        except Exception as exc:  # one repo's failure never stops the batch
            repos[repo_id] = {"status": "error", "error": _say(exc)}
            echo(f"{repo_id}: error: {_say(exc)}")
        repos[repo_id]["duration"] = round(time.monotonic() - t0, 2)
    return write_outputs(exp, {"kind": "mutation", "seed": opts.seed, "per_function": opts.per_function,
                               "strategies": list(opts.strategies), "eval_timeout": opts.eval_timeout,
                               "runs": opts.runs}, repos)


def _say(exc: Exception) -> str:
    return str(exc) if isinstance(exc, R2EError) else f"{type(exc).__name__}: {exc}"[:300]


def mutate_repo(exp: Experiment, repo_id: str, fns: list[FunctionRecord], opts: MutateOptions, echo: Echo) -> dict:
    build = exp.build_result(repo_id)
    if build is None:
        raise R2EError(f"not built (run `r2e build -e {exp.name}` first)")
    if not build.usable:
        raise R2EError(f"its build has status {build.status}: no environment to run tests in")
    commit = next((r.commit for r in exp.repos([repo_id])), "")
    folder = exp.tasks_repo_dir(repo_id)
    info = {"status": "ok", "functions": len(fns), "covered_functions": 0, "skipped": {}}
    with open_environment(build, name_hint=f"tasks-{repo_id}") as env:
        check_clean(env)
        script = eval_script_of(env, build, opts.eval_timeout)
        coverage = _cached(folder / "coverage.json", lambda: _coverage(env, opts.eval_timeout))
        if coverage.get("note") and not coverage.get("files"):
            raise R2EError(f"could not measure which lines the tests run: {coverage['note']}")
        baseline = Baseline.from_dict(_cached(folder / "baseline.json",
                                              lambda: clean_baseline(env, script, opts.runs).to_dict()))
        if not baseline.passing:
            raise R2EError("no test passes on the clean tree")
        budget = min(opts.eval_timeout, max(60.0, 5 * baseline.duration))
        echo(f"{repo_id}: {len(baseline.passing)}/{baseline.tests} tests pass on the clean tree "
             f"({len(baseline.flaky)} flaky), {baseline.duration:.1f}s; bug runs limited to {budget:.0f}s")
        plan = plan_candidates(env, repo_id, commit, fns, coverage["files"], opts, info, folder)
        done = valid = 0
        for n, (cid, fn, edit, clean, buggy) in enumerate(plan, 1):
            if exp.task_candidate(repo_id, cid) is not None:
                done += 1
                continue
            record = run_candidate(env, script, baseline, repo_id, commit, build, cid, fn, edit, clean, buggy,
                                   opts, budget)
            exp.write_task_candidate(repo_id, cid, record)
            valid += bool(record["valid"])
            tail = "valid" if record["valid"] else f"rejected: {record['reason']}"
            echo(f"{repo_id}: [{n}/{len(plan)}] {edit.strategy} in {fn.qualname}: {tail} "
                 f"({record['duration']:.1f}s)")
        info.update(planned=len(plan), resumed=done, new_valid=valid)
        if done:
            echo(f"{repo_id}: {done} candidate(s) already validated, skipped")
    return info


# Tracked files an install rewrites (sdists ship their egg-info): not edits to the code.
_INSTALL_NOISE = (".egg-info/", ".dist-info/", "__pycache__/", ".pyc", ".so")


def check_clean(env) -> None:
    """Refuse a tree with edits to tracked files: bugs are measured against the clean repository
    (a killed run on the local backend can leave one behind)."""
    # --really-refresh reads the files again: a same-size edit within the index's second looks clean otherwise
    res = env.execute("git update-index -q --really-refresh >/dev/null 2>&1; "
                      "git status --porcelain --untracked-files=no", timeout=300)
    if not res.ok:
        return  # no git in the environment (a fresh container is clean anyway)
    edited = [line[3:].strip() for line in res.output.splitlines() if len(line) > 3]
    edited = [p for p in edited if not any(n in p or p.endswith(n) for n in _INSTALL_NOISE)]
    if edited:
        raise R2EError(f"{env.workdir} has uncommitted changes ({edited[0]}...); "
                       f"restore it first: git -C {env.workdir} checkout -- .")


def _cached(path, make: Callable[[], dict]) -> dict:
    if path.exists():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            pass  # unreadable: measured again
    data = make()
    if not data.get("note") or data.get("files"):
        atomic_write_json(path, data)
    return data


def _coverage(env, timeout: float) -> dict:
    files, note = covered_lines(env, timeout)
    return {"files": {p: sorted(v) for p, v in sorted(files.items())}, "note": note}


def plan_candidates(env, repo_id: str, commit: str, fns: list[FunctionRecord], covered: dict, opts: MutateOptions,
                    info: dict, folder=None) -> list[tuple]:
    """(candidate id, function, edit, clean text, buggy text) for every chosen mutation, in a fixed order."""
    sources: dict[str, str | None] = {}
    skipped = info["skipped"]
    rewrites = RewriteStore(folder / "llm_rewrites.json") if folder is not None else None
    plan = []
    for fn in sorted(fns, key=lambda f: (f.path, f.start_line)):
        lines = set(covered.get(fn.path, ()))
        body = set(range(fn.start_line + 1, fn.end_line + 1))
        if not lines & body:
            skipped["not_covered"] = skipped.get("not_covered", 0) + 1
            continue
        info["covered_functions"] += 1
        if fn.path not in sources:
            sources[fn.path] = read_file(env, fn.path)
        clean = sources[fn.path]
        if clean is None or "\n".join(clean.splitlines()[fn.start_line - 1:fn.end_line]).strip() != fn.code.strip():
            skipped["stale_source"] = skipped.get("stale_source", 0) + 1  # the file changed since extraction
            continue
        data = clean.encode("utf-8")
        edits = mutate.sites(data, fn.start_line, opts.strategies, covered=lines)
        chosen = mutate.pick(edits, opts.per_function, opts.seed, fn.id)
        if "llm_rewrite" in opts.strategies and opts.llm is not None:
            rewritten = model_rewrite(rewrites, fn, data, opts, skipped)
            if rewritten is not None:
                chosen = chosen[:max(0, opts.per_function - 1)] + [rewritten]
        for edit in chosen:
            buggy = mutate.apply(data, edit).decode("utf-8")
            plan.append((candidate_id(repo_id, commit, edit, fn.id), fn, edit, clean, buggy))
    if opts.max_candidates is not None:
        plan = plan[:opts.max_candidates]
    return plan


class RewriteStore:
    """The model's rewrites by function id and seed, kept so a resumed run makes the same candidates."""

    def __init__(self, path):
        self.path = path
        try:
            self.data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def put(self, key: str, answer: str) -> None:
        self.data[key] = answer
        atomic_write_json(self.path, self.data)


def model_rewrite(store: RewriteStore | None, fn: FunctionRecord, data: bytes, opts: MutateOptions,
                  skipped: dict) -> mutate.Edit | None:
    """The model's "subtle bug" version of `fn` as an edit, or None (no usable answer: counted in skipped)."""
    from harness.tasks import rewrite

    key = f"{fn.id}@{opts.seed}"
    answer = store.get(key) if store is not None else None
    if answer is None:
        try:
            answer = rewrite.ask(opts.llm, fn.code)
        except Exception:  # no answer (the client said why, once): the procedural candidates go on
            skipped["llm_no_answer"] = skipped.get("llm_no_answer", 0) + 1
            return None
        if store is not None:
            store.put(key, answer)
    edit, why = rewrite.edit_from_answer(data, fn.start_line, answer)
    if edit is None:
        key = "llm_unusable: " + why
        skipped[key] = skipped.get(key, 0) + 1
    return edit


def run_candidate(env, script, baseline: Baseline, repo_id: str, commit: str, build, cid: str, fn: FunctionRecord,
                  edit: mutate.Edit, clean: str, buggy: str, opts: MutateOptions, budget: float) -> dict:
    t0 = time.monotonic()
    bug_patch = unified_diff(fn.path, clean, buggy)
    fix_patch = unified_diff(fn.path, buggy, clean)
    record = {"candidate_id": cid, "repo": repo_id, "function_id": fn.id, "path": fn.path,
              "strategy": edit.strategy, "seed": opts.seed, "site": {"line": edit.line, "what": edit.what},
              "bug_patch": bug_patch, "patch": fix_patch, "valid": False, "reason": None, "detail": ""}
    problem = git_apply_check(fn.path, clean, bug_patch) or git_apply_check(fn.path, buggy, fix_patch)
    if problem:
        record.update(reason="apply_failed", detail=problem[:300])
    else:
        try:
            out = validate(env, script, baseline, fn.path, clean, buggy, runs=opts.runs, budget=budget)
        except R2EError:
            raise  # the clean file could not be put back: nothing more may run in this tree
        except Exception as exc:  # one candidate's surprise is its rejection, never the batch's end
            record.update(reason="error", detail=f"{type(exc).__name__}: {exc}"[:300])
        else:
            record.update(valid=out.valid, reason=out.reason, detail=out.detail, FAIL_TO_PASS=out.fail_to_pass,
                          PASS_TO_PASS=out.pass_to_pass, flaky_tests=out.flaky, runs=out.runs)
            if out.valid:
                _statement(record, fn, out.messages, opts)
    record["duration"] = round(time.monotonic() - t0, 3)
    if record["valid"]:
        record["task"] = TaskInstance(
            instance_id=cid, repo=repo_id, base_commit=commit, patch=fix_patch, bug_patch=bug_patch,
            problem_statement=record.pop("problem_statement"), FAIL_TO_PASS=tuple(record["FAIL_TO_PASS"]),
            PASS_TO_PASS=tuple(record["PASS_TO_PASS"]), version=commit[:12], environment_setup_commit=commit,
            docker_image=build.image, image_name=build.image, eval_script=script.text, created_at=now_iso(),
            strategy=edit.strategy, seed=opts.seed, function_id=fn.id, flaky_tests=tuple(record["flaky_tests"]),
            statement_kind=record["statement_kind"], backend=build.backend).to_dict()
    return record


def _statement(record: dict, fn: FunctionRecord, messages: dict, opts: MutateOptions) -> None:
    """The task's problem statement: the model's when one is configured and it does not leak, else offline."""
    f2p, tests = record["FAIL_TO_PASS"], record["FAIL_TO_PASS"] + record["PASS_TO_PASS"]
    seen = observations(messages, f2p, record["patch"], tests)
    if opts.llm is not None:
        try:
            text = llm_statement(opts.llm, fn, seen)
        except Exception as exc:  # no answer: the offline statement stands in
            record["llm_statement_error"] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            found = leaks(text, record["patch"], tests) if text else ["empty answer"]
            if not found:
                record.update(problem_statement=text, statement_kind="llm")
                return
            record["llm_statement_rejected"] = found[:5]
    text = offline_statement(fn, seen, len(f2p))
    found = leaks(text, record["patch"], tests)
    if found:  # a docstring example holds a line of the fix: the statement goes without the docstring
        text = offline_statement(replace(fn, docstring=""), seen, len(f2p))
        found = leaks(text, record["patch"], tests)
    if found:
        record.update(valid=False, reason="statement_leak", detail="; ".join(found[:3]))
        return
    record.update(problem_statement=text, statement_kind="offline")


def write_outputs(exp: Experiment, run: dict, repos: dict[str, dict]) -> dict:
    """tasks.jsonl from every valid candidate record, and the summary of every candidate record."""
    tasks, per_strategy, per_reason, durations, leaked_llm = [], {}, dict.fromkeys(REASONS, 0), [], 0
    all_durations, per_source = [], {}
    earlier = sorted(p.name for p in exp.tasks_dir.iterdir() if p.is_dir()) if exp.tasks_dir.is_dir() else []
    for repo_id in earlier:  # repos made by an earlier run (another --repo) stay in tasks.jsonl
        repos.setdefault(repo_id, {"status": "earlier run"})
    for repo_id in sorted(repos):
        made = {"candidates": 0, "valid": 0}
        for record in exp.task_candidates(repo_id):
            made["candidates"] += 1
            s = per_strategy.setdefault(record.get("strategy", "?"), {"candidates": 0, "valid": 0})
            s["candidates"] += 1
            src = per_source.setdefault(record.get("source", "mutation"), {"candidates": 0, "valid": 0})
            src["candidates"] += 1
            leaked_llm += bool(record.get("llm_statement_rejected"))
            all_durations.append(float(record.get("duration") or 0.0))
            if record.get("valid") and record.get("task"):
                made["valid"] += 1
                s["valid"] += 1
                src["valid"] += 1
                tasks.append(TaskInstance.from_dict(record["task"]))
                durations.append(float(record.get("duration") or 0.0))
            else:
                reason = record.get("reason") if record.get("reason") in REASONS else "error"
                per_reason[reason] += 1
        repos[repo_id].update(made)
    exp.write_tasks(tasks)
    total = sum(r["candidates"] for r in repos.values())
    summary = {
        "created": now_iso(), "last_run": run, "total": total, "valid": len(tasks), "rejected": total - len(tasks),
        "valid_ratio": round(len(tasks) / total, 4) if total else None,
        "per_source": per_source, "per_strategy": per_strategy,
        "rejections": {k: v for k, v in per_reason.items() if v},
        "median_validation_seconds": round(statistics.median(durations), 3) if durations else None,
        "median_candidate_seconds": round(statistics.median(all_durations), 3) if all_durations else None,
        "llm_statements_rejected_for_leaks": leaked_llm,
        "repos": repos,
    }
    exp.write_tasks_summary(summary)
    return summary


# ------------------------------------------------------------------------------------------ history
@dataclass(frozen=True)
class MineOptions:
    max_commits: int = 20
    since: str | None = None
    commit_timeout: float = 900.0  # one commit's whole validation
    eval_timeout: float = 300.0
    runs: int = 3


def mine_experiment(exp: Experiment, repo_ids: list[str], opts: MineOptions, echo: Echo) -> dict:
    repos: dict[str, dict] = {}
    for repo_id in repo_ids:
        t0 = time.monotonic()
        try:
            repos[repo_id] = mine_repo(exp, repo_id, opts, echo)
        except Exception as exc:  # one repo's failure never stops the batch
            repos[repo_id] = {"status": "error", "error": _say(exc)}
            echo(f"{repo_id}: error: {_say(exc)}")
        repos[repo_id]["duration"] = round(time.monotonic() - t0, 2)
    return write_outputs(exp, {"kind": "history", "max_commits": opts.max_commits, "since": opts.since,
                               "eval_timeout": opts.eval_timeout, "runs": opts.runs}, repos)


def mine_repo(exp: Experiment, repo_id: str, opts: MineOptions, echo: Echo) -> dict:
    from pathlib import Path

    from harness.tasks import history

    build = exp.build_result(repo_id)
    if build is None:
        raise R2EError(f"not built (run `r2e build -e {exp.name}` first)")
    if not build.usable:
        raise R2EError(f"its build has status {build.status}: no environment to run tests in")
    record = exp.repos([repo_id])[0]
    repo, head = Path(record.path), record.commit
    found = history.commits(repo, head, opts.max_commits, opts.since)
    info = {"status": "ok", "commits": len(found), "skipped": {}}
    todo = []
    for c in found:  # only commits that change Python source outside the tests can be bug fixes here
        if not any(p.endswith(".py") for p in c.code_paths):
            info["skipped"]["no_code_change"] = info["skipped"].get("no_code_change", 0) + 1
        else:
            todo.append(c)
    budget = min(opts.eval_timeout, opts.commit_timeout / 3)
    echo(f"{repo_id}: {len(found)} commit(s) scanned, {len(todo)} change non-test Python code")
    if not todo:
        return info
    with open_environment(build, name_hint=f"tasks-{repo_id}") as env:
        check_clean(env)
        script = eval_script_of(env, build, opts.eval_timeout)
        for n, c in enumerate(todo, 1):
            cid = f"{repo_id}.{c.sha[:8]}"
            if exp.task_candidate(repo_id, cid) is not None:
                continue
            rec = mine_commit(env, script, repo, head, build, repo_id, cid, c, opts, budget)
            exp.write_task_candidate(repo_id, cid, rec)
            tail = "valid" if rec["valid"] else f"rejected: {rec['reason']}"
            echo(f"{repo_id}: [{n}/{len(todo)}] {c.sha[:8]} {c.subject[:50]!r}: {tail} ({rec['duration']:.1f}s)")
    return info


def mine_commit(env, script, repo, head: str, build, repo_id: str, cid: str, c, opts: MineOptions,
                budget: float) -> dict:
    from harness.tasks import history

    t0 = time.monotonic()
    patch = history.diff(repo, c.parent, c.sha, c.code_paths)
    test_patch = history.diff(repo, c.parent, c.sha, c.test_paths)
    record = {"candidate_id": cid, "repo": repo_id, "source": "history", "strategy": "history", "commit": c.sha,
              "parent": c.parent, "subject": c.subject, "patch": patch, "test_patch": test_patch,
              "image_rebuilt": False, "valid": False, "reason": None, "detail": ""}
    head_deps = history.declared_dependencies(repo, head)
    for sha in (c.parent, c.sha):
        deps = history.declared_dependencies(repo, sha)
        if deps != head_deps:
            # the environment of record was installed for HEAD's requirements; this commit would need its own
            changed = sorted(set(deps) ^ set(head_deps))
            record.update(reason="deps_changed", detail=f"{sha[:8]} declares other requirements than HEAD "
                                                        f"({', '.join(changed[:3])})", duration=0.0)
            return record
    before, after, clean = history.tree_state(repo, head, c)
    try:
        out = history.validate_commit(env, script, before, after, clean, runs=opts.runs, budget=budget)
    except R2EError:
        raise
    except Exception as exc:
        record.update(reason="error", detail=f"{type(exc).__name__}: {exc}"[:300])
    else:
        record.update(valid=out.valid, reason=out.reason, detail=out.detail, FAIL_TO_PASS=out.fail_to_pass,
                      PASS_TO_PASS=out.pass_to_pass, flaky_tests=out.flaky, runs=out.runs)
        if out.valid:
            ids = out.fail_to_pass + out.pass_to_pass
            apis = [api for p in c.code_paths if p.endswith(".py") and after.get(p)
                    for api in history.changed_functions(after[p], patch, p)]
            seen = observations(out.messages, out.fail_to_pass, patch, ids)
            text = history.history_statement(apis, seen, len(out.fail_to_pass), c.code_paths)
            if leaks(text, patch, ids):  # a docstring the fix changed: leave the docstrings out
                text = history.history_statement([(n, s, "") for n, s, _ in apis], seen, len(out.fail_to_pass),
                                                 c.code_paths)
            found = leaks(text, patch, ids)
            if found:
                record.update(valid=False, reason="statement_leak", detail="; ".join(found[:3]))
            else:
                record["task"] = TaskInstance(
                    instance_id=cid, repo=repo_id, base_commit=c.parent, patch=patch, test_patch=test_patch,
                    problem_statement=text, FAIL_TO_PASS=tuple(out.fail_to_pass),
                    PASS_TO_PASS=tuple(out.pass_to_pass), version=head[:12], environment_setup_commit=head,
                    docker_image=build.image, image_name=build.image, eval_script=script.text, created_at=c.date,
                    source="history", strategy="history", function_id=", ".join(n for n, _, _ in apis[:3]),
                    flaky_tests=tuple(out.flaky), statement_kind="offline", backend=build.backend,
                    extra={"commit": c.sha, "image_rebuilt": False}).to_dict()
    record["duration"] = round(time.monotonic() - t0, 3)
    return record
