"""Run a function's harness in an Environment through the sandbox runner: one `HarnessResult`."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path

from harness import sandbox
from installers.environment import Environment
from r2e.stage_records import FunctionRecord, HarnessResult

# Status of one execution: valid | invalid (ran, judged not valid) | timeout | crashed (no result).
RETRY_STATUSES = ("timeout", "crashed")  # no judgement: run again (genexec, execute)
_DIGEST = re.compile(r"^r2e-runner: .* sha256=([0-9a-f]{64})$", re.MULTILINE)


@dataclass(frozen=True)
class ExecOptions:
    per_test_timeout: float = 30.0
    run_timeout: float = 120.0  # per run of the runner's child; the runner runs twice
    runs: int = 2

    @property
    def task_timeout(self) -> float:
        """The outer bound for the whole runner process in the environment."""
        return self.run_timeout * self.runs + 60


_COVERAGE: "weakref.WeakKeyDictionary[Environment, str]" = weakref.WeakKeyDictionary()
_COVERAGE_LOCK = threading.Lock()


def coverage_pythonpath(env: Environment) -> str:
    """Make coverage importable by the runner in `env`; return the PYTHONPATH entry it needs ('' if none).

    Repo images and venvs need not contain coverage. When the environment's interpreter lacks it,
    this interpreter's coverage package is copied in (its pure-Python tracer takes over where the
    compiled one does not fit). When even that fails, the runner reports coverage as unavailable.
    """
    with _COVERAGE_LOCK:
        if env in _COVERAGE:
            return _COVERAGE[env]
        check = "import coverage, sys; sys.exit(0 if coverage.version_info >= (7, 6) else 1)"
        value = ""
        if not env.execute(f"{env.python} -c '{check}'", timeout=120).ok:
            import coverage

            dest = f"/tmp/r2e-coverage-{coverage.__version__}-{uuid.uuid4().hex[:8]}"
            env.copy_to(Path(coverage.__file__).parent, f"{dest}/coverage")
            if env.execute(f"PYTHONPATH={dest} {env.python} -c '{check}'", timeout=120).ok:
                value = dest
        _COVERAGE[env] = value
        return value


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def execute_harness(env: Environment, record: FunctionRecord, test_code: str, opts: ExecOptions,
                    candidate_code: str | None = None) -> HarnessResult:
    """Run `test_code` against the function inside `env`; never raises for a bad test.

    The result is the runner's JSON plus `status`, `test_sha256` and `exec` (the outer command's facts).
    """
    remote = f"/tmp/r2e-harness-{uuid.uuid4().hex}"
    spec = {
        "repo_root": env.workdir, "path": record.path, "name": record.name, "class_name": record.class_name,
        "start_line": record.start_line, "end_line": record.end_line,
        "test_file": f"{remote}/test_harness.py",
        "candidate_file": f"{remote}/candidate.py" if candidate_code is not None else None,
        "per_test_timeout": opts.per_test_timeout, "run_timeout": opts.run_timeout, "runs": opts.runs,
        "max_captures": 50,
    }
    base = {"function": record.id, "test_sha256": sha256(test_code)}
    with tempfile.TemporaryDirectory(prefix="r2e-exec-") as tmp:
        local = Path(tmp) / "in"
        local.mkdir()
        (local / "runner.py").write_text(sandbox.script("runner.py"))
        (local / "test_harness.py").write_text(test_code)
        (local / "spec.json").write_text(json.dumps(spec))
        if candidate_code is not None:
            (local / "candidate.py").write_text(candidate_code)
        try:
            env.copy_to(local, remote)
            extra = coverage_pythonpath(env)
            prefix = f"PYTHONPATH={extra} " if extra else ""
            res = env.execute(f"{prefix}{env.python} {remote}/runner.py {remote}/spec.json {remote}/out.json",
                              timeout=opts.task_timeout)
            out = Path(tmp) / "out.json"
            try:
                env.copy_from(f"{remote}/out.json", out)
                body = out.read_bytes()
                result = json.loads(body.decode("utf-8"))
            except (OSError, ValueError, KeyError) as exc:
                result = None
                copy_error = f"{type(exc).__name__}: {exc}"
        finally:
            env.execute(f"rm -rf {remote}", timeout=60)
    exec_info = {"exit_code": res.exit_code, "timed_out": res.timed_out, "duration": round(res.duration, 3)}
    if result is None:
        status = "timeout" if res.timed_out else "crashed"
        return HarnessResult.from_dict({
            **base, "status": status, "valid": False, "exec": exec_info, "counts": None, "coverage": None,
            "reasons": [f"the runner produced no result ({copy_error})"], "output": res.output[-4000:]})
    digests = _DIGEST.findall(res.output)
    if not digests or digests[-1] != hashlib.sha256(body).hexdigest():
        # Something other than the runner (a process the test left behind) rewrote its verdict.
        return HarnessResult.from_dict({
            **base, "status": "invalid", "valid": False, "exec": exec_info, "counts": None, "coverage": None,
            "reasons": ["the result file is not the one the runner wrote (digest mismatch)"],
            "output": res.output[-4000:]})
    if result.get("timed_out") and not result.get("valid"):
        status = "timeout"
    else:
        status = "valid" if result.get("valid") else "invalid"
    return HarnessResult.from_dict({**base, "status": status, **result, "exec": exec_info})


def crashed_result(record: FunctionRecord, error: BaseException) -> HarnessResult:
    """The result of a function whose harness never ran: its environment or the execution failed."""
    return HarnessResult(function=record.id, status="crashed", valid=False,
                         reasons=(f"{type(error).__name__}: {error}",))
