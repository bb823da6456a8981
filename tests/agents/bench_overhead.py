"""Figures for agent runs: container start, per-step overhead of a no-op execute_bash, grading time, idle memory.

    PYTHONPATH=. python3 tests/agents/bench_overhead.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def main() -> None:
    import docker

    from harness.agents.dataset import normalise
    from harness.agents.envs import EnvFactory
    from harness.agents.grading import grade
    from harness.agents.sandbox import Sandbox
    from harness.agents.scaffolds import R2EGymScaffold, Decision
    from harness.agents.actions import Action
    from tests.agents.task_images import build_task_image

    client = docker.from_env()
    image = build_task_image(client, "r2e-base:py3.11-slim", Path(tempfile.mkdtemp()))
    inst = normalise(image.task("calc-bench"))
    envs = EnvFactory("docker", client=client)
    starts = []
    for _ in range(3):
        t = time.monotonic()
        env = envs(inst, "bench")
        starts.append(time.monotonic() - t)
        env.close()
    env = envs(inst, "bench")
    try:
        sandbox = Sandbox(env)
        sandbox.install()
        scaffold = R2EGymScaffold()
        action = Action("execute_bash", {"cmd": "true"})
        decision = Decision("", action, action.to_xml_string(), {})
        steps = []
        for _ in range(30):
            t = time.monotonic()
            scaffold.act(decision, sandbox, timeout=30)
            steps.append(time.monotonic() - t)
        raw = []
        for _ in range(30):
            t = time.monotonic()
            env.execute("true", timeout=30)
            raw.append(time.monotonic() - t)
        time.sleep(2)
        stats = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", env.container.id],
                               capture_output=True, text=True).stdout.strip()
    finally:
        env.close()
    import concurrent.futures as cf
    import threading

    stop_at = time.monotonic() + 30
    count = [0]
    lock = threading.Lock()

    def churn(_):
        while time.monotonic() < stop_at:
            e = envs(inst, "churn")
            e.close()
            with lock:
                count[0] += 1
    t = time.monotonic()
    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(churn, range(8)))
    per_minute = count[0] / (time.monotonic() - t) * 60
    grades = []
    for patch in (image.gold_patch, "", image.gold_patch):
        t = time.monotonic()
        g = grade(inst, patch, envs)
        grades.append((time.monotonic() - t, g.reward))
    print(json.dumps({
        "container_start_s_median": round(statistics.median(starts), 3),
        "noop_execute_bash_ms_median": round(1000 * statistics.median(steps), 1),
        "noop_execute_bash_ms_p90": round(1000 * sorted(steps)[int(0.9 * len(steps))], 1),
        "raw_exec_ms_median": round(1000 * statistics.median(raw), 1),
        "idle_container_memory": stats,
        "containers_started_per_minute_8_workers": round(per_minute, 1),
        "load_average": open("/proc/loadavg").read().split()[:3],
        "grading_s": [round(s, 2) for s, _ in grades], "grading_rewards": [r for _, r in grades],
    }, indent=1))


if __name__ == "__main__":
    main()
