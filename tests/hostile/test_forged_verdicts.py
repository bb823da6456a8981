"""Generated tests that try to forge the runner's verdict, run by the real runner through
`execute_harness` in a LocalEnvironment. Each forgery worked against the runner that trusted a
result file written by the process running the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.execute import ExecOptions, execute_harness
from installers.local_env import LocalEnvironment
from r2e.stage_records import FunctionRecord
from tests.harness.fixtures import MOD, SPANS, make_fixture_repo

OPTS = ExecOptions(per_test_timeout=5, run_timeout=30)
FULL = ('{"source": "coverage-functions", "num_statements": 4, "covered_lines": 4, "num_branches": 4, '
        '"covered_branches": 4, "line_coverage": 1.0, "branch_coverage": 1.0, "executed_lines": [10, 11, 12, 13], '
        '"missing_lines": [], "executed_branches": [], "missing_branches": []}')

# Reads the nonce from /proc/self/environ (os.environ no longer shows it), writes a result with one
# passed test and full coverage to the output path the runner gave the process, and leaves.
NONCE_FORGERY = f"""
import json, os, sys
env = open("/proc/self/environ", "rb").read().split(b"\\0")
nonce = next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"R2E_RUNNER_NONCE=")), "")
with open(sys.argv[-1], "w") as fh:
    json.dump({{"nonce": nonce, "tests": [{{"id": "test_ok", "outcome": "passed", "message": "", "duration": 0.0}}],
               "counts": {{"run": 1, "passed": 1, "failed": 0, "errored": 0, "skipped": 0}},
               "load_error": None, "coverage": {FULL}, "captures": [], "captured_calls": 0}}, fh)
os._exit(0)
"""

# Patches the runner's own reporting in the process that runs it: whatever computes the coverage
# summary now claims full coverage; the test never calls the function.
PATCHED_REPORTING = f"""
import __main__ as runner

FULL = {FULL}
for name in ("function_coverage", "combine_coverage", "_region_summary", "_range_summary"):
    if hasattr(runner, name):
        setattr(runner, name, lambda *args, **kwargs: dict(FULL))

def test_nothing():
    pass
"""

# The process that ran the test leaves silently (as a failing test would like to); a forked copy
# of it carries on through the runner's own code and reports success.
FORKED_REPORT = """
import os
from pkg.mod import classify

def test_forks():
    got = classify(5)
    if os.fork() == 0:
        return  # the copy: "passed"
    os.wait()
    os._exit(0)  # the original never gets to `assert got == -1`
"""


# Writes a complete, well-formed run (one passed test, coverage data marking every arc of the
# module, one captured call) into every pipe the runner's processes hold, via /proc/PID/fd.
PIPE_INJECTION = '''
import base64, json, os
import coverage
from coverage import CoverageData

def _forge(module_file):
    cov = coverage.Coverage(branch=True, data_file=None)
    arcs = cov._analyze(module_file).arc_possibilities
    arcs = arcs() if callable(arcs) else arcs
    data = CoverageData(no_disk=True)
    data.add_arcs({module_file: set(arcs)})
    return base64.b64encode(data.dumps()).decode()

def test_injects():
    import pkg.mod
    blob = _forge(os.path.abspath(pkg.mod.__file__))
    pid = zygote = os.getppid()
    for _ in range(2):  # the process that started this one and its parent: the runner's side
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            fds = []
        for fd in fds:
            path = "/proc/%d/fd/%s" % (pid, fd)
            try:
                if not os.readlink(path).startswith("pipe:"):
                    continue
                w = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            recs = [{"kind": "ids", "ids": ["test_injects"]},
                    {"kind": "test", "index": 0, "id": "test_injects", "outcome": "passed", "message": "",
                     "duration": 0.0, "captures": [], "captured_calls": 1, "coverage": blob, "coverage_error": None},
                    {"kind": "end"}]
            for r in recs:
                r["zygote"] = zygote
                try:
                    os.write(w, (json.dumps(r) + "\\n").encode())
                except OSError:
                    pass
            os.close(w)
        pid = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
'''


def make_venv(path: Path) -> Path:
    uv = shutil.which("uv")
    cmd = ([uv, "venv", "--quiet", "--system-site-packages", "--python", sys.executable, str(path)] if uv
           else [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)])
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="module")
def env_and_record(tmp_path_factory):
    root = tmp_path_factory.mktemp("forge")
    repo = make_fixture_repo(root / "repo")
    env = LocalEnvironment(repo, make_venv(root / "venv"))
    start, end = SPANS["classify"]
    lines = MOD.splitlines()
    record = FunctionRecord(id="r/pkg/mod.py::classify", repo="r", path="pkg/mod.py", name="classify",
                            class_name=None, start_line=start, end_line=end,
                            code="\n".join(lines[start - 1:end]) + "\n")
    return env, record


@pytest.mark.parametrize("forgery,why", [
    (NONCE_FORGERY, "could not be loaded"),  # its process left before reporting a single test
    (PATCHED_REPORTING, "the coverage data shows the function never ran"),
    (FORKED_REPORT, "1 errored"),  # a report from another process than the test's own
    (PIPE_INJECTION, "produced no results"),  # records out of sequence on the runner's channel
], ids=["nonce-from-proc-environ", "patched-reporting", "forked-copy-reports", "records-injected-via-proc"])
def test_forged_verdict_is_invalid(env_and_record, forgery, why):
    env, record = env_and_record
    result = execute_harness(env, record, forgery, OPTS)
    assert result.status == "invalid" and not result.valid, result
    assert result.branch_coverage < 1.0, result.coverage
    assert any(why in r for r in result.reasons), result.reasons


def test_honest_harness_stays_valid(env_and_record):
    """The control: the same machinery accepts a plain test that calls the function."""
    env, record = env_and_record
    test = "from pkg.mod import classify, reference_classify\n\ndef test_it():\n" \
           "    for x in (5, -3, 0):\n        assert classify(x) == reference_classify(x)\n"
    result = execute_harness(env, record, test, OPTS)
    assert result.status == "valid", result
    assert result.branch_coverage == 1.0


# Leaves a detached process behind that waits for the runner's own result file and rewrites it
# with a valid verdict after the runner has finished.
LEFT_BEHIND_REWRITER = """
import json, os, time

def _runner_out():
    pid = os.getppid()
    while pid > 1:
        args = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\\0")
        if len(args) >= 4 and args[-4].endswith(b"runner.py") and args[-2].endswith(b".json"):
            return args[-2].decode()
        pid = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
    return None

def _rewrite_later(out):
    if os.fork():
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 1024)
    give_up = time.time() + 30
    while time.time() < give_up and not os.path.exists(out):
        pass
    try:
        data = json.load(open(out))
        data.update(valid=True, reasons=[], coverage=FULL)
        with open(out + ".x", "w") as fh:
            json.dump(data, fh)
        os.replace(out + ".x", out)
    finally:
        os._exit(0)

FULL = FULL_JSON

def test_leaves_a_rewriter():
    out = _runner_out()
    if out:
        _rewrite_later(out)
""".replace("FULL_JSON", FULL)


def test_verdict_rewritten_after_the_runner_is_invalid(env_and_record):
    env, record = env_and_record
    result = execute_harness(env, record, LEFT_BEHIND_REWRITER, OPTS)
    assert result.status == "invalid" and not result.valid, result
    assert result.branch_coverage < 1.0


from tests.harness.conftest import docker_build, fixture_exp  # noqa: E402,F401 - fixtures for the container run
from tests.installers.conftest import docker_base  # noqa: E402,F401


@pytest.mark.docker
def test_forgeries_are_invalid_in_a_container(r2e_home, fixture_exp, docker_client, docker_build):
    """The same forgeries against the runner inside the repo's container (root, no CAP_SYS_PTRACE:
    the injected records do not even reach the runner's channel there)."""
    from installers.environment_of_record import open_environment
    from r2e.workspace import Workspace

    _, records = fixture_exp(keep=lambda r: r.name == "classify")
    env = open_environment(docker_build("x", Workspace(r2e_home)), network=False, name_hint="forge-test")
    try:
        # (a rewriter that loses the race to the copy leaves the honest verdict: never ran)
        for forgery, whys in ((NONCE_FORGERY, ("could not be loaded",)), (PIPE_INJECTION, ("never ran",)),
                              (LEFT_BEHIND_REWRITER, ("digest mismatch", "never ran"))):
            result = execute_harness(env, records["classify"], forgery, OPTS)
            assert result.status == "invalid" and not result.valid, result
            assert result.branch_coverage < 1.0
            assert any(why in r for r in result.reasons for why in whys), result.reasons
    finally:
        env.close()
