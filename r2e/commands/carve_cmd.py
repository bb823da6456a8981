"""`r2e carve -e EXP`: record calls to the extracted functions while each repo's own tests run."""

from __future__ import annotations

import click

from r2e.cli_types import FiniteFloat

from r2e.workspace import Workspace


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--repo", "repos", multiple=True, help="Only functions of this repo id (repeatable).")
@click.option("--backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True,
              help="Where the repo's test suite runs.")
@click.option("--max-samples", type=click.IntRange(min=1), default=20, show_default=True,
              help="Distinct samples kept per function.")
@click.option("--max-bytes", type=click.IntRange(min=256), default=65536, show_default=True,
              help="Pickled size above which an input is skipped (never pickled in full).")
@click.option("--suite-timeout", type=FiniteFloat(min=1.0), default=1800.0, show_default=True,
              help="Seconds the repo's test suite may run.")
@click.option("--pytest-arg", "pytest_args", multiple=True, help="Extra argument for pytest (repeatable).")
@click.option("--recarve", is_flag=True, help="Carve again even where a report exists.")
@click.pass_obj
def carve(ws: Workspace, exp, repos, backend, max_samples, max_bytes, suite_timeout, pytest_args, recarve):
    """Run each repo's pytest suite once with the extracted functions wrapped; keep the calls that replay."""
    from harness.carve.carving import CarveOptions, carve_experiment
    from harness.env_pool import harness_pool
    from r2e.commands.harness_cmds import _records

    experiment, records = _records(ws, exp, repos, ())
    opts = CarveOptions(max_samples=max_samples, max_bytes=max_bytes, suite_timeout=suite_timeout,
                        extra_pytest_args=tuple(pytest_args))
    with harness_pool(experiment, backend) as pool:
        reports = carve_experiment(experiment, records, pool, opts, recarve=recarve, echo=click.echo)
    with_samples = sum((r.get("summary") or {}).get("with_samples", 0) for r in reports.values())
    click.echo(f"carve: {with_samples}/{len(records)} functions have samples; reports in {experiment.carve_dir}")
    if any(r.get("status") != "ok" for r in reports.values()):
        raise click.exceptions.Exit(1)
