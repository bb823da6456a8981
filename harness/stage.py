"""The quickstart stages of issue 7: genexec (offline generator) and export, on the example repo."""

from __future__ import annotations

from typing import Callable

import click

from harness.environments import quickstart_backend
from harness.execute import ExecOptions
from harness.export import export_dataset
from harness.generators import OfflineGenerator
from harness.genexec import LoopOptions, run_genexec
from harness.records import extracted_path, load_functions
from r2e.workspace import Workspace

EXPORT_FILE = "problems.jsonl"


def stage_genexec(ws: Workspace, exp: str, echo: Callable[[str], None] = click.echo) -> bool:
    """Offline harnesses for every extracted function; succeeds when at least one is valid."""
    if not extracted_path(ws, exp).exists():
        echo("genexec skipped: no extracted.jsonl (the extract stage has not run)")
        return True
    records = load_functions(ws, exp)
    backend = quickstart_backend(ws, exp)
    opts = LoopOptions(k=3, backend=backend, exec=ExecOptions(per_test_timeout=10, run_timeout=60))
    # issue 8: harnesses carved from the repo's own tests; the offline generator for the rest
    from harness.carve.select import CarveContext, carving_generator

    generator = carving_generator(ws, CarveContext(exp, records, backend, min_cov=opts.min_cov, echo=echo),
                                  fallback=OfflineGenerator())
    echo(f"genexec: {len(records)} functions, generator {generator.name}, backend {backend}")
    doc = run_genexec(ws, exp, records, generator, opts, echo=echo)
    s = doc["summary"]
    echo(f"genexec: {s['valid']}/{s['functions']} valid, {s['done']} with branch coverage >= {opts.min_cov}")
    return s["valid"] > 0


def stage_export(ws: Workspace, exp: str, echo: Callable[[str], None] = click.echo) -> bool:
    if not extracted_path(ws, exp).exists():
        echo("export skipped: no extracted.jsonl (the extract stage has not run)")
        return True
    out = ws.experiment_dir(exp) / EXPORT_FILE
    count = export_dataset(ws, exp, load_functions(ws, exp), out)
    echo(f"export: {count} problems written to {out}")
    return count > 0
