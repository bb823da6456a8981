"""Yield of `r2e tasks mutate` on real projects: candidates and valid tasks per strategy and per
repository, rejections per reason, median validation time per task, and the share of offline
statements that leak code (must be 0).

Inputs: project folders or PyPI sdists (real code with its tests, written by others), e.g.

    pip download --no-deps --no-binary :all: toolz==0.12.1 -d /tmp/sdists
    python benchmarks/tasks_mutation.py /tmp/sdists/toolz-0.12.1.tar.gz --per-function 2 --out toolz.json
    python benchmarks/tasks_mutation.py r2e/examples/minilib --home /tmp/bench-home   # reuses a workspace

Each project goes through the CLI: `r2e setup -l`, `r2e extract`, `r2e build --backend local --no-llm`,
`r2e tasks mutate`. A second run with the same --home resumes (validated candidates are skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.tasks.statements import leaks  # noqa: E402


def r2e(home: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "R2E_HOME": str(home)}
    res = subprocess.run([sys.executable, "-m", "r2e", *args], env=env, capture_output=True, text=True)
    print(res.stdout.rstrip(), flush=True)
    if res.returncode != 0:
        print(res.stderr.rstrip(), file=sys.stderr, flush=True)
    return res.stdout


def unpack(source: Path, into: Path) -> Path:
    if source.is_dir():
        return source.resolve()
    with tarfile.open(source) as tar:
        tar.extractall(into, filter="data")
    return into / source.name.removesuffix(".tar.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+", type=Path, help="project folders or .tar.gz sdists")
    parser.add_argument("--home", type=Path, default=None, help="workspace (default: a new temp folder)")
    parser.add_argument("--per-function", default="3")
    parser.add_argument("--seed", default="0")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="r2e-bench-tasks-"))
    figures = {"projects": {}}
    for project in args.projects:
        root = unpack(project, home / "src")
        exp = "t-" + "".join(c if c.isalnum() else "-" for c in root.name)[:40]
        exp_dir = home / "experiments" / exp
        if not (exp_dir / "build.json").exists():
            r2e(home, "setup", "-e", exp, "-l", str(root))
            r2e(home, "extract", "-e", exp)
            r2e(home, "build", "-e", exp, "--backend", "local", "--no-llm")
        t0 = time.monotonic()
        r2e(home, "tasks", "mutate", "-e", exp, "--per-function", args.per_function, "--seed", args.seed)
        wall = time.monotonic() - t0
        summary = json.loads((exp_dir / "tasks_summary.json").read_text())
        tasks = [json.loads(line) for line in (exp_dir / "tasks.jsonl").read_text().splitlines() if line.strip()]
        offline = [t for t in tasks if t["statement_kind"] == "offline"]
        leaking = [t for t in offline if leaks(t["problem_statement"], t["patch"],
                                               json.loads(t["FAIL_TO_PASS"]) + json.loads(t["PASS_TO_PASS"]))]
        figures["projects"][root.name] = {
            "candidates": summary["total"], "valid": summary["valid"], "per_strategy": summary["per_strategy"],
            "rejections": summary["rejections"], "median_validation_seconds": summary["median_validation_seconds"],
            "median_candidate_seconds": summary["median_candidate_seconds"], "wall_seconds": round(wall, 1),
            "offline_statements": len(offline), "offline_statements_leaking": len(leaking),
        }
        f = figures["projects"][root.name]
        print(f"{root.name}: {f['valid']}/{f['candidates']} valid, rejections {f['rejections']}, "
              f"median validation {f['median_validation_seconds']} s per task, wall {f['wall_seconds']} s, "
              f"leaking offline statements {len(leaking)}/{len(offline)}", flush=True)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
