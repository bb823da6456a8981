"""Figures for the Ray executor: overhead per no-op task (local pool vs Ray), build throughput of the 3
fixture repos on 1 vs 2 simulated nodes (one engine underneath: overhead, not speed-up), head memory.

    PYTHONPATH=$PWD python3 tests/ray/bench_executor.py     (~1 minute; prints JSON, seconds and MB)
"""
import json, os, subprocess, sys, tempfile, time
from pathlib import Path
ROOT = str(Path(__file__).resolve().parents[2])
sys.path.insert(0, ROOT)
os.environ["PYTHONPATH"] = ROOT
home = Path(tempfile.mkdtemp(prefix="raybench-")); os.environ["R2E_HOME"] = str(home / "r2e")
import ray
from ray.cluster_utils import Cluster
from r2e.executor import LocalExecutor, RayExecutor
from tests.ray.tasks import noop
from tests.conftest import make_git_repo
from tests.installers.fixtures import REPOS

def timeit(fn, n=3):
    best = None
    for _ in range(n):
        t = time.perf_counter(); fn(); d = time.perf_counter() - t
        best = d if best is None else min(best, d)
    return best

def rss_mb() -> float:
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024


NODE = {"num_cpus": 1, "memory": 6 * 2**30, "object_store_memory": 80 * 2**20}
out = {}
items = list(range(50))
out["local_pool_1"] = timeit(lambda: LocalExecutor(1).map(noop, items))
out["local_pool_2"] = timeit(lambda: LocalExecutor(2).map(noop, items))

urls = []
for name in ["broken_file", "failing", "python2"]:
    p = home / "remotes" / name; make_git_repo(p, REPOS[name]); urls.append(f"file://{p}")

def r2e(*args):
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "r2e", *args], capture_output=True, text=True)
    return time.perf_counter() - t, r

def setup(exp):
    a = [x for u in urls for x in ("-r", u)]
    r2e("setup", "-e", exp, *a)

for exp in ["bl1", "bl2"]: setup(exp)
out["build_local_j1"] = r2e("build", "-e", "bl1", "--backend", "local", "-j", "1")[0]
out["build_local_j2"] = r2e("build", "-e", "bl2", "--backend", "local", "-j", "2")[0]

for nodes in (1, 2):
    t = time.perf_counter()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 80 * 2**20})
    for _ in range(nodes): c.add_node(**NODE)
    c.wait_for_nodes()
    out[f"cluster_start_{nodes}"] = time.perf_counter() - t
    ray.init(address=c.address, log_to_driver=False, logging_level="ERROR")
    ex = RayExecutor(c.address)
    ex.map(noop, [0])  # warm: the ledger actor, a worker per node
    out[f"ray_{nodes}node_50noop"] = timeit(lambda: ex.map(noop, items))
    ex2 = RayExecutor(c.address, max_in_flight=1)
    out[f"ray_{nodes}node_50noop_serial"] = timeit(lambda: ex2.map(noop, items), 1)
    # head memory: gcs_server + the head's raylet and its agents (the first raylet started)
    ps = subprocess.run(["ps", "-ww", "-eo", "pid,ppid,rss,args"], capture_output=True, text=True).stdout
    rows = [l.split(None, 3) for l in ps.splitlines()[1:]]
    gcs = [r for r in rows if "gcs_server" in r[3]]
    raylets = sorted([r for r in rows if "/raylet/raylet" in r[3]], key=lambda r: int(r[0]))
    head = raylets[0]
    kids = [r for r in rows if r[1] == head[0]]
    out[f"head_rss_mb_{nodes}"] = {"gcs_server": sum(int(r[2]) for r in gcs) / 1024, "raylet": int(head[2]) / 1024,
                                    "raylet_children": {r[3].split()[0][-40:]: int(r[2]) / 1024 for r in kids},
                                    "driver_self": rss_mb()}
    ray.shutdown()
    setup(f"br{nodes}")
    out[f"build_ray_{nodes}node"] = r2e("build", "-e", f"br{nodes}", "--backend", "local", "--executor", "ray",
                                        "--ray-address", c.address)[0]
    c.shutdown()
print(json.dumps(out, indent=1))
