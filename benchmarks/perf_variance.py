"""Wall time vs process CPU time vs instruction counts, quiet and loaded, for admitted perf candidates.

    python benchmarks/perf_variance.py -e EXP --candidate ID [--repeats 20] [--count-repeats N] [--busy 1]
        [--out variance.json]

For one candidate whose harness passed `r2e perf quickcheck` (local backend): `repeats` interleaved
A^/B pairs of timed runs and `repeats` pairs of callgrind counts, first on the quiet machine, then with
`--busy` busy-loop processes running. Prints, per condition and version, the coefficient of variation
(sd / mean) of wall time, CPU time and instructions, and the speed-up / instruction ratio per condition.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from statistics import median

from harness.environments import open_harness_environment
from harness.perf.execution import PerfSession
from harness.perf.measure import count_instructions, pinned_cpu
from harness.perf.stats import cv, speedup
from r2e.experiment import Experiment
from r2e.workspace import Workspace


def series(session, script, cand, scale, count_scale, repeats, cpu, count_repeats):
    out = {k: [] for k in ("wall_a", "wall_b", "cpu_a", "cpu_b", "instr_a", "instr_b")}
    session.run(script, cand.parent, scale=scale, cpu=cpu), session.run(script, cand.commit, scale=scale, cpu=cpu)
    for _ in range(repeats):
        for commit, tag in ((cand.parent, "a"), (cand.commit, "b")):
            r = session.run(script, commit, scale=scale, cpu=cpu)
            out[f"wall_{tag}"].append(r.wall), out[f"cpu_{tag}"].append(r.cpu)
    counter = session.counter()
    for _ in range(count_repeats):
        for commit, tag in ((cand.parent, "a"), (cand.commit, "b")):
            n, err, _mode = count_instructions(session, script, commit, count_scale, counter, cpu, 900)
            if n is None:
                raise SystemExit(f"counting failed: {err}")
            out[f"instr_{tag}"].append(n)
    return out


def summary(data: dict) -> dict:
    s = {f"cv_{k}": cv(v) for k, v in data.items()}
    s.update(wall_speedup=speedup(data["wall_a"], data["wall_b"]), cpu_speedup=speedup(data["cpu_a"], data["cpu_b"]),
             instr_ratio=median(data["instr_a"]) / median(data["instr_b"]))
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-e", "--exp", required=True)
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--count-repeats", type=int, default=None, help="counted pairs (default: --repeats)")
    ap.add_argument("--busy", type=int, default=1, help="busy-loop processes for the loaded condition")
    ap.add_argument("--count-fraction", type=float, default=0.1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    exp = Experiment(Workspace(os.environ.get("R2E_HOME")), args.exp)
    cand = next(c for c in exp.perf_records("perf_candidates") if c.id == args.candidate)
    harness = next(h for h in exp.perf_records("perf_harnesses") if h.candidate == args.candidate)
    repo = next(r for r in exp.repos() if r.id == cand.repo)
    env = open_harness_environment(exp, repo, "local")
    session = PerfSession(env, host_checkout=repo.path)
    result = {"candidate": cand.id, "subject": cand.subject, "scale": harness.scale, "repeats": args.repeats,
              "counter": session.counter()}
    try:
        script = session.put_script(exp.dir / harness.script)
        cpu = pinned_cpu(session)
        count_scale = max(1, round(harness.scale * args.count_fraction))
        for condition in ("quiet", "loaded"):
            busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)] \
                if condition == "loaded" else []
            try:
                t0 = time.time()
                data = series(session, script, cand, harness.scale, count_scale, args.repeats, cpu,
                              args.count_repeats or args.repeats)
                result[condition] = {"series": data, **summary(data), "seconds": round(time.time() - t0, 1),
                                     "loadavg": os.getloadavg()[0]}
            finally:
                for p in busy:
                    p.kill()
                    p.wait()
            print(condition, json.dumps({k: v for k, v in result[condition].items() if k != "series"}, indent=1))
        q, l_ = result["quiet"], result["loaded"]
        result["instr_ratio_change"] = l_["instr_ratio"] / q["instr_ratio"] - 1
        result["wall_speedup_change"] = l_["wall_speedup"] / q["wall_speedup"] - 1
        print(f"instruction ratio loaded vs quiet: {result['instr_ratio_change']:+.4%}; "
              f"wall speed-up: {result['wall_speedup_change']:+.2%}")
    finally:
        session.close()
        env.close()
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
