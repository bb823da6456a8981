"""The installation oracle: (1) import every top-level module of the repo, (2) run its own tests.

The tests run through the eval script of record (the maintainers' own command, R2E's reporters
attached): pass ratio = passed / (passed + failed + errors), all counted from the per-test map,
flaky tests left out (the command's real exit code is kept too). Success = pass ratio >=
min_pass_ratio with at least one test run.
"""

from __future__ import annotations

import json
import re
import time

from installers.environment import Environment
from installers.eval_run import EvalScript, run_with_flaky_check
from installers.sandbox.r2e_report_io import SKIPPED, XFAIL
from installers.test_results import TestRun
from r2e.stage_records import OracleResult

IMPORT_SCRIPT = r"""
import importlib, json, sys, traceback
out = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        out[name] = None
    except BaseException as exc:
        out[name] = {"type": type(exc).__name__, "message": str(exc)[:500],
                     "module": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
                     "trace": traceback.format_exc()[-2000:]}
print("R2E-IMPORTS " + json.dumps(out))
"""
_MISSING = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'")


# How good each build status is: a repair or a restart is kept only when it climbs this ladder.
STATUS_RANK = {"success": 5, "partial": 4, "no_tests": 3, "failed": 1, "timeout": 0, "error": 0, "python2": 0}


def oracle_status(oracle: OracleResult, min_pass_ratio: float) -> str:
    """The build status a Python oracle result earns."""
    if oracle.timed_out:
        return "timeout"
    if not oracle.imports_ok:
        return "failed"
    if not oracle.tests_run and oracle.pytest_exit not in (None, 0, 5):
        return "failed"  # pytest could not start (a conftest or config it cannot load)
    if not oracle.tests_run or oracle.total == 0:
        return "no_tests"
    if oracle.pass_ratio is not None and oracle.pass_ratio >= min_pass_ratio:
        return "success"
    return "partial" if oracle.passed else "failed"


def better(new: OracleResult, new_status: str, old: OracleResult, old_status: str) -> bool:
    """Is `new` an improvement: a higher status, else fewer import errors, else more tests passing."""
    if STATUS_RANK.get(new_status, 0) != STATUS_RANK.get(old_status, 0):
        return STATUS_RANK.get(new_status, 0) > STATUS_RANK.get(old_status, 0)
    if len(new.import_errors) != len(old.import_errors):
        return len(new.import_errors) < len(old.import_errors)
    return (new.pass_ratio or 0) > (old.pass_ratio or 0) or new.passed > old.passed


def missing_modules(oracle: OracleResult) -> list[str]:
    """Top-level modules the import check or the tests could not find, first seen first."""
    found = [e["module"] for e in oracle.import_errors.values() if e and e.get("module")]
    found += _MISSING.findall(oracle.output_tail)
    for e in oracle.import_errors.values():
        if e:
            found += _MISSING.findall(e.get("trace", ""))
    return list(dict.fromkeys(m.split(".")[0] for m in found))


def failure_text(oracle: OracleResult) -> str:
    """Every import error with its trace, then the tests' output: what the repair rules read."""
    parts = [f"{m}: {e['type']}: {e['message']}\n{e.get('trace', '')}" for m, e in oracle.import_errors.items() if e]
    return "\n".join(parts) + "\n" + oracle.output_tail


def check_imports(env: Environment, modules: list[str], timeout: float = 300) -> tuple[bool, dict]:
    if not modules:
        return True, {}
    script = IMPORT_SCRIPT.replace("'", "'\"'\"'")
    args = " ".join(modules)
    res = env.execute(f"{env.python} -c '{script}' {args}", timeout=timeout, env={"PYTHONPATH": ""})
    for line in res.output.splitlines():
        if line.startswith("R2E-IMPORTS "):
            data = json.loads(line[len("R2E-IMPORTS "):])
            errors = {k: v for k, v in data.items() if v}
            return not errors, errors
    kind = "Timeout" if res.timed_out else "ImportCheckFailed"
    return False, {"*": {"type": kind, "message": res.output[-500:], "module": None, "trace": res.output[-2000:]}}


def oracle_result(imports_ok: bool, import_errors: dict, run: TestRun | None) -> OracleResult:
    """The oracle's counts, all read from the per-test map (flaky tests left out of the ratio)."""
    if run is None:
        return OracleResult(imports_ok=imports_ok, import_errors=import_errors)
    counts = run.counts
    return OracleResult(imports_ok=imports_ok, import_errors=import_errors, tests_run=bool(run.tests),
                        passed=run.passed, failed=run.failed, errors=run.errors,
                        skipped=counts[SKIPPED] + counts[XFAIL], pass_ratio=run.pass_ratio,
                        pytest_exit=run.exit_code, timed_out=run.timed_out, output_tail=run.output[-6000:])


def run_oracle(env: Environment, modules: list[str], script: EvalScript | None, *,
               timeout: float | None = None) -> tuple[OracleResult, TestRun | None]:
    """Import check, then the eval script of record (failures run again: flaky ones found).

    `script` None: the repo has no tests to run. `timeout` (seconds) caps both runs below the
    script's own budget when the task has less time left."""
    imports_ok, import_errors = check_imports(env, modules)
    if script is None:
        return oracle_result(imports_ok, import_errors, None), None
    deadline = time.monotonic() + timeout if timeout is not None else None
    run = run_with_flaky_check(env, script, deadline=deadline)
    return oracle_result(imports_ok, import_errors, run), run
