"""Hostile commands on the local backend: they must not read R2E's key, see other processes, write
outside their workdir, or outlive a killed R2E. Real bubblewrap, real processes, real builds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from installers.isolation import isolation_available, require_isolation_for_llm
from installers.local_env import LocalEnvironment
from installers.orphans import reap_orphans
from r2e.errors import R2EError
from tests.conftest import PROJECT_ROOT, git, make_git_repo
from tests.installers.fixtures import REPOS, experiment

CANARY = "sk-canary-" + "7" * 24
needs_bwrap = pytest.mark.skipif(not isolation_available(), reason="bubblewrap is not installed or does not work here")

# Everything a hostile command could try to learn the key from: its parent, PID 1, every process.
READ_ALL_ENVIRONS = r"""
tr '\0' '\n' < /proc/$PPID/environ; tr '\0' '\n' < /proc/1/environ
for f in /proc/[0-9]*/environ; do tr '\0' '\n' < "$f"; done 2>/dev/null
env
"""


R2E_SIDE = """
import json, sys
from installers.local_env import LocalEnvironment, hide_variable
hide_variable("R2E_ODD_NAME")
from pathlib import Path
work, isolate, command, fetch = sys.argv[1:5]
env = LocalEnvironment(work, venv=work + "/venv", run_dir=work + "/run", isolate={"1": True, "0": False}[isolate])
output = env.execute(command).output
if fetch:  # what the harness does with a runner's result file
    env.copy_from(fetch, Path(work, "fetched"))
    output += Path(work, "fetched").read_text()
print(json.dumps(output))
"""


def run_as_r2e(work: Path, command: str, isolate: bool, fetch: str = "") -> str:
    """`command` run by an R2E process started with the key in its environment, as a user starts it.

    (A key set later with os.environ is not in /proc/<pid>/environ: the attack needs a real process.)"""
    work.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OPENAI_API_KEY": CANARY,
           "R2E_ODD_NAME": CANARY}  # a key under a name no marker matches, declared by hide_variable
    proc = subprocess.run([sys.executable, "-c", R2E_SIDE, str(work), "1" if isolate else "0", command, fetch],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _env(tmp_path: Path, **kw) -> LocalEnvironment:
    (tmp_path / "work").mkdir(exist_ok=True)
    return LocalEnvironment(tmp_path / "work", venv=tmp_path / "venv", run_dir=tmp_path / "run", **kw)


@needs_bwrap
def test_commands_cannot_read_r2e_environment_nor_see_other_processes(tmp_path):
    marker = f"r2e-bystander-{uuid.uuid4().hex}"
    bystander = subprocess.Popen(["bash", "-c", f"exec -a {marker} sleep 60"])
    try:
        output = run_as_r2e(tmp_path / "work", READ_ALL_ENVIRONS + "\nls /proc | grep -c '^[0-9]'; "
                            f"cat /proc/*/cmdline | tr '\\0' ' ' > dump.txt; {READ_ALL_ENVIRONS.strip()} >> dump.txt",
                            isolate=True)
        dump = (tmp_path / "work" / "dump.txt").read_text(errors="replace")
        assert CANARY not in output and CANARY not in dump
        assert marker not in dump
        assert "VIRTUAL_ENV" in dump  # the reads did happen
        nprocs = int([line for line in output.splitlines() if line.isdigit()][-1])
        assert nprocs < 10  # its own PID namespace: only the sandbox's few processes
    finally:
        bystander.kill()
        bystander.wait()


@needs_bwrap
def test_host_is_read_only_outside_workdir_venv_and_private_tmp(tmp_path, monkeypatch, outside_dir):
    outside = outside_dir / "outside.txt"
    outside.write_text("original")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE-" + CANARY)
    (home / ".netrc").write_text("machine x password " + CANARY)
    monkeypatch.setenv("HOME", str(home))
    env = _env(tmp_path)
    res = env.execute(f"echo pwned > {outside}; echo ok > here.txt; echo v > {env.venv}/v.txt; "
                      f"echo t > /tmp/t.txt; cat ~/.ssh/id_rsa ~/.netrc; ls {PROJECT_ROOT}/README.md")
    assert outside.read_text() == "original" and "Read-only file system" in res.output
    assert (tmp_path / "work" / "here.txt").exists() and (tmp_path / "venv" / "v.txt").exists()
    assert CANARY not in res.output and "README.md" in res.output  # credentials hidden, the rest readable
    assert not Path("/tmp/t.txt").exists() or Path("/tmp/t.txt").read_text() != "t\n"
    # /tmp paths given to copy_to/copy_from are the sandbox's private /tmp; gone with the environment
    src = tmp_path / "in.txt"
    src.write_text("payload")
    env.copy_to(src, "/tmp/r2e-probe/in.txt")
    assert env.execute("cat /tmp/r2e-probe/in.txt; echo; cat /tmp/t.txt").output.split() == ["payload", "t"]
    private = Path(env.private_tmp())
    assert private.exists() and not Path("/tmp/r2e-probe/in.txt").exists()
    env.close()
    assert not private.exists()


@pytest.fixture
def outside_dir():
    """A host folder outside the workdir and outside /tmp (which the sandbox replaces)."""
    path = Path(tempfile.mkdtemp(prefix="r2e-outside-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@needs_bwrap
def test_a_timed_out_sandbox_leaves_nothing_running(tmp_path):
    marker = f"r2e-sleeper-{uuid.uuid4().hex}"
    res = _env(tmp_path).execute(f"(exec -a {marker} sleep 300) & wait", timeout=1)
    assert res.timed_out
    assert _wait_gone(marker)


def test_unisolated_output_is_scrubbed_and_llm_commands_are_refused(tmp_path, monkeypatch):
    # a generated test's result file that carries the key comes back scrubbed too
    output = run_as_r2e(tmp_path / "work", r"tr '\0' '\n' < /proc/$PPID/environ | grep -e OPENAI_API_KEY -e R2E_ODD"
                        r" | tee result.json", isolate=False, fetch="result.json")
    assert output.count("OPENAI_API_KEY=***") == 2 and "R2E_ODD_NAME=***" in output and CANARY not in output
    monkeypatch.setenv("R2E_LOCAL_ISOLATION", "off")
    assert not isolation_available()
    with pytest.raises(R2EError) as err:
        require_isolation_for_llm("local", allow_unisolated=False)
    assert "--allow-unisolated-local" in str(err.value) and "\n" not in str(err.value)
    require_isolation_for_llm("local", allow_unisolated=True)
    require_isolation_for_llm("docker", allow_unisolated=False)
    with pytest.raises(R2EError):
        LocalEnvironment(tmp_path, isolate=True)


ORPHAN_SCRIPT = """
import sys
from installers.local_env import LocalEnvironment
work, run, marker, isolate = sys.argv[1:5]
env = LocalEnvironment(work, venv=work + "/venv", run_dir=run, isolate=isolate == "1")
env.execute(f"(exec -a {marker} sleep 300) & echo started > started; wait", timeout=600)
"""


@pytest.mark.parametrize("isolate", [False, pytest.param(True, marks=needs_bwrap)])
def test_kill_9_of_r2e_leaves_no_orphan_after_the_next_start(tmp_path, isolate):
    marker = f"r2e-orphan-{uuid.uuid4().hex}"
    work, run = tmp_path / "work", tmp_path / "run"
    work.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT, str(work), str(run), marker, "1" if isolate else "0"],
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    deadline = time.monotonic() + 30
    while not ((work / "started").exists() and _pids_named(marker)):
        assert time.monotonic() < deadline and proc.poll() is None, "the command never started"
        time.sleep(0.05)
    assert list(run.glob("*.json"))  # the running command is on record
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if isolate:
        assert _wait_gone(marker)  # the sandbox dies with its parent, before any reaping
    else:
        time.sleep(0.3)
        assert _pids_named(marker)  # a plain process group outlives R2E: only the reaper ends it
    reap_orphans(run)
    assert _wait_gone(marker)
    assert not list(run.glob("*.json"))


def test_reaping_spares_commands_of_live_runs(tmp_path):
    marker = f"r2e-live-{uuid.uuid4().hex}"
    env = _env(tmp_path, isolate=False)
    import threading

    t = threading.Thread(target=env.execute, args=(f"(exec -a {marker} sleep 5) & wait",), kwargs={"timeout": 30})
    t.start()
    try:
        deadline = time.monotonic() + 10
        while not _pids_named(marker):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert reap_orphans(tmp_path / "run") == 0 and _pids_named(marker)
    finally:
        for pid in _pids_named(marker):
            os.kill(pid, signal.SIGKILL)
        t.join()


BUILD_SIDE = """
import sys
from pathlib import Path
from installers.build import build_repo
from installers.options import BuildOptions
from r2e.llm import LLMConfig
from tests.installers.fixtures import experiment
root, repo, base_url = sys.argv[1:4]
cfg = LLMConfig(model="scripted", base_url=base_url, max_retries=1)
result = build_repo("hidden_dep", Path(repo), experiment(Path(root)),
                    BuildOptions(backend="local", rules=False, llm=cfg, timeout_per_task=300))
print(result.status, result.workdir)
"""


@needs_bwrap
def test_llm_repair_command_cannot_leak_the_key_nor_touch_the_shared_checkout(tmp_path, llm_server):
    """The attack: a model-suggested repair reads R2E's environment and writes into the checkout."""
    repo = tmp_path / "repos" / "hidden_dep"
    make_git_repo(repo, REPOS["hidden_dep"])
    hostile = (f"{READ_ALL_ENVIRONS.strip()}\necho pwned > pwned.txt; echo pwned > {repo}/pwned-abs.txt; "
               "uv pip install six")
    llm_server.script(f"```bash\n{hostile}\n```", "RUN ORACLE")
    proc = subprocess.run([sys.executable, "-c", BUILD_SIDE, str(tmp_path), str(repo), llm_server.base_url],
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OPENAI_API_KEY": CANARY},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    status, workdir = proc.stdout.split()
    files = experiment(tmp_path).build_files("hidden_dep")
    assert status == "success", files.install_log.read_text()[-3000:]
    assert "VIRTUAL_ENV=" in files.install_log.read_text()  # the hostile command did run
    for written in (files.install_log, files.repairs, files.result):
        assert CANARY not in written.read_text(), written
    assert CANARY not in json.dumps(llm_server.requests)
    # the shared checkout is as it was; the build's own copy took the writes
    assert git(repo, "status", "--porcelain", "--ignored") == ""
    assert Path(workdir) != repo.resolve() and (Path(workdir) / "pwned.txt").exists()


def _pids_named(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in cmd and state != "Z":
                found.append(int(entry.name))
    return found


def _wait_gone(marker: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _pids_named(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
