"""Run the carving tracer in a repo's Environment: the suite once with the targets wrapped, then the
replay check in a fresh process; the kept samples go to the sample store."""

from __future__ import annotations

import hashlib
import json
import shlex
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness import sandbox
from harness.carve.store import SampleStore
from harness.env_pool import EnvPool
from installers.environment import Environment
from r2e.experiment import Experiment
from r2e.stage_records import FunctionRecord
from r2e.workspace import now_iso
DEFAULT_PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist")


@dataclass(frozen=True)
class CarveOptions:
    max_samples: int = 20  # distinct kept samples per function
    max_attempts: int = 200  # calls pickled per function, then the wrapper only counts
    max_bytes: int = 64 * 1024  # per pickled sample (inputs, or a return value)
    suite_timeout: float = 1800.0  # the suite's budget: past it, the samples recorded so far are kept
    per_test_timeout: float = 60.0  # one test of the suite (setup, call, teardown); 0: no bound
    replay_timeout: float = 10.0  # per replayed call (never more than per_test_timeout)
    pytest_args: tuple[str, ...] = DEFAULT_PYTEST_ARGS
    baseline: bool = False  # also time the suite without the tracer (for the benchmark)
    extra_pytest_args: tuple[str, ...] = field(default_factory=tuple)


def carve_options(timeout_per_task: float, timeout_per_test: float, **more) -> CarveOptions:
    """genexec's bounds applied to carving: each suite test gets `--timeout-per-test`, the whole suite
    `--timeout-per-task` (one repo's carving is one task of the run)."""
    return CarveOptions(per_test_timeout=timeout_per_test, suite_timeout=timeout_per_task, **more)


def targets_of(records: list[FunctionRecord]) -> list[dict]:
    return [{"key": r.id, "path": r.path, "name": r.name, "class_name": r.class_name} for r in records]


def targets_sha(records: list[FunctionRecord]) -> str:
    return hashlib.sha256(json.dumps(targets_of(records), sort_keys=True).encode()).hexdigest()


PYTEST_PACKAGES = ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "py", "exceptiongroup", "tomli")


def pytest_pythonpath(env: Environment) -> str | None:
    """'' when the environment's interpreter has pytest; else a folder with this interpreter's pytest
    (pure Python) copied in, to put on PYTHONPATH; None when pytest cannot be made importable."""
    check = "import pytest"
    if env.execute(f"{shlex.quote(env.python)} -c '{check}'", timeout=120).ok:
        return ""
    import importlib.util

    dest = f"/tmp/r2e-pytest-{uuid.uuid4().hex[:8]}"
    for name in PYTEST_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        origin = Path(spec.origin)
        src = origin.parent if origin.name == "__init__.py" else origin
        env.copy_to(src, f"{dest}/{src.name}")
    if env.execute(f"PYTHONPATH={dest} {shlex.quote(env.python)} -c '{check}'", timeout=120).ok:
        return dest
    return None


def carve_repo(env: Environment, records: list[FunctionRecord], opts: CarveOptions) -> tuple[dict, dict]:
    """(report, kept samples by function id) for one repo. Failures come back in the report."""
    remote = f"/tmp/r2e-carve-{uuid.uuid4().hex}"
    replay_timeout = min(opts.replay_timeout, opts.per_test_timeout) if opts.per_test_timeout > 0 \
        else opts.replay_timeout
    spec = {"repo_root": env.workdir, "targets": targets_of(records),
            "pytest_args": list(opts.pytest_args) + list(opts.extra_pytest_args),
            "max_samples": opts.max_samples, "max_attempts": opts.max_attempts, "max_bytes": opts.max_bytes,
            "replay_timeout": replay_timeout, "wrap": True,
            "per_test_timeout": opts.per_test_timeout, "suite_budget": opts.suite_timeout}
    report: dict = {"status": "ok", "started": now_iso(), "targets_sha": targets_sha(records),
                    "options": {"max_samples": opts.max_samples, "max_attempts": opts.max_attempts,
                                "max_bytes": opts.max_bytes, "pytest_args": spec["pytest_args"],
                                "per_test_timeout": opts.per_test_timeout, "suite_timeout": opts.suite_timeout},
                    "functions": {}}
    with tempfile.TemporaryDirectory(prefix="r2e-carve-") as tmp:
        local = Path(tmp) / "in"
        local.mkdir()
        (local / "tracer.py").write_text(sandbox.script("tracer.py"))
        # names no repo uses: the replay imports them after the repo's own modules
        (local / "r2e_carve_compare.py").write_text(sandbox.script("compare.py"))
        (local / "r2e_carve_runner.py").write_text(sandbox.script("runner.py"))
        (local / "spec.json").write_text(json.dumps(spec))
        (local / "baseline.json").write_text(json.dumps({**spec, "wrap": False}))
        extra = pytest_pythonpath(env)
        if extra is None:
            report.update(status="no-pytest", error="pytest is not importable in the environment")
            return _finish(report, records, {}, {}), {}
        py = (f"PYTHONPATH={extra} " if extra else "") + shlex.quote(env.python)
        try:
            env.copy_to(local, remote)
            if opts.baseline:
                base = _run(env, f"{py} {remote}/tracer.py trace {remote}/baseline.json {remote}/base-out.json",
                            f"{remote}/base-out.json", Path(tmp) / "base-out.json", _outer(opts.suite_timeout))
                report["baseline"] = (base.get("data") or {}).get("suite") or {"error": base.get("error")}
            traced = _run(env, f"{py} {remote}/tracer.py trace {remote}/spec.json {remote}/trace.json",
                          f"{remote}/trace.json", Path(tmp) / "trace.json", _outer(opts.suite_timeout))
            if traced.get("data") is None:
                report.update(status="trace-failed", error=traced["error"], output=traced.get("output", "")[-3000:])
                return _finish(report, records, {}, {}), {}
            trace = traced["data"]
            report["suite"] = trace["suite"]
            if trace["suite"].get("timed_out"):
                report["status"] = "suite-timeout"  # the samples recorded before the cut still count
            report["suite_output"] = traced.get("output", "")[-2000:]
            replay_budget = opts.replay_timeout * 2 * max(1, sum(len(f["samples"]) for f in trace["functions"].values())) \
                + 5 * len(trace["functions"]) + 120  # one fresh process per function
            plain = shlex.quote(env.python)  # the replay runs like the harness: without a borrowed pytest
            replayed = _run(env, f"{plain} {remote}/tracer.py replay {remote}/spec.json {remote}/trace.json "
                                 f"{remote}/replay.json", f"{remote}/replay.json", Path(tmp) / "replay.json",
                            _outer(min(replay_budget, opts.suite_timeout)))
            if replayed.get("data") is None:
                report.update(status="replay-failed", error=replayed["error"],
                              output=replayed.get("output", "")[-3000:])
                return _finish(report, records, trace, {}), {}
            return _finish(report, records, trace, replayed["data"]), {
                fid: f["kept"] for fid, f in replayed["data"]["functions"].items() if f["kept"]}
        finally:
            env.execute(f"rm -rf {remote}", timeout=60)


def _outer(budget: float) -> float:
    """The environment's bound on a tracer command: the tracer's own budget first, then a margin
    for the interpreter's start and the result's write."""
    return budget + 30 + budget * 0.1


def _run(env: Environment, command: str, remote_out: str, local_out: Path, timeout: float) -> dict:
    res = env.execute(command, timeout=timeout)
    try:
        env.copy_from(remote_out, local_out)
        data = json.loads(local_out.read_text())
    except Exception as exc:  # noqa: BLE001 - any backend's "no such file" means no result
        why = "timed out" if res.timed_out else f"exit code {res.exit_code}, no result ({type(exc).__name__})"
        return {"data": None, "error": why, "output": res.output}
    return {"data": data, "output": res.output, "duration": res.duration}


def _finish(report: dict, records: list[FunctionRecord], trace: dict, replay: dict) -> dict:
    errors = (trace or {}).get("errors") or {}
    if "<suite>" in errors:
        report["suite_error"] = errors["<suite>"]
    for record in records:
        traced = ((trace or {}).get("functions") or {}).get(record.id)
        replayed = ((replay or {}).get("functions") or {}).get(record.id) or {}
        entry: dict = {"status": "not-traced", "kept": 0}
        if record.id in errors:
            entry.update(status="wrap-failed", error=errors[record.id])
        elif traced is not None:
            stats = traced["stats"]
            entry.update(stats=stats, recorded=len(traced["samples"]))
            if stats["calls"] == 0:
                entry["status"] = "never-called"
            elif not traced["samples"]:
                entry["status"] = "no-usable-inputs"
            else:
                entry["status"] = replayed.get("status", report["status"])
                entry["kept"] = len(replayed.get("kept") or [])
                entry["dropped"] = replayed.get("dropped") or {}
                entry["why_dropped"] = replayed.get("examples") or {}
                if replayed.get("error"):
                    entry["error"] = replayed["error"]
        report["functions"][record.id] = entry
    report["finished"] = now_iso()
    tally: dict[str, int] = {}
    for entry in report["functions"].values():
        tally[entry["status"]] = tally.get(entry["status"], 0) + 1
    report["summary"] = {"functions": len(records), "with_samples": sum(1 for e in report["functions"].values() if e["kept"]),
                         "by_status": tally}
    return report


REUSABLE = ("ok", "suite-timeout")  # a suite cut at its budget would be cut again: its samples stand


def carve_experiment(exp: Experiment, records: list[FunctionRecord], pool: EnvPool, opts: CarveOptions,
                     recarve: bool = False, echo: Callable[[str], None] = print) -> dict[str, dict]:
    """Carve every repo of `records` whose store is missing or was made for other targets. -> reports.

    The environments come from `pool`: the execution that follows carving reuses them."""
    store = SampleStore(exp)
    by_repo: dict[str, list[FunctionRecord]] = {}
    for record in records:
        by_repo.setdefault(record.repo, []).append(record)
    reports: dict[str, dict] = {}
    for repo_id, group in sorted(by_repo.items()):
        old = store.report(repo_id)
        if old and not recarve and old.get("targets_sha") == targets_sha(group) and old.get("status") in REUSABLE:
            reports[repo_id] = old
            echo(f"carve {repo_id}: reused ({old['summary']['with_samples']}/{len(group)} functions with samples)")
            continue
        started = time.monotonic()
        echo(f"carve {repo_id}: started ({len(group)} functions; per-test timeout {opts.per_test_timeout:g}s, "
             f"suite budget {opts.suite_timeout:g}s)")
        try:
            env = pool.get(repo_id)
        except Exception as exc:  # noqa: BLE001 - reported per repo
            reports[repo_id] = {"status": "no-environment", "error": f"{type(exc).__name__}: {exc}"}
            echo(f"carve {repo_id}: no environment ({exc}) after {time.monotonic() - started:.1f}s")
            continue
        try:
            report, kept = carve_repo(env, group, opts)
        finally:
            if not pool.keep_open:
                pool.release(repo_id)
        store.save(repo_id, report, kept)
        reports[repo_id] = report
        suite = report.get("suite") or {}
        echo(f"carve {repo_id}: finished in {time.monotonic() - started:.1f}s: {report['status']}; "
             f"suite exit {suite.get('exit_code')} in {suite.get('duration')}s "
             f"({suite.get('counts')}); {report['summary']['with_samples']}/{len(group)} functions with samples "
             f"{report['summary']['by_status']}")
    return reports
