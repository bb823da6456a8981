"""Build one repository into an environment: plan -> install -> oracle -> repairs -> result.

Writes, under the repo's build folder: result.json (last, atomically: its presence means done),
install.log (every command and its output), plan.json, Dockerfile (docker: reproduces the image
from the base), repairs.json (the LLM transcript, when a model was asked).
"""

from __future__ import annotations

import datetime as dt
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from installers.environment import Environment, ExecResult
from installers.oracle import OracleResult, run_oracle
from installers.plan import InstallPlan, make_plan
from installers.repairs import propose
from r2e.fsio import atomic_write_json, atomic_write_text

STATUSES = ("success", "partial", "failed", "timeout", "no_tests", "python2", "error")
RANK = {"success": 5, "partial": 4, "no_tests": 3, "failed": 1, "timeout": 0, "error": 0, "python2": 0}
INSTALL_TIMEOUT = 900
CANCELLED = threading.Event()  # set on Ctrl-C: running builds stop and record nothing (so they resume)


class BuildCancelled(Exception):
    pass


SCRIPT_KINDS = {"venv", "install", "editable", "pth", "optional", "build"}  # not tests, oracle runs or trials


@dataclass
class BuildOptions:
    backend: str = "docker"  # docker | local
    python: str | None = None  # force a version
    timeout_per_task: float = 1800
    test_timeout: float = 900
    min_pass_ratio: float = 0.95
    rules: bool = True  # rule-based repairs
    llm: object | None = None  # an r2e.llm.LLMConfig, or None
    max_repair_steps: int = 10
    rebuild: bool = False
    base_minimal: bool = False  # docker: use the small test base image
    docker_client: object | None = None
    wheelhouse: Path | None = None  # docker: resolve wheels on the host into this folder, install --no-index
    network: bool = True  # docker: False runs containers without any network
    commit: str | None = None  # the repo's commit, part of the image name hash


@dataclass
class Step:
    kind: str  # venv | install | editable | pth | optional | repair | llm
    command: str
    exit_code: int
    duration: float
    timed_out: bool = False

    def to_dict(self) -> dict:
        return {"kind": self.kind, "command": self.command, "exit_code": self.exit_code,
                "duration": round(self.duration, 2), "timed_out": self.timed_out}


class Installer:
    """Runs and records commands in one environment, within the task's deadline."""

    def __init__(self, env: Environment, log_path: Path, deadline: float, keep_log: bool = False):
        self.env, self.log_path, self.deadline = env, log_path, deadline
        self.steps: list[Step] = []
        self._log: list[str] = [log_path.read_text(encoding="utf-8")] if keep_log and log_path.exists() else []
        self.pip = pip_command(env)
        self.prefetch: Callable[[list[str]], None] | None = None  # wheelhouse mode: fetch dists on the host

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, kind: str, command: str, timeout: float = INSTALL_TIMEOUT, cwd: str | None = None) -> ExecResult:
        if CANCELLED.is_set():
            raise BuildCancelled()
        timeout = max(1.0, min(timeout, self.remaining()))
        res = self.env.execute(command, cwd=cwd, timeout=timeout)
        if CANCELLED.is_set():
            raise BuildCancelled()
        self.steps.append(Step(kind, command, res.exit_code, res.duration, res.timed_out))
        self.log(f"$ {command}\n[exit {res.exit_code}{' TIMEOUT' if res.timed_out else ''}, {res.duration:.1f}s]\n{res.output}")
        return res

    def log(self, text: str) -> None:
        self._log.append(text.rstrip() + "\n")
        atomic_write_text(self.log_path, "".join(self._log))

    def script(self, plan: InstallPlan) -> list[str]:
        """The install script of record: install steps that succeeded, then the repairs that helped."""
        base = [s.command for s in self.steps if s.exit_code == 0 and s.kind in SCRIPT_KINDS]
        return base + [c for c in plan.extra_steps if c not in base]


def pip_command(env: Environment, wheelhouse: bool = False) -> str:
    offline = f" --no-index --find-links {WHEELHOUSE_PATH}" if wheelhouse else ""
    return f"uv pip install --python {env.python}{offline}"


WHEELHOUSE_PATH = "/wheelhouse"


def install(inst: Installer, plan: InstallPlan, *, docker: bool) -> tuple[list[str], str]:
    """Make the venv and install the plan; return (requirements that failed, install output)."""
    env = inst.env
    output = []
    if docker:
        venv_cmd = f"uv venv --quiet --python /usr/bin/python3 {env.venv}"
    else:
        from installers.local_env import find_python

        interpreter = find_python(plan.python) or plan.python
        venv_cmd = f"UV_PYTHON_DOWNLOADS=never uv venv --quiet --python {interpreter} {env.venv}"
    res = inst.run("venv", venv_cmd, timeout=300)
    if not res.ok and not docker:
        inst.log(f"note: Python {plan.python} is not installed on this host; using {sys.executable}")
        plan.notes.append(f"local Python {plan.python} unavailable: used {sys.version.split()[0]}")
        res = inst.run("venv", f"uv venv --quiet --python {sys.executable} {env.venv}", timeout=300)
    if not res.ok:
        return ["<venv>"], res.output
    pip = inst.pip
    failed: list[str] = []
    if inst.prefetch is not None:
        inst.prefetch(plan.all_requirements() + list(plan.optional.values()))
    for reqs in plan.requirement_groups():
        res = inst.run("install", f"{pip} " + " ".join(shlex.quote(r) for r in reqs))
        output.append(res.output)
        if not res.ok and inst.remaining() > 0:
            for req in reqs:  # one bad distribution must not sink the others
                r = inst.run("install", f"{pip} {shlex.quote(req)}")
                if not r.ok:
                    failed.append(req)
                    output.append(r.output)
    editable_ok = False
    if plan.installable and inst.remaining() > 0:
        res = inst.run("editable", f"{pip} -e {env.workdir}")
        editable_ok = res.ok
        if not res.ok:
            output.append(res.output)
    if not editable_ok:
        paths = "\\n".join(env.workdir if d == "." else f"{env.workdir}/{d}" for d in plan.src_dirs)
        inst.run("pth", f"{env.python} -c \"import sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()['purelib'],"
                        f" '_r2e_repo.pth').write_text('{paths}\\n')\"", timeout=60)
    for dist in plan.optional.values():
        if inst.remaining() <= 0:
            break
        inst.run("optional", f"{pip} {shlex.quote(dist)}")
    for cmd in plan.extra_steps:
        inst.run("repair", cmd)
    return failed, "\n".join(output)


def failure_of(status: str, failed_reqs: list[str], oracle: OracleResult | None) -> dict | None:
    if status == "success":
        return None
    if status == "python2":
        return {"class": "python2", "message": "Python-2-only code is reported, not installed", "module": None}
    if oracle and not oracle.imports_ok:
        for module, err in oracle.import_errors.items():
            return {"class": err.get("type", "ImportError"), "message": err.get("message", ""),
                    "module": err.get("module") or module}
    if failed_reqs and (oracle is None or status != "partial"):
        return {"class": "InstallError", "message": f"could not install {', '.join(failed_reqs[:5])}",
                "module": failed_reqs[0]}
    if oracle is None:
        return {"class": "Error", "message": "no oracle result", "module": None}
    if oracle.timed_out or status == "timeout":
        return {"class": "Timeout", "message": "the task's time ran out", "module": None}
    if status == "no_tests":
        return {"class": "NoTests", "message": "no tests ran", "module": None}
    if not oracle.tests_run and oracle.pytest_exit not in (None, 0, 5):
        last = (oracle.output_tail.strip().splitlines() or [""])[-1]
        return {"class": "TestsDidNotStart", "message": f"pytest exit {oracle.pytest_exit}: {last[:300]}", "module": None}
    return {"class": "TestsFailed", "message": f"pass ratio {oracle.pass_ratio} ({oracle.passed}/{oracle.total})",
            "module": None}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def write_dockerfile(path: Path, base: str, commands: list[str], workdir: str) -> None:
    lines = ["# Reproduces this repo's image from the base image (built by `r2e images build-base`).",
             f"FROM {base}", f"COPY . {workdir}", f"WORKDIR {workdir}"]
    lines += [f"RUN {c}" for c in commands]
    lines += [f"ENV VIRTUAL_ENV={workdir}/.venv PATH={workdir}/.venv/bin:$PATH"]
    atomic_write_text(path, "\n".join(lines) + "\n")


EnvFactory = Callable[[InstallPlan], Environment]


def build_repo(repo_id: str, repo_path: Path, out_dir: Path, opts: BuildOptions,
               env_factory: EnvFactory | None = None, log: Callable[[str], None] | None = None) -> dict:
    """Build one repo; always returns (and saves) its result dict, failures included."""
    out_dir.mkdir(parents=True, exist_ok=True)
    started, t0 = now_iso(), time.monotonic()
    deadline = t0 + opts.timeout_per_task
    result: dict = {"repo": repo_id, "backend": opts.backend, "started": started}
    try:
        result.update(_build(repo_id, Path(repo_path), out_dir, opts, deadline, env_factory))
    except BuildCancelled:
        return {**result, "status": "cancelled"}  # no result.json: the next run builds it again
    except Exception as exc:  # an unexpected failure is data, never a crashed batch
        if CANCELLED.is_set():
            return {**result, "status": "cancelled"}
        result.update(status="error", failure={"class": type(exc).__name__, "message": str(exc)[:500], "module": None})
    if CANCELLED.is_set():  # interrupted midway: what ran is not a verdict
        return {**result, "status": "cancelled"}
    result["duration"] = round(time.monotonic() - t0, 2)
    result["finished"] = now_iso()
    atomic_write_json(out_dir / "result.json", result)
    return result


def _build(repo_id: str, repo_path: Path, out_dir: Path, opts: BuildOptions, deadline: float,
           env_factory: EnvFactory | None) -> dict:
    plan = make_plan(repo_path, opts.python)
    atomic_write_json(out_dir / "plan.json", plan.to_dict())
    from installers.cbuild import detect, is_c_repo

    if is_c_repo(repo_path, plan.python_files):
        return _build_c(repo_id, repo_path, out_dir, opts, deadline, env_factory, plan, detect(repo_path))
    if plan.python2:
        atomic_write_text(out_dir / "install.log", "Python-2-only repository: not installed.\n")
        return {"status": "python2", "python": None, "plan": plan.to_dict(), "commands": [], "oracle": None,
                "failure": failure_of("python2", [], None), "image": None, "repair_steps": []}
    docker = opts.backend == "docker"
    if env_factory is None:
        from installers.backends import default_env_factory

        env_factory = default_env_factory(repo_id, repo_path, out_dir, opts)
    tried: set[str] = set()
    repair_steps: list[dict] = []
    attempt = 0
    while True:
        attempt += 1
        outcome = _attempt(repo_id, plan, out_dir, opts, deadline, env_factory, docker, tried, repair_steps,
                           keep_log=attempt > 1)
        restart = outcome.pop("restart_python", None)
        if restart and attempt < 3 and time.monotonic() < deadline:
            plan.python, plan.python_reason = restart, f"repair: restarted with Python {restart}"
            continue
        break
    outcome.update(python=plan.python, python_reason=plan.python_reason, plan=plan.to_dict(),
                   repair_steps=repair_steps)
    atomic_write_json(out_dir / "plan.json", plan.to_dict())
    return outcome


def _attempt(repo_id, plan, out_dir, opts, deadline, env_factory, docker, tried, repair_steps,
             keep_log: bool = False) -> dict:
    env = env_factory(plan)
    inst = Installer(env, out_dir / "install.log", deadline, keep_log=keep_log)
    if keep_log:
        inst.log(f"# restarting the install with Python {plan.python}")
    try:
        if docker and opts.wheelhouse is not None:
            _use_wheelhouse(inst, plan, Path(opts.wheelhouse))
        prepared = getattr(env, "r2e_reused_image", None)
        if prepared:
            inst.log(f"reusing image {prepared} (plan unchanged; --rebuild forces a new one)")
            failed, install_out = [], ""
        else:
            failed, install_out = install(inst, plan, docker=docker)
        oracle = _oracle(env, plan, opts, inst)
        status = _status(oracle, inst, opts)
        if opts.rules and status != "success":
            oracle, status, restart, failed = _rule_repairs(inst, plan, opts, docker, oracle, status, failed,
                                                    install_out, tried, repair_steps)
            if restart:
                return {"restart_python": restart}
        if opts.llm is not None and status not in ("success",) and inst.remaining() > 0:
            from installers.llm_repair import llm_repair

            oracle, status = llm_repair(inst, plan, opts, oracle, status, out_dir, repair_steps,
                                        lambda: _oracle(env, plan, opts, inst),
                                        lambda o: _status(o, inst, opts))
        image = None
        commands = inst.script(plan)
        if docker:
            from installers.backends import finish_docker

            image = finish_docker(env, repo_id, plan, opts, commands, out_dir, status)
        return {"status": status, "commands": [s.to_dict() for s in inst.steps], "install_script": commands,
                "oracle": oracle.to_dict(),
                "failure": failure_of(status, failed, oracle), "image": image,
                "venv": env.venv, "workdir": env.workdir, "failed_requirements": failed}
    finally:
        env.close()


def _use_wheelhouse(inst: Installer, plan: InstallPlan, root: Path) -> None:
    """Installs come from wheels fetched on the host (containers without index access)."""
    from installers.wheelhouse import fill

    folder = root / f"py{plan.python}"

    def prefetch(reqs: list[str]) -> None:
        t = time.monotonic()
        failed, log = fill(reqs, plan.python, folder, timeout=max(30.0, min(900.0, inst.remaining())))
        inst.log(f"# wheelhouse {folder}: {len(reqs)} requirement(s), {len(failed)} not found, "
                 f"{time.monotonic() - t:.1f}s\n{log[-2000:] if failed else ''}")
        inst.env.execute(f"rm -rf {WHEELHOUSE_PATH}", cwd="/", timeout=60)
        inst.env.copy_to(folder, WHEELHOUSE_PATH)

    inst.pip = pip_command(inst.env, wheelhouse=True)
    inst.prefetch = prefetch


def _oracle(env: Environment, plan: InstallPlan, opts: BuildOptions, inst: Installer) -> OracleResult:
    timeout = max(1.0, min(opts.test_timeout, inst.remaining()))
    oracle = run_oracle(env, plan.top_level, has_tests=plan.has_tests, test_timeout=timeout)
    inst.log(f"# oracle: imports_ok={oracle.imports_ok} errors={list(oracle.import_errors)} "
             f"passed={oracle.passed} failed={oracle.failed} errors={oracle.errors} ratio={oracle.pass_ratio}\n"
             f"{oracle.output_tail[-3000:]}")
    return oracle


def _status(oracle: OracleResult, inst: Installer, opts: BuildOptions) -> str:
    status = oracle.status(opts.min_pass_ratio)
    if status != "success" and inst.remaining() <= 0:
        return "timeout"
    return status


def _rule_repairs(inst, plan, opts, docker, oracle, status, failed, install_out, tried, repair_steps):
    pip = inst.pip
    for _ in range(opts.max_repair_steps):
        if inst.remaining() <= 0:
            break
        repairs = propose(oracle, install_out, failed, plan, pip, docker, tried)
        if not repairs:
            break
        repair = repairs[0]
        tried.add(repair.key)
        if repair.dists and inst.prefetch is not None:
            inst.prefetch(repair.dists)
        if repair.python:
            repair_steps.append({"source": "rule", **repair.to_dict(), "helped": None})
            return oracle, status, repair.python, failed
        ok = all(inst.run("repair", cmd).ok for cmd in repair.commands)
        new_oracle = _oracle(inst.env, plan, opts, inst)
        new_status = _status(new_oracle, inst, opts)
        helped = ok and _better(new_oracle, new_status, oracle, status)
        repair_steps.append({"source": "rule", **repair.to_dict(), "helped": helped, "status_after": new_status})
        if helped:
            plan.extra_steps += repair.commands  # folded into the install script
            plan.system_packages += repair.system_packages
            if repair.rule == "relax-pins":
                failed = []
            install_out = ""
        oracle, status = new_oracle, new_status
        if status == "success":
            break
    return oracle, status, None, failed


def _better(new: OracleResult, new_status: str, old: OracleResult, old_status: str) -> bool:
    if RANK.get(new_status, 0) != RANK.get(old_status, 0):
        return RANK.get(new_status, 0) > RANK.get(old_status, 0)
    if len(new.import_errors) != len(old.import_errors):
        return len(new.import_errors) < len(old.import_errors)
    return (new.pass_ratio or 0) > (old.pass_ratio or 0) or new.passed > old.passed


def _build_c(repo_id, repo_path, out_dir, opts, deadline, env_factory, plan, cb) -> dict:
    from installers.cbuild import c_status, run_c_oracle

    docker = opts.backend == "docker"
    if env_factory is None:
        from installers.backends import default_env_factory

        env_factory = default_env_factory(repo_id, repo_path, out_dir, opts)
    env = env_factory(plan)
    inst = Installer(env, out_dir / "install.log", deadline)
    repair_steps: list[dict] = []
    try:
        inst.log(f"# C repository: {cb.system} build")
        oracle = run_c_oracle(env, cb, inst.run, opts.test_timeout)
        status = c_status(oracle, opts.min_pass_ratio)
        tried: set[str] = set()
        while opts.rules and status not in ("success",) and inst.remaining() > 0 and len(repair_steps) < opts.max_repair_steps:
            repairs = [r for r in propose(None, oracle["output_tail"], [], plan, inst.pip, docker, tried)
                       if r.rule == "debian-package"]
            if not repairs:
                break
            repair = repairs[0]
            tried.add(repair.key)
            ok = all(inst.run("repair", c).ok for c in repair.commands)
            new = run_c_oracle(env, cb, inst.run, opts.test_timeout)
            new_status = c_status(new, opts.min_pass_ratio)
            helped = ok and RANK.get(new_status, 0) > RANK.get(status, 0)
            repair_steps.append({"source": "rule", **repair.to_dict(), "helped": helped, "status_after": new_status})
            if helped:
                plan.extra_steps += repair.commands
                plan.system_packages += repair.system_packages
            oracle, status = new, new_status
        image = None
        if docker:
            from installers.backends import finish_docker

            image = finish_docker(env, repo_id, plan, opts, inst.script(plan), out_dir, status)
        failure = None if status == "success" else {
            "class": "BuildFailed" if not oracle["built"] else ("NoTests" if status == "no_tests" else "TestsFailed"),
            "message": oracle["output_tail"][-300:], "module": None}
        return {"status": status, "language": "c", "build_system": cb.system, "python": None,
                "commands": [s.to_dict() for s in inst.steps], "oracle": oracle, "failure": failure,
                "image": image, "workdir": env.workdir, "plan": plan.to_dict(), "repair_steps": repair_steps}
    finally:
        env.close()
