"""Running a repository's tests for task validation: the eval script of record, the failure messages
of a run, and the lines the suite executes.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from dataclasses import replace
from pathlib import Path

from installers.environment import Environment
from installers.eval_run import EvalScript, install_eval_script
from installers.local_env import LocalEnvironment
from installers.test_results import TestRun, make_run, read_report, result_marker
from r2e.stage_records import BuildResult

FALLBACK_COMMAND = "python -m pytest"  # a build without an eval script of record: pytest's default
PER_TEST_TIMEOUT = 30.0
TRACE_SCRIPT = Path(__file__).with_name("sandbox") / "r2e_line_trace.py"
TRACE_IN_ENV = "/opt/r2e/tasks/r2e_line_trace.py"
# pytest's short summary (one line per failed test, its first message line), wide enough to read
SUMMARY_ADDOPTS = "-rfE --tb=short -p no:cacheprovider"
_REPORT = re.compile(r"^export R2E_TEST_REPORT=(.+)$", re.M)
_RUNNER = re.compile(r'"runner": "(\w+)"')
_OVERHEAD = 60  # seconds beyond the suite budget: start-up, reporters, the result marker
_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+?)(?: - (.*))?$")


def eval_script_of(env: Environment, build: BuildResult, eval_timeout: float) -> EvalScript:
    """The build's eval script of record, put back in place (budget: `eval_timeout` per run).

    A build made before builds saved their eval script gets one for pytest's default command."""
    text = getattr(build, "eval_script", None) or build.extra.get("eval_script")
    path = getattr(build, "eval_script_path", None) or build.extra.get("eval_script_path")
    saved = getattr(build, "test_command", None) or build.extra.get("test_command") or {}
    report = _REPORT.search(text or "")
    runner = _RUNNER.search(text or "")
    if isinstance(text, str) and path and report and runner:
        with tempfile.TemporaryDirectory() as tmp:
            host = Path(tmp) / "run_tests.sh"
            host.write_text(text, encoding="utf-8")
            env.copy_to(host, path)
        env.execute(f"chmod +x {shlex.quote(path)}", cwd="/", timeout=60)
        command = saved.get("command", "") if isinstance(saved, dict) else ""
        return EvalScript(path=path, text=text, report_path=shlex.split(report.group(1))[0],
                          test_command=command, runner=runner.group(1), eval_timeout=eval_timeout + _OVERHEAD)
    return install_eval_script(env, FALLBACK_COMMAND, runner="pytest",
                               per_test_timeout=min(PER_TEST_TIMEOUT, eval_timeout), suite_timeout=eval_timeout)


def with_budget(script: EvalScript, seconds: float) -> EvalScript:
    return replace(script, eval_timeout=min(script.eval_timeout, seconds))


def run_tests(env: Environment, script: EvalScript, ids: tuple[str, ...] | list[str] = (),
              messages: bool = False) -> tuple[TestRun, dict[str, str]]:
    """One run of the eval script (a subset when `ids`), and with `messages` each failing test's message."""
    prefix = f"COLUMNS=240 PYTEST_ADDOPTS={shlex.quote(SUMMARY_ADDOPTS)} " if messages else ""
    command = prefix + " ".join(["bash", shlex.quote(script.path), *map(shlex.quote, ids)])
    res = env.execute(command, timeout=script.eval_timeout)
    marker = result_marker(res.output) or {}
    report = {"tests": {}, "reasons": {}, "runner": script.runner, "complete": False}
    with tempfile.TemporaryDirectory() as tmp:
        local: Path | None = Path(tmp) / "report.json"
        try:
            env.copy_from(script.report_path, local)
        except Exception:  # no report: the command never reached a reporter
            local = None
        if local is not None and local.exists() and not res.timed_out:
            report = read_report(local, env.workdir if isinstance(env, LocalEnvironment) else None)
    run = make_run(report, exit_code=marker.get("exit_code", res.exit_code),
                   timed_out=bool(marker.get("timed_out", res.timed_out)),
                   duration=float(marker.get("duration", res.duration)), command=script.test_command,
                   runner=script.runner)
    return run, failure_messages(res.output) if messages else {}


def failure_messages(output: str) -> dict[str, str]:
    """test id -> the first line of its failure, from pytest's short test summary."""
    out: dict[str, str] = {}
    for line in output.splitlines():
        m = _SUMMARY.match(line.strip())
        if m and m.group(3):
            out.setdefault(m.group(2), m.group(3).strip())
    return out


def covered_lines(env: Environment, timeout: float) -> tuple[dict[str, set[int]], str]:
    """Lines of the repo's files that its test suite executes (pytest under R2E's line tracer):
    ({relative path: lines}, a note when the run went wrong)."""
    local = isinstance(env, LocalEnvironment)
    # copied in on every backend: a local sandbox need not see where R2E is installed
    tracer = f"{env.venv}/r2e-line-trace.py" if local else TRACE_IN_ENV
    out = f"{env.venv}/r2e-line-trace.json" if local else "/tmp/r2e-line-trace.json"
    env.execute(f"mkdir -p {shlex.quote(str(Path(tracer).parent))}", cwd="/")
    env.copy_to(TRACE_SCRIPT, tracer)
    command = (f"rm -f {shlex.quote(out)}; R2E_TEST_TIMEOUT= python {shlex.quote(tracer)} {shlex.quote(out)} . "
               f"{shlex.quote(env.venv)} -- -m pytest -q -p no:cacheprovider || true")
    res = env.execute(command, timeout=timeout)
    with tempfile.TemporaryDirectory() as tmp:
        local_copy = Path(tmp) / "trace.json"
        try:
            env.copy_from(out, local_copy)
            data = json.loads(local_copy.read_text(encoding="utf-8"))
        except Exception:
            return {}, f"no line trace ({'timed out' if res.timed_out else 'exit ' + str(res.exit_code)}): " \
                       f"{res.output.strip()[-300:]}"
    return {path: set(lines) for path, lines in data.get("files", {}).items()}, ""
