"""The extract stage of an experiment: every repo extracted (in parallel), then extracted.jsonl.

Each repo's records and summary are saved as soon as it is done, so an interrupted run resumes; the
experiment-wide file is rebuilt from every repo extracted so far.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

import click

from r2e.analysis.driver import ExtractOptions, extract_repo
from r2e.analysis.filters import FILTERS
from r2e.experiment import Experiment
from r2e.pool import run_pool
from r2e.progress import progress

CACHE_NAME = "parse"  # the parse cache's folder in the workspace


def default_options(exp: Experiment) -> ExtractOptions:
    return ExtractOptions(cache_dir=str(exp.ws.cache_dir(CACHE_NAME)))


def _extract_one(job: tuple[Experiment, str, str, ExtractOptions]) -> dict:
    """Runs in a worker process: extract one repository and save its records and summary."""
    exp, repo_id, root, opts = job
    result = extract_repo(repo_id, root, opts)
    exp.write_repo_extraction(repo_id, result.records, result.summary)
    return result.summary


def run_extract(exp: Experiment, only: Iterable[str] = (), jobs: int = 1, overwrite: bool = False,
                opts: ExtractOptions | None = None, echo: Callable[[str], None] = click.echo) -> bool:
    """Extract the repos of `exp` (all, or `only`); print per-repo lines and totals; True if none failed."""
    opts = opts or default_options(exp)
    repos = exp.repos(only)
    todo, done, missing = [], [], []
    for r in repos:
        if not Path(r.path).is_dir():
            missing.append(r.id)
            echo(f"{'failed':<8}{r.id}  checkout missing at {r.path} (run `r2e setup -e {exp.name}` again)")
        elif not overwrite and exp.has_repo_extraction(r.id):
            done.append(r.id)
        else:
            todo.append((exp, r.id, r.path, opts))
    for rid in done:
        echo(f"{'skipped':<8}{rid}  already extracted (use --overwrite to redo)")
    with progress(len(todo), "extract") as bar:
        def on_done(job, summary, error):
            if error is None:
                sk = sum(summary["skipped"].values())
                bar.advance("ok", f"{'ok':<8}{job[1]}  {summary['extracted']}/{summary['functions']} functions kept, "
                                  f"{sk} files/statements skipped, {summary['seconds']['total']:.1f}s")
            else:
                bar.advance("failed", f"{'failed':<8}{job[1]}  {type(error).__name__}: {error}")

        if len(todo) == 1 and jobs > 1:  # one repository: its files are parsed in parallel instead
            todo = [(e, rid, path, replace(o, index_workers=jobs)) for e, rid, path, o in todo]
            jobs = 1
        _, failed = run_pool(_extract_one, todo, jobs, processes=jobs > 1, on_done=on_done)
    failed_ids = missing + [f.item[1] for f in failed]
    totals, drops, skipped = _write_experiment_file(exp, failed_ids)
    echo("dropped by filter: " + ", ".join(f"{k} {v}" for k, v in drops.items()))
    if skipped:
        echo("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    echo(f"extract {exp.name}: {totals['extracted']} of {totals['functions']} functions kept from "
         f"{len(repos) - len(failed_ids)} repos, {len(failed_ids)} failed -> {exp.extracted_path}")
    return not failed_ids


def _write_experiment_file(exp: Experiment, failed_ids: list[str]) -> tuple[dict, dict, dict]:
    """extracted.jsonl and extract_summary.json from every repo of the experiment extracted so far."""
    records, totals, drops, skipped = [], {"functions": 0, "extracted": 0}, {n: 0 for n in FILTERS}, {}
    for r in exp.repos():
        extraction = exp.repo_extraction(r.id)
        if extraction is None:
            continue
        repo_records, summary = extraction
        records += repo_records
        totals["functions"] += summary["functions"]
        totals["extracted"] += summary["extracted"]
        for k, v in summary["dropped"].items():
            drops[k] = drops.get(k, 0) + v
        for k, v in summary["skipped"].items():
            skipped[k] = skipped.get(k, 0) + v
    exp.write_functions(records)
    exp.write_extract_summary({"totals": totals, "dropped": drops, "skipped": skipped, "failed": failed_ids})
    return totals, drops, skipped
