"""Quickstart's harness stages on the bundled example: genexec (carved harnesses, the offline
generator for the rest) and export. Both skip loudly when the extract stage has not run."""

from __future__ import annotations

from typing import Callable

import click

from harness.carve.select import CarveContext, carving_generator
from harness.environments import quickstart_backend
from harness.execute import ExecOptions
from harness.export import export_dataset
from harness.generators import OfflineGenerator
from harness.genexec import LoopOptions, genexec_pool, run_genexec
from r2e.experiment import Experiment
from r2e.workspace import Workspace


def stage_genexec(ws: Workspace, exp_name: str, echo: Callable[[str], None] = click.echo) -> bool:
    """Harnesses for every extracted Python function; succeeds when at least one is valid."""
    exp = Experiment(ws, exp_name)
    if not exp.has_functions():
        echo("genexec skipped: no extracted.jsonl (the extract stage has not run)")
        return True
    records = exp.functions(lang="python")
    backend = quickstart_backend(exp)
    opts = LoopOptions(k=3, backend=backend, exec=ExecOptions(per_test_timeout=10, run_timeout=60))
    with genexec_pool(exp, records, backend) as pool:
        generator = carving_generator(CarveContext(exp, records, pool, min_cov=opts.min_cov, echo=echo),
                                      fallback=OfflineGenerator())
        echo(f"genexec: {len(records)} functions, generator {generator.name}, backend {backend}")
        doc = run_genexec(exp, records, generator, opts, echo=echo, pool=pool)
    s = doc.summary or {}
    echo(f"genexec: {s['valid']}/{s['functions']} valid, {s['done']} with branch coverage >= {opts.min_cov}")
    return s["valid"] > 0


def stage_export(ws: Workspace, exp_name: str, echo: Callable[[str], None] = click.echo) -> bool:
    exp = Experiment(ws, exp_name)
    if not exp.has_functions():
        echo("export skipped: no extracted.jsonl (the extract stage has not run)")
        return True
    count, out = export_dataset(exp, exp.functions(lang="python"))
    echo(f"export: {count} problems written to {out}")
    return count > 0
