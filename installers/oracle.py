"""The installation oracle: (1) import every top-level module of the repo, (2) run its own tests.

pass ratio = passed / (passed + failed + errors), counted from pytest's JUnit XML (the real exit
code is kept too, so output that merely prints "passed" is not believed). Success = pass ratio
>= min_pass_ratio with at least one test run.
"""

from __future__ import annotations

import json
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from installers.environment import Environment
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
JUNIT_NAME = ".r2e-junit.xml"  # inside the repo's venv: unique per build, also for parallel local builds
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


def junit_path(env: Environment) -> str:
    return f"{env.venv}/{JUNIT_NAME}"


def run_tests(env: Environment, timeout: float = 900) -> dict:
    junit = junit_path(env)
    env.execute(f"rm -f {junit}", cwd="/")
    cmd = (f"{env.python} -m pytest -q -rN --no-header -p no:cacheprovider -o addopts='' "
           f"--junitxml={junit} --continue-on-collection-errors")
    res = env.execute(cmd, timeout=timeout)
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "pytest_exit": res.exit_code,
              "timed_out": res.timed_out, "output_tail": res.output[-6000:], "tests_run": False}
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "junit.xml"
        try:
            env.copy_from(junit, local)
            counts.update(parse_junit(local.read_text(encoding="utf-8", errors="replace")))
            counts["tests_run"] = True
        except Exception:
            pass
    return counts


def parse_junit(xml_text: str) -> dict:
    root = ET.fromstring(xml_text)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failures = errors = skipped = 0
    for s in suites:
        tests += int(s.get("tests", 0))
        failures += int(s.get("failures", 0))
        errors += int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    return {"passed": max(0, tests - failures - errors - skipped), "failed": failures, "errors": errors,
            "skipped": skipped}


def run_oracle(env: Environment, modules: list[str], *, has_tests: bool = True, test_timeout: float = 900) -> OracleResult:
    imports_ok, import_errors = check_imports(env, modules)
    if not has_tests:
        return OracleResult(imports_ok=imports_ok, import_errors=import_errors)
    counts = run_tests(env, timeout=test_timeout)
    return OracleResult(imports_ok=imports_ok, import_errors=import_errors, **counts).with_ratio()
