"""Validation of one candidate task in the repository's environment: F2P and P2P, flakiness, gold.

The rules (every candidate, whatever made it):
- the clean tree is run `runs` times first (once per repository): tests passing every time are the
  candidates for F2P and P2P; tests that flip are flaky and never enter a task;
- with the bug: the full suite twice. F2P = clean-passing tests that fail (or vanish) both times,
  P2P = those that pass both times; a test that flips between the two runs is flaky;
- with the gold fix (for a mutation: the clean file back): the F2P tests alone, `runs` times, must pass
  every time; one failing every time rejects the candidate (gold_fails), one failing sometimes is flaky;
- F2P >= 1 and P2P >= 1 after flaky tests are dropped, within the time budget.
Every rejection carries one reason of REASONS.
"""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from installers.environment import Environment
from installers.eval_run import EvalScript
from installers.sandbox.r2e_report_io import PASSED, SKIPPED
from installers.test_results import TestRun
from harness.tasks.runs import run_tests, with_budget
from r2e.errors import R2EError

# The closed set of reasons a candidate is rejected (counted in tasks_summary.json).
REASONS = ("apply_failed", "no_failing_test", "no_passing_test", "gold_fails", "flaky", "timeout",
           "statement_leak", "deps_changed", "error")


@dataclass(frozen=True)
class Baseline:
    """The clean tree's suite, run several times."""

    passing: tuple[str, ...]  # passed in every run
    flaky: tuple[str, ...]  # passed in some runs, not in others
    tests: int
    duration: float  # the slowest run, seconds

    def to_dict(self) -> dict:
        return {"passing": list(self.passing), "flaky": list(self.flaky), "tests": self.tests,
                "duration": self.duration}

    @classmethod
    def from_dict(cls, data: dict) -> "Baseline":
        return cls(tuple(data["passing"]), tuple(data.get("flaky", ())), int(data.get("tests", 0)),
                   float(data.get("duration", 0.0)))


@dataclass
class Outcome:
    valid: bool = False
    reason: str | None = None
    detail: str = ""
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)  # each run: phase, duration, counts

    def reject(self, reason: str, detail: str = "") -> "Outcome":
        assert reason in REASONS, reason
        self.valid, self.reason, self.detail = False, reason, detail
        return self

    def note(self, phase: str, run: TestRun) -> None:
        self.runs.append({"phase": phase, "duration": round(run.duration, 3), "counts": run.counts,
                          "timed_out": run.timed_out, "exit_code": run.exit_code})


def split_by_bug(passing: list[str], with_bug: TestRun) -> tuple[list[str], list[str]]:
    """(fail-to-pass, pass-to-pass) among tests that pass without the bug: a skipped test is neither."""
    f2p = [t for t in passing if with_bug.tests.get(t) not in (PASSED, SKIPPED)]
    p2p = [t for t in passing if with_bug.tests.get(t) == PASSED]
    return f2p, p2p


def clean_baseline(env: Environment, script: EvalScript, runs: int) -> Baseline:
    """The clean suite `runs` times; a suite that times out or reports no test is a repository-level error."""
    results = []
    for _ in range(max(1, runs)):
        run, _ = run_tests(env, script)
        if run.timed_out:
            raise R2EError(f"the clean test suite did not finish within {script.eval_timeout:.0f}s")
        if not run.tests:
            raise R2EError(f"the clean test suite reported no test (exit {run.exit_code})")
        results.append(run)
    ids = set().union(*(r.tests for r in results))
    passing = sorted(t for t in ids if all(r.tests.get(t) == PASSED for r in results))
    flaky = sorted(t for t in ids if t not in passing and any(r.tests.get(t) == PASSED for r in results))
    return Baseline(tuple(passing), tuple(flaky), len(ids), max(r.duration for r in results))


def write_file(env: Environment, path: str, text: str) -> None:
    """`path` (relative to the repo) gets `text`, and its stale bytecode goes (same size, same second)."""
    with tempfile.TemporaryDirectory() as tmp:
        host = Path(tmp) / "file"
        host.write_bytes(text.encode("utf-8"))
        env.copy_to(host, f"{env.workdir}/{path}")
    p = PurePosixPath(path)
    cache = f"{env.workdir}/{p.parent}/__pycache__" if str(p.parent) != "." else f"{env.workdir}/__pycache__"
    env.execute(f"rm -f {shlex.quote(cache)}/{shlex.quote(p.stem)}.*.pyc", cwd="/", timeout=60)


def read_file(env: Environment, path: str) -> str | None:
    with tempfile.TemporaryDirectory() as tmp:
        host = Path(tmp) / "file"
        try:
            env.copy_from(f"{env.workdir}/{path}", host)
            return host.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError, Exception):  # docker raises its own NotFound
            return None


def validate(env: Environment, script: EvalScript, baseline: Baseline, path: str, clean: str, buggy: str,
             *, runs: int, budget: float) -> Outcome:
    """Run the candidate whose bug turns `path` from `clean` into `buggy`; the clean file is always put back."""
    out = Outcome()
    bug_script = with_budget(script, budget)
    try:
        write_file(env, path, buggy)
        if read_file(env, path) != buggy:
            return out.reject("apply_failed", f"{path} did not take the bug")
        first, _ = run_tests(env, bug_script)
        out.note("bug", first)
        if first.timed_out:
            return out.reject("timeout", f"the suite with the bug ran over {bug_script.eval_timeout:.0f}s")
        f2p, p2p = split_by_bug(baseline.passing, first)
        if not f2p:
            return out.reject("no_failing_test")
        if not p2p:
            return out.reject("no_passing_test", f"{len(f2p)} failing, none passing")
        hung = [t for t in f2p if first.reasons.get(t) == "timeout"]
        if hung:
            return out.reject("timeout", f"{len(hung)} test(s) hang with the bug, e.g. {hung[0]}")
        second, out.messages = run_tests(env, bug_script, messages=True)
        out.note("bug", second)
        if second.timed_out:
            return out.reject("timeout", f"the suite with the bug ran over {bug_script.eval_timeout:.0f}s")
        flaky = [t for t in f2p if second.tests.get(t) in (PASSED, SKIPPED)]
        flaky += [t for t in p2p if second.tests.get(t) != PASSED]
        out.flaky = sorted(set(flaky))
        f2p = [t for t in f2p if t not in out.flaky]
        p2p = [t for t in p2p if t not in out.flaky]
    finally:
        write_file(env, path, clean)
        restored = read_file(env, path) == clean
    if not restored:
        raise R2EError(f"could not put the clean {path} back in {env.workdir}: stopping this repository")
    if not f2p:
        return out.reject("flaky", "every failing test passed when run again with the bug")
    if not p2p:
        return out.reject("no_passing_test", "the passing tests were flaky")
    # gold: the F2P tests alone, every run must pass them
    gold_runs = []
    for _ in range(max(1, runs)):
        run, _ = run_tests(env, script, f2p)
        out.note("gold", run)
        if run.timed_out:
            return out.reject("timeout", "the F2P tests with the fix ran over the budget")
        gold_runs.append(run)
    never = [t for t in f2p if all(r.tests.get(t) != PASSED for r in gold_runs)]
    if never:
        return out.reject("gold_fails", f"{len(never)} F2P test(s) fail with the fix, e.g. {never[0]}")
    sometimes = [t for t in f2p if any(r.tests.get(t) != PASSED for r in gold_runs)]
    out.flaky = sorted(set(out.flaky) | set(sometimes))
    f2p = [t for t in f2p if t not in sometimes]
    if not f2p:
        return out.reject("flaky", "the F2P tests did not pass every run with the fix")
    out.fail_to_pass, out.pass_to_pass = f2p, p2p
    out.valid = True
    return out
