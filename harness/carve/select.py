"""Choosing the carving generator for genexec: carve the repos first, then build the generator.

`--generator carve`: carved harnesses only. `--generator auto`: carved harnesses where samples
exist, the fallback (the LLM when configured, else the offline generator) for the rest and to
raise the coverage of under-covered carved harnesses. `--generator llm --carved-examples`: the
LLM for every function, its prompt listing the carved calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from harness.carve.carving import CarveOptions, carve_experiment
from harness.carve.examples import ExampleLLMGenerator
from harness.carve.generator import CarveGenerator
from harness.carve.store import SampleStore
from harness.env_pool import EnvPool
from harness.generators import HarnessGenerator, LLMGenerator
from r2e.experiment import Experiment
from r2e.stage_records import FunctionRecord


@dataclass
class CarveContext:
    exp: Experiment
    records: list[FunctionRecord]
    pool: EnvPool  # the run's environments: carving and then execution share them
    min_cov: float = 0.8
    recarve: bool = False
    examples: bool = False  # --carved-examples
    options: CarveOptions = field(default_factory=CarveOptions)
    echo: Callable[[str], None] = print


def carving_generator(ctx: CarveContext, fallback: HarnessGenerator | None = None,
                      fallback_only: bool = False) -> HarnessGenerator:
    """Carve the repos (or reuse their carving), then the generator that uses the samples."""
    reports = carve_experiment(ctx.exp, ctx.records, ctx.pool, ctx.options, recarve=ctx.recarve, echo=ctx.echo)
    store = SampleStore(ctx.exp)
    with_samples = sum(1 for r in ctx.records if store.has_samples(r))
    failed = [repo for repo, rep in reports.items() if rep.get("status") != "ok"]
    ctx.echo(f"carve: {with_samples}/{len(ctx.records)} functions have carved samples"
             + (f"; carving failed for {', '.join(failed)}" if failed else ""))
    if ctx.examples:
        if isinstance(fallback, LLMGenerator):
            fallback = ExampleLLMGenerator(fallback, store)
        else:
            ctx.echo("carve: --carved-examples has no effect without an LLM")
    if fallback_only:
        return fallback
    return CarveGenerator(store, fallback=fallback, min_cov=ctx.min_cov)
