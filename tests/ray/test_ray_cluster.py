"""R2E on a real Ray cluster: two raylets on this machine (ray.cluster_utils.Cluster), one CPU each.

Builds use --backend local (docker builds are too slow for this module's budget); they still ship
git bundles to the nodes and write the results back on the head."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.installers.fixtures import REPOS

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'r2e[ray]')")

pytestmark = pytest.mark.slow
NODE_ARGS = {"num_cpus": 1, "memory": 6 * 2**30, "object_store_memory": 80 * 2**20}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head (no CPUs: work goes to the nodes) and two worker nodes; the test process is its driver."""
    from ray.cluster_utils import Cluster

    home = tmp_path_factory.mktemp("node-home")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "R2E_HOME")}
    # workers inherit this environment: r2e importable, and the nodes' own R2E home
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), saved["PYTHONPATH"]]))
    os.environ["R2E_HOME"] = str(home)
    try:
        c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 80 * 2**20})
        nodes = [c.add_node(**NODE_ARGS) for _ in range(2)]
        ray.init(address=c.address, log_to_driver=False, logging_level="ERROR")
        c.wait_for_nodes()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Ray cannot start a cluster here: {type(exc).__name__}: {exc}")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    c.r2e_env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), saved["PYTHONPATH"]]))}
    yield c, nodes
    ray.shutdown()
    c.shutdown()


@pytest.fixture
def executor(cluster):
    from r2e.executor import RayExecutor

    ex = RayExecutor(cluster[0].address, max_retries=2)
    yield ex
    ex.close()  # the test process stays connected (the module's driver)


def test_map_returns_results_and_failures_as_data(executor):
    from tests.ray import tasks

    seen = []
    ok, failed = executor.map(tasks.where, range(6), on_done=lambda item, res, err: seen.append(item))
    assert sorted(seen) == list(range(6))
    assert sorted(r["x"] for _, r in ok) == list(range(6)) and not failed
    assert len({r["node_id"] for _, r in ok}) == 2  # both nodes took work
    ok, failed = executor.map(tasks.boom, [1, 2])
    assert not ok and sorted(f.item for f in failed) == [1, 2]
    assert all(isinstance(f.error, ValueError) and "bad item" in str(f.error) for f in failed)


def test_a_hint_places_tasks_on_the_named_node(cluster, executor):
    from tests.ray import tasks

    target = cluster[1][1].node_id
    ok, failed = executor.map(tasks.where, range(4), hint=lambda item: target)
    assert not failed and {r["node_id"] for _, r in ok} == {target}
    ok, _ = executor.map(tasks.where, [0], hint=lambda item: "ab" * 28)  # a node that is gone: runs elsewhere
    assert ok[0][1]["x"] == 0
    ok, _ = executor.map(tasks.where, [0], hint=lambda item: "not-a-node-id")  # a bad record: no hint
    assert ok[0][1]["x"] == 0


def test_task_on_a_lost_node_is_retried_elsewhere_and_recorded(cluster, executor, tmp_path):
    from tests.ray import tasks

    c, nodes = cluster
    marker = tmp_path / "marker.json"
    out = {}
    runner = threading.Thread(target=lambda: out.update(res=executor.map(tasks.slow_first_attempt, [str(marker)])))
    runner.start()
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    first = json.loads(marker.read_text())
    assert first["attempt"] == 1
    victim = next(n for n in nodes if n.node_id == first["node_id"])
    c.remove_node(victim)
    runner.join(timeout=90)
    assert not runner.is_alive()
    ok, failed = out["res"]
    assert not failed, failed
    (_, res), = ok
    assert res["attempt"] == 2 and res["node_id"] != first["node_id"]
    assert len(res["nodes_tried"]) == 2 and res["nodes_tried"][0].endswith(first["node_id"][:8])
    nodes.remove(victim)
    nodes.append(c.add_node(**NODE_ARGS))  # back to two nodes for the next tests
    c.wait_for_nodes()


SLEEPY = {
    "sp/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_sp.py": "import time\n\ndef test_sleepy():\n    time.sleep(6)\n",
}


def test_build_on_a_lost_node_is_built_again_elsewhere_and_recorded(cluster, executor, git_repo_factory, tmp_path):
    from installers.build_many import BuildItem, build_many
    from installers.options import BuildOptions
    from tests.installers.fixtures import experiment

    c, nodes = cluster
    _, path, sha = git_repo_factory("fx", "sleepy", SLEEPY)
    exp = experiment(tmp_path)
    out = {}
    runner = threading.Thread(target=lambda: out.update(summary=build_many(
        [BuildItem("fx__sleepy", path, sha)], exp, BuildOptions(backend="local", timeout_per_task=300),
        executor=executor, echo=lambda *a, **k: None)))
    runner.start()
    deadline = time.monotonic() + 90
    victim = None
    while victim is None and time.monotonic() < deadline and runner.is_alive():
        victim = node_running(nodes, "-m pytest", cwd_part="fx__sleepy")
        time.sleep(0.3)
    assert victim is not None, "the build never reached its tests"
    c.remove_node(victim)
    runner.join(timeout=120)
    assert not runner.is_alive()
    result = exp.build_result("fx__sleepy")
    assert result.status == "success", result
    assert result.extra["attempts"] == 2 and len(result.extra["nodes_tried"]) == 2
    assert result.extra["node_id"] != victim.node_id
    assert out["summary"]["retried"] == ["fx__sleepy"]
    nodes.remove(victim)
    nodes.append(c.add_node(**NODE_ARGS))
    c.wait_for_nodes()


def ps_lines() -> list[str]:
    return subprocess.run(["ps", "-ww", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout.splitlines()[1:]


def node_running(nodes, marker: str, cwd_part: str = ""):
    """The node whose raylet is an ancestor of a process running `marker` in a folder whose path holds
    `cwd_part` (several raylets share this machine; the eval script runs the venv's `python` by name)."""
    parent = {}
    hits = []
    for line in ps_lines():
        pid, ppid, args = line.split(None, 2)
        parent[int(pid)] = int(ppid)
        if marker in args and "bwrap" not in args and cwd_part in _cwd(int(pid)):
            hits.append(int(pid))
    raylets = {n.all_processes["raylet"][0].process.pid: n for n in nodes}
    for pid in hits:
        while pid > 1:
            if pid in raylets:
                return raylets[pid]
            pid = parent.get(pid, 1)
    return None


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def setup_exp(cli, git_repo_factory, exps, names, files=None):
    args = []
    for name in names:
        url, _, _ = git_repo_factory("fx", name, files or REPOS[name])
        args += ["-r", url]
    for exp in [exps] if isinstance(exps, str) else exps:
        res = cli("setup", "-e", exp, *args)
        assert res.exit_code == 0, res.output


def records(home: Path, exp: str) -> dict:
    """Each repo's result, less what differs by where and when it ran (times, paths, placement)."""
    out = {}
    for path in sorted((home / "experiments" / exp / "build").glob("*/result.json")):
        data = json.loads(path.read_text())
        folder = str(path.parent)
        text = json.dumps({k: data.get(k) for k in ("status", "python", "install_script", "failure",
                                                      "failed_requirements", "build_system")})
        text = re.sub(r"/[^\"' ]*/build/" + re.escape(path.parent.name), "<build>", text.replace(folder, "<build>"))
        ratio = (data.get("oracle") or {}).get("pass_ratio")
        files = sorted(p.name for p in path.parent.iterdir() if p.is_file())
        out[path.parent.name] = {"record": json.loads(text), "pass_ratio": ratio, "files": files}
    return out


def test_build_on_ray_gives_the_records_of_a_local_build(cluster, cli, git_repo_factory, r2e_home):
    names = ["broken_file", "failing", "python2"]
    setup_exp(cli, git_repo_factory, ["loc", "onray"], names)
    res = cli("build", "-e", "loc", "--backend", "local", "-j", "2")
    assert res.exit_code == 1, res.output  # the python2 repo counts as not installed
    res = cli("build", "-e", "onray", "--backend", "local", "--executor", "ray", "--ray-address", cluster[0].address)
    assert res.exit_code == 1, res.output
    assert "over 2 node(s)" in res.output or "over 1 node(s)" in res.output, res.output
    local, remote = records(r2e_home, "loc"), records(r2e_home, "onray")
    assert set(local) == set(remote) and len(local) == 3
    assert local == remote
    summary = json.loads((r2e_home / "experiments" / "onray" / "build.json").read_text())
    assert summary["counts"] == {"success": 1, "partial": 1, "python2": 1}
    assert summary["executor"] == "ray" and sum(summary["nodes"].values()) == 3
    for repo_id in local:
        data = json.loads((r2e_home / "experiments" / "onray" / "build" / repo_id / "result.json").read_text())
        assert data["attempts"] == 1 and data["node"] in summary["nodes"]
    again = cli("build", "-e", "onray", "--backend", "local", "--executor", "ray", "--ray-address", cluster[0].address)
    assert "3 repo(s) already built" in again.output  # resume decided on the head, nothing submitted


SLOW = {
    "sl/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_sl.py": "import time\n\ndef test_slow_marker_r2e_ray_interrupt():\n    time.sleep(120)\n",
}


def test_ctrl_c_cancels_the_tasks_and_leaves_nothing_running(cluster, cli, git_repo_factory, r2e_home):
    setup_exp(cli, git_repo_factory, "ctrlc", ["slow0", "slow1"], files=SLOW)
    env = {**os.environ, **cluster[0].r2e_env, "R2E_HOME": str(r2e_home)}
    scratch_before = set(Path(tempfile.gettempdir()).glob("r2e-ray-*"))
    proc = subprocess.Popen([sys.executable, "-m", "r2e", "build", "-e", "ctrlc", "--backend", "local",
                             "--executor", "ray", "--ray-address", cluster[0].address],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(slow_tests()) < 2:  # both nodes inside the slow test
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.5)
    if len(slow_tests()) < 2:
        proc.send_signal(signal.SIGINT)
        pytest.fail(proc.communicate(timeout=60)[0])
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 130, out
    assert "cleaned up" in out
    assert not slow_tests(), out
    assert not set(Path(tempfile.gettempdir()).glob("r2e-ray-*")) - scratch_before, out  # the nodes' scratch
    assert not list((r2e_home / "experiments" / "ctrlc" / "build").glob("*/result.json"))
    summary = json.loads((r2e_home / "experiments" / "ctrlc" / "build.json").read_text())
    assert summary["interrupted"] is True


def slow_tests() -> list[str]:
    """Test processes of a build on a node: pytest running in a node's scratch folder."""
    ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    out = []
    for line in ps.splitlines()[1:]:
        pid, _, args = line.strip().partition(" ")
        if "pytest" in args and "bwrap" not in args and ("r2e-ray-" in args or "r2e-ray-" in _cwd(int(pid))):
            out.append(line)
    return out
