"""Build one repository into an environment: plan -> install -> eval script -> oracle -> repairs -> result.

The tests run the way the maintainers run them: the test command discovered in the checkout
(test_discovery) becomes the environment's eval script of record (/run_tests.sh in an image), and
the oracle judges its per-test map. The pytest plugins the project's own options need are added to
the test requirements (its options are never blanked).

Writes, under the repo's build folder (`BuildFiles`): result.json (last, atomically: its presence
means done; with the test command, the eval script and the per-test map), run_tests.sh (the eval
script), install.log (every command and its output), plan.json, Dockerfile and sandbox/ (docker:
reproduce the image from the base), repairs.json (the LLM transcript, when a model was asked).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from installers.backends import EnvFactory, ImagePlan, default_env_factory, finish_docker
from installers.cbuild import CBuild, c_failure, c_status, detect, is_c_repo, run_c_oracle
from installers.declared import normalize, req_name
from installers.environment import Environment
from installers.eval_run import EvalScript, install_eval_script
from installers.eval_script import SANDBOX_DIR, render_eval_script, sandbox_source, unittest_command
from installers.installer import CANCELLED, WHEELHOUSE_PATH, BuildCancelled, Installer, pip_command
from installers.llm_repair import llm_repair
from installers.local_env import find_python
from installers.options import BuildOptions
from installers.oracle import STATUS_RANK, better, oracle_status, run_oracle
from installers.plan import InstallPlan, make_plan
from installers.repairs import propose
from installers.test_discovery import TestCommand, discover_test_command
from installers.test_results import TestRun
from installers.wheelhouse import fill
from r2e.errors import R2EError
from r2e.experiment import BuildFiles, Experiment
from r2e.fsio import atomic_write_json, atomic_write_text
from r2e.llm.redact import secrets_of
from r2e.stage_records import BuildResult, Failure, OracleResult
from r2e.workspace import now_iso

MAX_ATTEMPTS = 3  # the first install plus at most two restarts with another Python
# The discovered command's runner -> the eval script's: `python -m tests.all` and `python run_tests.py`
# run under R2E's recording unittest runner; anything else is judged by the reporters it reaches.
EVAL_RUNNERS = {"pytest": "pytest", "unittest": "unittest", "module": "unittest", "script": "unittest"}


def build_repo(repo_id: str, repo_path: Path, exp: Experiment, opts: BuildOptions,
               env_factory: EnvFactory | None = None) -> BuildResult:
    """Build one repo; always returns its result, failures included, and saves it in `exp`.

    A build interrupted by Ctrl-C returns status "cancelled" and saves nothing, so it runs again."""
    files = exp.build_files(repo_id)
    files.dir.mkdir(parents=True, exist_ok=True)
    started, t0 = now_iso(), time.monotonic()
    cancelled = BuildResult(repo_id, "cancelled", backend=opts.backend, started=started)
    try:
        result = RepoBuild(repo_id, Path(repo_path), files, opts, t0 + opts.timeout_per_task, env_factory).run()
    except BuildCancelled:
        return cancelled
    except Exception as exc:  # an unexpected failure is data, never a crashed batch
        if CANCELLED.is_set():
            return cancelled
        result = BuildResult(repo_id, "error", backend=opts.backend, failure=Failure(type(exc).__name__, str(exc)[:500]))
    if CANCELLED.is_set():  # interrupted midway: what ran is not a verdict
        return cancelled
    result = replace(result, started=started, duration=round(time.monotonic() - t0, 2), finished=now_iso())
    exp.write_build_result(result)
    return result


@dataclass(frozen=True)
class Restart:
    """A repair asked to install again from scratch with another Python."""

    python: str


def failure_of(status: str, failed_reqs: list[str], oracle: OracleResult | None) -> Failure | None:
    """Why a Python build is not a success: the first import error, the requirements that failed, or the tests."""
    if status == "success":
        return None
    if status == "python2":
        return Failure("python2", "Python-2-only code is reported, not installed")
    if oracle and not oracle.imports_ok:
        for module, err in oracle.import_errors.items():
            return Failure(err.get("type", "ImportError"), err.get("message", ""), err.get("module") or module)
    if failed_reqs and (oracle is None or status != "partial"):
        return Failure("InstallError", f"could not install {', '.join(failed_reqs[:5])}", failed_reqs[0])
    if oracle is None:
        return Failure("Error", "no oracle result")
    if oracle.timed_out or status == "timeout":
        return Failure("Timeout", "the task's time ran out")
    if status == "no_tests":
        return Failure("NoTests", "no tests ran")
    if not oracle.tests_run and oracle.pytest_exit not in (None, 0, 5):
        last = (oracle.output_tail.strip().splitlines() or [""])[-1]
        return Failure("TestsDidNotStart", f"test command exit {oracle.pytest_exit}: {last[:300]}")
    return Failure("TestsFailed", f"pass ratio {oracle.pass_ratio} ({oracle.passed}/{oracle.total})")


def discover(repo_path: Path) -> TestCommand:
    """The maintainers' test command; pytest's default when the checkout cannot be read for one."""
    try:
        return discover_test_command(repo_path)
    except Exception as exc:  # discovery reads untrusted files: a surprise there must not sink the build
        return TestCommand(runner="pytest", command="python -m pytest", argv=("python", "-m", "pytest"),
                           source="default", reason=f"test command discovery failed ({type(exc).__name__}:"
                                                    f" {str(exc)[:200]}); pytest's default")


def eval_runner(tc: TestCommand) -> str:
    """The eval script's runner kind for a discovered command (`other` when the unittest runner cannot take it)."""
    runner = EVAL_RUNNERS.get(tc.runner, "other")
    if runner == "unittest":
        try:
            unittest_command(tc.command, SANDBOX_DIR)
        except R2EError:  # `cd sub && python -m ...`, pipelines: run as written, judged by what reports
            return "other"
    return runner


def runs_tests(plan: InstallPlan, tc: TestCommand) -> bool:
    """Run the tests when the scan saw test files or the project names a test command of its own."""
    return plan.has_tests or tc.source != "default"


def add_test_requirements(plan: InstallPlan, tc: TestCommand) -> None:
    """pytest when the command runs it, and the plugins the project's own pytest options need."""
    wanted = (["pytest"] if tc.runner == "pytest" and runs_tests(plan, tc) else []) + list(tc.plugins_needed)
    have = {req_name(r) for r in [*plan.requirements, *plan.test_requirements]}
    for dist in wanted:
        if normalize(dist) not in have:
            plan.test_requirements.append(dist)
            have.add(normalize(dist))


def eval_key(tc: TestCommand, runner: str, opts: BuildOptions) -> str:
    """What an image's eval script is made from: the script text and the reporters' code."""
    text = render_eval_script(tc.command, runner=runner, venv="/testbed/.venv", per_test_timeout=opts.per_test_timeout,
                              suite_timeout=opts.test_timeout)
    digest = hashlib.sha256(text.encode())
    for source in sorted(sandbox_source().glob("r2e_*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def install(inst: Installer, plan: InstallPlan, *, docker: bool) -> tuple[list[str], str]:
    """Make the venv and install the plan; return (requirements that failed, install output)."""
    env = inst.env
    output = []
    if docker:
        venv_cmd = f"uv venv --quiet --python /usr/bin/python3 {env.venv}"
    else:
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


class RepoBuild:
    """One repository's build, from its plan to its (unsaved) result."""

    def __init__(self, repo_id: str, repo_path: Path, files: BuildFiles, opts: BuildOptions, deadline: float,
                 env_factory: EnvFactory | None):
        self.repo_id, self.repo_path, self.files, self.opts, self.deadline = repo_id, repo_path, files, opts, deadline
        self.secrets = tuple(secrets_of(opts.llm)) if opts.llm is not None else ()
        self.env_factory = env_factory
        self.docker = opts.backend == "docker"
        self.tried: set[str] = set()  # repair keys already tried, across restarts
        self.repair_steps: list[dict] = []
        self.tc: TestCommand | None = None
        self.runner = "pytest"
        self.script: EvalScript | None = None
        self.runs: list[tuple[OracleResult, TestRun | None]] = []  # each oracle with the test run it counted

    def run(self) -> BuildResult:
        plan = make_plan(self.repo_path, self.opts.python)
        atomic_write_json(self.files.plan, plan.to_dict())
        if is_c_repo(self.repo_path, plan.python_files):
            self.env_factory = self.env_factory or default_env_factory(self.repo_id, self.repo_path, self.files,
                                                                       self.opts)
            return self.build_c(plan, detect(self.repo_path))
        if plan.python2:
            atomic_write_text(self.files.install_log, "Python-2-only repository: not installed.\n")
            return BuildResult(self.repo_id, "python2", backend=self.opts.backend, plan=plan.to_dict(),
                               failure=failure_of("python2", [], None))
        self.tc = discover(self.repo_path)
        self.runner = eval_runner(self.tc)
        add_test_requirements(plan, self.tc)
        atomic_write_json(self.files.plan, plan.to_dict())
        self.env_factory = self.env_factory or default_env_factory(
            self.repo_id, self.repo_path, self.files, self.opts, eval_key(self.tc, self.runner, self.opts))
        attempt = 1
        while True:
            outcome = self.attempt(plan, keep_log=attempt > 1,
                                   can_restart=attempt < MAX_ATTEMPTS and time.monotonic() < self.deadline)
            if not isinstance(outcome, Restart):
                break
            attempt += 1
            plan.python, plan.python_reason = outcome.python, f"repair: restarted with Python {outcome.python}"
        atomic_write_json(self.files.plan, plan.to_dict())
        return outcome

    # ------------------------------------------------------------------ Python
    def attempt(self, plan: InstallPlan, *, keep_log: bool, can_restart: bool) -> BuildResult | Restart:
        """Install the plan in a fresh environment, check it, repair it; the environment is closed after."""
        env, image = self.env_factory(plan)
        inst = Installer(env, self.files.install_log, self.deadline, keep_log=keep_log, secrets=self.secrets)
        if keep_log:
            inst.log(f"# restarting the install with Python {plan.python}")
        try:
            if self.docker and self.opts.wheelhouse is not None:
                self.use_wheelhouse(inst, plan, Path(self.opts.wheelhouse))
            if image is not None and image.reused:
                inst.log(f"reusing image {image.image} (plan unchanged; --rebuild forces a new one)")
                failed: list[str] = []
                install_out = ""
            else:
                failed, install_out = install(inst, plan, docker=self.docker)
            self.install_eval(inst)
            oracle = self.oracle(inst, plan)
            status = self.status(oracle, inst)
            if self.opts.rules and status != "success":
                outcome = self.rule_repairs(inst, plan, oracle, status, failed, install_out, can_restart)
                if isinstance(outcome, Restart):
                    return outcome
                oracle, status, failed = outcome
            if self.opts.llm is not None and status != "success" and inst.remaining() > 0:
                oracle, status = llm_repair(inst, plan, self.opts, oracle, status, self.files.repairs,
                                            self.repair_steps, lambda: self.oracle(inst, plan),
                                            lambda o: self.status(o, inst))
            script = inst.script(plan)
            run = self.run_of(oracle)
            atomic_write_text(self.files.run_tests, self.script.text)
            return BuildResult(
                self.repo_id, status, backend=self.opts.backend, python=plan.python,
                python_reason=plan.python_reason, plan=plan.to_dict(), commands=inst.step_dicts(),
                install_script=tuple(script), oracle=oracle, failure=failure_of(status, failed, oracle),
                image=self.finish(env, image, script, status, self.script), venv=env.venv, workdir=env.workdir,
                failed_requirements=tuple(failed), repair_steps=tuple(self.repair_steps),
                test_command=json.loads(json.dumps(self.tc.to_dict())), eval_script=self.script.text,
                eval_script_path=self.script.path, eval_timeout=self.script.eval_timeout,
                test_run=run.to_dict() if run is not None else None)
        finally:
            env.close()

    def install_eval(self, inst: Installer) -> None:
        """The eval script of record into the environment, its noise kept out of `git status`."""
        self.script = install_eval_script(inst.env, self.tc.command, runner=self.runner,
                                          per_test_timeout=self.opts.per_test_timeout,
                                          suite_timeout=self.opts.test_timeout)
        inst.log(f"# test command ({self.tc.source}): {self.tc.command}\n# why: {self.tc.reason}\n"
                 f"# eval script: {self.script.path} (runner {self.runner}, per-test timeout "
                 f"{self.opts.per_test_timeout}, suite budget {self.opts.test_timeout})")

    def run_of(self, oracle: OracleResult) -> TestRun | None:
        return next((run for o, run in reversed(self.runs) if o is oracle), None)

    def use_wheelhouse(self, inst: Installer, plan: InstallPlan, root: Path) -> None:
        """Installs come from wheels fetched on the host (containers without index access)."""
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

    def oracle(self, inst: Installer, plan: InstallPlan) -> OracleResult:
        script = self.script if runs_tests(plan, self.tc) else None
        oracle, run = run_oracle(inst.env, plan.top_level, script, timeout=max(1.0, inst.remaining()))
        self.runs.append((oracle, run))
        flaky = f" flaky={list(run.flaky)}" if run is not None and run.flaky else ""
        inst.log(f"# oracle: imports_ok={oracle.imports_ok} errors={list(oracle.import_errors)} "
                 f"passed={oracle.passed} failed={oracle.failed} errors={oracle.errors} ratio={oracle.pass_ratio}"
                 f"{flaky}\n{oracle.output_tail[-3000:]}")
        return oracle

    def status(self, oracle: OracleResult, inst: Installer) -> str:
        status = oracle_status(oracle, self.opts.min_pass_ratio)
        if status != "success" and inst.remaining() <= 0:
            return "timeout"
        return status

    def rule_repairs(self, inst: Installer, plan: InstallPlan, oracle: OracleResult, status: str,
                     failed: list[str], install_out: str,
                     can_restart: bool) -> tuple[OracleResult, str, list[str]] | Restart:
        """Apply the first proposed rule repair, keep it when the oracle improves; repeat within the bound."""
        for _ in range(self.opts.max_repair_steps):
            if inst.remaining() <= 0:
                break
            repairs = propose(oracle, install_out, failed, plan, inst.pip, self.docker, self.tried)
            if not repairs:
                break
            repair = repairs[0]
            self.tried.add(repair.key)
            if repair.dists and inst.prefetch is not None:
                inst.prefetch(repair.dists)
            if repair.python:
                if not can_restart:  # out of restarts or time: try the other repairs instead
                    continue
                self.repair_steps.append({"source": "rule", **repair.to_dict(), "helped": None})
                return Restart(repair.python)
            ok = all(inst.run("repair", cmd).ok for cmd in repair.commands)
            new_oracle = self.oracle(inst, plan)
            new_status = self.status(new_oracle, inst)
            helped = ok and better(new_oracle, new_status, oracle, status)
            self.repair_steps.append({"source": "rule", **repair.to_dict(), "helped": helped,
                                      "status_after": new_status})
            if helped:
                plan.extra_steps += repair.commands  # folded into the install script
                plan.system_packages += repair.system_packages
                if repair.rule == "relax-pins":
                    failed = []
                install_out = ""
            oracle, status = new_oracle, new_status
            if status == "success":
                break
        return oracle, status, failed

    def finish(self, env: Environment, image: ImagePlan | None, script: list[str], status: str,
               eval_script: EvalScript | None = None) -> str | None:
        """The image of record (docker), committed from the environment the build ran in."""
        if image is None:
            return None
        return finish_docker(env, image, script, self.files, status, eval_script)

    # ------------------------------------------------------------------ C
    def build_c(self, plan: InstallPlan, cb: CBuild) -> BuildResult:
        env, image = self.env_factory(plan)
        inst = Installer(env, self.files.install_log, self.deadline, secrets=self.secrets)
        try:
            inst.log(f"# C repository: {cb.system} build")
            oracle = run_c_oracle(env, cb, inst.run, self.opts.test_timeout)
            status = c_status(oracle, self.opts.min_pass_ratio)
            while (self.opts.rules and status != "success" and inst.remaining() > 0
                   and len(self.repair_steps) < self.opts.max_repair_steps):
                repairs = [r for r in propose(None, oracle.output_tail, [], plan, inst.pip, self.docker, self.tried)
                           if r.rule == "debian-package"]
                if not repairs:
                    break
                repair = repairs[0]
                self.tried.add(repair.key)
                ok = all(inst.run("repair", c).ok for c in repair.commands)
                new = run_c_oracle(env, cb, inst.run, self.opts.test_timeout)
                new_status = c_status(new, self.opts.min_pass_ratio)
                helped = ok and STATUS_RANK.get(new_status, 0) > STATUS_RANK.get(status, 0)
                self.repair_steps.append({"source": "rule", **repair.to_dict(), "helped": helped,
                                          "status_after": new_status})
                if helped:
                    plan.extra_steps += repair.commands
                    plan.system_packages += repair.system_packages
                oracle, status = new, new_status
            return BuildResult(
                self.repo_id, status, backend=self.opts.backend, language="c", build_system=cb.system,
                plan=plan.to_dict(), commands=inst.step_dicts(), oracle=oracle, failure=c_failure(oracle, status),
                image=self.finish(env, image, inst.script(plan), status), workdir=env.workdir,
                repair_steps=tuple(self.repair_steps))
        finally:
            env.close()
