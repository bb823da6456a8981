"""Put the eval script of record into an environment and run it: the per-test map as a `TestRun`.

Docker (or any non-local backend): reporters copied to SANDBOX_DIR, the script at /run_tests.sh, the
report at REPORT_PATH. Local backend: the same script kept in the venv (one per build, so parallel
local builds do not share files), the reporters used in place from the installed package.
"""

from __future__ import annotations

import shlex
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from installers.environment import Environment
from installers.eval_script import (EVAL_SCRIPT_PATH, KILL_GRACE, REPORT_PATH, SANDBOX_DIR, command_outputs,
                                    git_exclude_command, render_eval_script, sandbox_source)
from installers.local_env import LocalEnvironment
from installers.test_results import TestRun, make_run, merge_rerun, read_report, result_marker

RERUN_LIMIT = 200  # more failures than this is a broken suite, not flakiness: not worth a second run
_OVERHEAD = 60  # seconds of eval_timeout beyond the suite budget: start-up, JUnit conversion, marker


@dataclass(frozen=True)
class EvalScript:
    """The eval script of record as installed: saved with the build result."""

    path: str  # inside the environment
    text: str
    report_path: str
    test_command: str
    runner: str
    eval_timeout: float  # what a caller gives `execute` for one full run
    excludes: tuple[str, ...] = ()  # report files the command writes in the repo: git-excluded with R2E's noise


def install_eval_script(env: Environment, test_command: str, *, runner: str, per_test_timeout: float | None,
                        suite_timeout: float, junit_path: str | None = None) -> EvalScript:
    local = isinstance(env, LocalEnvironment)
    # The reporters are copied in on every backend: a local sandbox (bubblewrap) sees only the workdir,
    # the venv and the read-only host, which need not include where R2E itself is installed.
    sandbox = f"{env.venv}/r2e-sandbox" if local else SANDBOX_DIR
    path = f"{env.venv}/r2e-run-tests.sh" if local else EVAL_SCRIPT_PATH
    report = f"{env.venv}/r2e-test-report.json" if local else REPORT_PATH
    text = render_eval_script(test_command, runner=runner, workdir=env.workdir, venv=env.venv, report_path=report,
                              per_test_timeout=per_test_timeout, suite_timeout=suite_timeout,
                              sandbox_dir=sandbox, junit_path=junit_path)
    env.execute(f"mkdir -p {shlex.quote(sandbox)}", cwd="/")
    for source in sorted(sandbox_source().glob("r2e_*.py")):
        env.copy_to(source, f"{sandbox}/{source.name}")
    with tempfile.TemporaryDirectory() as tmp:
        host_copy = Path(tmp) / "run_tests.sh"
        host_copy.write_text(text, encoding="utf-8")
        env.copy_to(host_copy, path)
    excludes = command_outputs(test_command)
    env.execute(f"chmod +x {shlex.quote(path)}; {git_exclude_command(env.workdir, env.venv, excludes)}", cwd="/")
    return EvalScript(path=path, text=text, report_path=report, test_command=test_command, runner=runner,
                      eval_timeout=float(suite_timeout) + KILL_GRACE + _OVERHEAD, excludes=excludes)


def run_eval_script(env: Environment, script: EvalScript, ids: tuple[str, ...] | list[str] = (), *,
                    suite_timeout: float | None = None) -> TestRun:
    """One run of the script (a subset when `ids` are given), judged from the report it leaves.

    `suite_timeout` lowers the script's suite budget for this run (the script's own `timeout` then
    ends the whole process tree, reporters flushed, which a killed shell cannot promise)."""
    command = " ".join(["bash", shlex.quote(script.path), *map(shlex.quote, ids)])
    budget = script.eval_timeout
    extra = None
    if suite_timeout is not None and suite_timeout + KILL_GRACE + _OVERHEAD < script.eval_timeout:
        extra = {"R2E_SUITE_TIMEOUT": _whole_seconds(suite_timeout)}
        budget = suite_timeout + KILL_GRACE + _OVERHEAD
    res = env.execute(command, timeout=budget, env=extra)
    marker = result_marker(res.output) or {}
    report = {"tests": {}, "reasons": {}, "runner": script.runner, "complete": False}
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "report.json"
        try:
            env.copy_from(script.report_path, local)
        except Exception:  # no report: the command never reached a reporter
            local = None
        if local is not None and local.exists():
            report = read_report(local, env.workdir if isinstance(env, LocalEnvironment) else None)
    run = make_run(report, exit_code=marker.get("exit_code", res.exit_code),
                   timed_out=bool(marker.get("timed_out", res.timed_out)),
                   duration=float(marker.get("duration", res.duration)), command=script.test_command,
                   runner=script.runner)
    return replace(run, output=res.output)


def run_with_flaky_check(env: Environment, script: EvalScript, rerun_limit: int = RERUN_LIMIT, *,
                         deadline: float | None = None) -> TestRun:
    """The full suite, then its failures once more: those that pass now are flaky.

    `deadline` (time.monotonic()): both runs end by then, whatever the script's own budget."""
    first = run_eval_script(env, script, suite_timeout=_left(deadline))
    again = first.failures()
    if not again or len(again) > rerun_limit or first.timed_out:
        return first
    left = _left(deadline)
    if left is not None and left <= 1:
        return first
    return merge_rerun(first, run_eval_script(env, script, again, suite_timeout=left))


def _left(deadline: float | None) -> float | None:
    """Suite budget left before `deadline`, keeping room for the kill grace and the script's overhead."""
    if deadline is None:
        return None
    return max(1.0, deadline - time.monotonic() - KILL_GRACE - 5)


def _whole_seconds(value: float) -> str:
    return str(max(1, int(value)))
