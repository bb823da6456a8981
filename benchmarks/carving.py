"""Carving on real PyPI sdists with test suites: how many extracted functions get a valid carved
harness with branch coverage >= 0.8, and how much slower the test suite runs under the tracer.

    pip download --no-deps --no-binary :all: more-itertools==11.2.1 cachetools==8.0.2 attrs==26.1.0 \
        click==8.5.1 -d /tmp/sdists
    python benchmarks/carving.py /tmp/sdists/*.tar.gz [-j 2] [--out carving.json]

Per sdist: a venv (uv, --system-site-packages for pytest and coverage) with the package and its test
dependencies installed from PyPI (TEST_DEPS below); functions extracted by `r2e extract` (or, with
--extract ast, by the ast picker of benchmarks/harness_offline.py); the suite run once without
and once with the tracer (`baseline`, to measure the slowdown); then one genexec round with
`--generator carve` alone (no fallback, no LLM) over the real runner, --backend local.

Measured 2026-11-24 (2 shared cores under load, Python 3.11, pytest 9.2, coverage 7.17, -j 2),
functions from `r2e extract` (206 of 3540 definitions pass its filters):
  more-itertools 11.2.1: 89 functions, 76 with samples, 76 valid, 71 valid at >= 0.8 (80 %); suite x1.02
  cachetools 8.0.2:      11 functions, 11 with samples, 11 valid,  8 valid at >= 0.8 (73 %); suite x1.09
  attrs 26.1.0:          43 functions, 28 with samples, 27 valid, 24 valid at >= 0.8 (56 %); suite x0.89
  click 8.5.1:           63 functions, 40 with samples, 39 valid, 28 valid at >= 0.8 (44 %); suite x1.29
  total: 131/206 (64 %) with a valid carved harness at branch coverage >= 0.8; 153/155 carved harnesses
  valid; 118/139 first-order mutants of valid functions detected (85 %); test-suite outcomes identical
  with and without the tracer in all four; carving 94 s (both suite runs + replay), execution 114 s.
  (The slowdown is within the noise of a shared machine: suite times vary more between runs.)
With --extract ast (320 functions, the offline benchmark's picker; an earlier tracer): 191/320 (60 %).
Why functions get no samples: arguments that do not pickle (classes and closures defined inside
tests, open streams, click contexts), calls whose test-module globals cannot be imported outside
pytest, non-deterministic results (8 in more-itertools), functions the suite never calls.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness_offline import mutant, pick_functions, r2e  # noqa: E402

from harness.carve.carving import CarveOptions, carve_experiment  # noqa: E402
from harness.carve.generator import CarveGenerator  # noqa: E402
from harness.carve.store import SampleStore  # noqa: E402
from harness.execute import ExecOptions, execute_harness  # noqa: E402
from harness.genexec import LoopOptions, genexec_pool, run_genexec  # noqa: E402
from r2e.experiment import Experiment  # noqa: E402
from r2e.fsio import atomic_write_json  # noqa: E402
from r2e.stage_records import BuildResult, GenexecRun  # noqa: E402
from r2e.workspace import Workspace  # noqa: E402

# Test-only dependencies of each project's suite (from its pyproject/tox), installed from PyPI.
TEST_DEPS = {"attrs": ["hypothesis", "pympler", "cloudpickle"], "click": [], "cachetools": [],
             "more_itertools": [], "more-itertools": []}


def project_name(sdist: Path) -> str:
    return sdist.name.removesuffix(".tar.gz").rsplit("-", 1)[0]


def make_venv(venv: Path, sdist: Path) -> None:
    uv = shutil.which("uv")
    if not uv:
        raise SystemExit("the benchmark needs uv")
    subprocess.run([uv, "venv", "--quiet", "--system-site-packages", "--python", sys.executable, str(venv)], check=True)
    deps = TEST_DEPS.get(project_name(sdist), [])
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(sdist), *deps],
                   check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sdists", nargs="+", type=Path)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--max-lines", type=int, default=25)
    parser.add_argument("--extract", choices=("r2e", "ast"), default="r2e",
                        help="r2e: `r2e extract`; ast: the ast picker of benchmarks/harness_offline.py.")
    parser.add_argument("--out", type=Path, default=None, help="Write the figures as JSON here.")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="r2e-bench-carve-"))
    ws = Workspace(tmp / "home")
    exp = Experiment(ws, "bench")
    all_records = []
    for sdist in args.sdists:
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp / "src", filter="data")
        root = tmp / "src" / sdist.name.removesuffix(".tar.gz")
        r2e(ws.home, "setup", "-e", exp.name, "-l", str(root))
        repo = exp.repos()[-1]
        venv = tmp / "venvs" / repo.id
        t0 = time.monotonic()
        make_venv(venv, sdist)
        # the venv stands in for `r2e build --backend local`: the build result of record points at it
        exp.write_build_result(BuildResult(repo=repo.id, status="success", backend="local", venv=str(venv),
                                           workdir=str(repo.path)))
        if args.extract == "ast":
            records = pick_functions(repo.id, Path(repo.path), args.max_lines)
            print(f"{sdist.name}: {len(records)} functions picked; venv in {time.monotonic() - t0:.1f} s", flush=True)
            all_records += records
    if args.extract == "ast":
        exp.write_functions(all_records)
    else:  # r2e extract: its filters (docstring, signature, size, ...) and its records
        print(r2e(ws.home, "extract", "-e", exp.name), flush=True)
    records = exp.functions(lang="python")

    with genexec_pool(exp, records, "local") as pool:  # carving and execution share the environments
        start = time.monotonic()
        reports = carve_experiment(exp, records, pool, CarveOptions(baseline=True),
                                   echo=lambda line: print(line, flush=True))
        carve_wall = time.monotonic() - start
        store = SampleStore(exp)
        opts = LoopOptions(k=1, min_valid=1.0, min_cov=0.8, jobs=args.jobs, backend="local",
                           exec=ExecOptions(per_test_timeout=10, run_timeout=60))
        start = time.monotonic()
        doc = run_genexec(exp, [r for r in records if store.has_samples(r)], CarveGenerator(store), opts,
                          echo=lambda line: print(line, flush=True), pool=pool)
        exec_wall = time.monotonic() - start

        figures = mutation_and_figures(exp, records, reports, store, doc, pool)
    figures.update(carve_wall_s=round(carve_wall, 1), execute_wall_s=round(exec_wall, 1))
    totals = figures["total"]
    print(f"TOTAL: {totals['done']}/{totals['functions']} functions ({100 * totals['share_valid_cov_ge_0.8']:.0f}%) "
          f"with a valid carved harness at branch coverage >= 0.8; {totals['with_samples']} had samples, "
          f"{totals['valid']} valid; mutants detected {totals['killed']}/{totals['mutants']}; "
          f"carving {carve_wall:.0f} s, execution {exec_wall:.0f} s; workspace {tmp}", flush=True)
    if args.out:
        atomic_write_json(args.out, figures)


def mutation_and_figures(exp: Experiment, records, reports, store: SampleStore, doc: GenexecRun, pool) -> dict:
    """Per repo: carving and execution figures, and whether valid carved harnesses notice a mutant."""
    figures: dict = {"repos": {}}
    by_id = {r.id: r for r in records}
    totals = {"functions": 0, "with_samples": 0, "valid": 0, "done": 0, "mutants": 0, "killed": 0}
    for repo in exp.repos():
        rep = reports.get(repo.id) or {}
        funcs = [r for r in records if r.repo == repo.id]
        entries = {fid: f for fid, f in doc.functions.items() if f.repo == repo.id}
        valid = [f for f in entries.values() if f.valid]
        done = [f for f in entries.values() if f.done]
        base = (rep.get("baseline") or {}).get("duration")
        traced = (rep.get("suite") or {}).get("duration")
        covs = [f.branch_coverage for f in valid if f.branch_coverage is not None]
        killed = run = 0
        for fid, f in entries.items():  # do the valid carved harnesses notice a first-order mutant?
            if f.valid and "@" not in by_id[fid].code and (cand := mutant(by_id[fid].code)):
                result = execute_harness(pool.get(repo.id), by_id[fid], f.test,
                                         ExecOptions(per_test_timeout=10, run_timeout=60), candidate_code=cand)
                run += 1
                killed += not result.valid
        row = {"functions": len(funcs), "with_samples": sum(1 for r in funcs if store.has_samples(r)),
               "valid": len(valid), "valid_cov_ge_0.8": len(done),
               "share_valid_cov_ge_0.8": round(len(done) / max(1, len(funcs)), 4),
               "mean_branch_coverage_of_valid": round(statistics.mean(covs), 3) if covs else None,
               "suite_s_without_tracer": base, "suite_s_with_tracer": traced,
               "slowdown": round(traced / base, 2) if base and traced else None,
               "suite_counts": (rep.get("suite") or {}).get("counts"),
               "suite_counts_without_tracer": (rep.get("baseline") or {}).get("counts"),
               "carve_status": rep.get("status"),
               "carve_by_status": (rep.get("summary") or {}).get("by_status"),
               "mutants_run": run, "mutants_detected": killed}
        figures["repos"][repo.id] = row
        for key, value in (("functions", len(funcs)), ("with_samples", row["with_samples"]), ("valid", len(valid)),
                           ("done", len(done)), ("mutants", run), ("killed", killed)):
            totals[key] += value
        print(f"{repo.id}: {len(funcs)} functions, {row['with_samples']} with samples, valid {len(valid)}, "
              f"valid with branch coverage >= 0.8: {len(done)} ({100 * row['share_valid_cov_ge_0.8']:.0f}%); "
              f"suite {base} s -> {traced} s with the tracer (x{row['slowdown']}, outcomes "
              f"{'unchanged' if row['suite_counts'] == row['suite_counts_without_tracer'] else 'CHANGED'}); carving {row['carve_by_status']}; "
              f"mutants detected {killed}/{run}", flush=True)
    totals["share_valid_cov_ge_0.8"] = round(totals["done"] / max(1, totals["functions"]), 4)
    figures["total"] = totals
    return figures


if __name__ == "__main__":
    main()
