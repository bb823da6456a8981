"""Choosing the carving generator for genexec: carve the repos first, then build the generator.

`--generator carve`: carved harnesses only. `--generator auto`: carved harnesses where samples
exist, the fallback (the LLM when configured, else the offline generator) for the rest and to
raise the coverage of under-covered carved harnesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from harness.carve.carving import CarveOptions, carve_experiment
from harness.carve.generator import CarveGenerator
from harness.carve.store import SampleStore
from harness.records import FunctionRecord
from r2e.workspace import Workspace


@dataclass
class CarveContext:
    exp: str
    records: list[FunctionRecord]
    backend: str
    min_cov: float = 0.8
    recarve: bool = False
    options: CarveOptions = field(default_factory=CarveOptions)
    echo: Callable[[str], None] = print


def carving_generator(ws: Workspace, ctx: CarveContext, fallback=None) -> CarveGenerator:
    reports = carve_experiment(ws, ctx.exp, ctx.records, ctx.backend, ctx.options, recarve=ctx.recarve, echo=ctx.echo)
    store = SampleStore(ws, ctx.exp)
    with_samples = sum(1 for r in ctx.records if store.has_samples(r))
    failed = [repo for repo, rep in reports.items() if rep.get("status") != "ok"]
    ctx.echo(f"carve: {with_samples}/{len(ctx.records)} functions have carved samples"
             + (f"; carving failed for {', '.join(failed)}" if failed else ""))
    return CarveGenerator(store, fallback=fallback, min_cov=ctx.min_cov)
