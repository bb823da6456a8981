"""Ctrl-C during `r2e build` (a real process): stops promptly, kills running commands, records no result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import PROJECT_ROOT

SLOW = {
    "sl/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_sl.py": "import time\n\ndef test_slow_marker_r2e_interrupt():\n    time.sleep(120)\n",
}


def test_ctrl_c_stops_builds_and_keeps_them_resumable(cli, git_repo_factory, r2e_home):
    urls = [git_repo_factory("ci", f"slow{i}", SLOW)[0] for i in range(2)]
    assert cli("setup", "-e", "ctrlc", "-r", urls[0], "-r", urls[1]).exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "R2E_HOME": str(r2e_home)}
    proc = subprocess.Popen([sys.executable, "-m", "r2e", "build", "-e", "ctrlc", "--backend", "local", "-j", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logs = [r2e_home / "experiments" / "ctrlc" / "build" / f"ci__slow{i}" / "install.log" for i in range(2)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until both are inside their (slow) test runs
        if all(p.exists() and "_r2e_repo.pth" in p.read_text() for p in logs):
            break
        time.sleep(0.5)
    time.sleep(3)
    stopped_at = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert time.monotonic() - stopped_at < 30, out
    assert proc.returncode == 130, out
    assert not list((r2e_home / "experiments" / "ctrlc" / "build").glob("*/result.json"))
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert str(r2e_home) not in ps, ps  # no pytest left running in the builds' venvs
