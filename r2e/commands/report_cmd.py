"""`r2e report`: the failure-mode report of an experiment's builds (and genexec), with charts."""

from __future__ import annotations

import click

from r2e.experiment import Experiment
from r2e.workspace import Workspace


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@click.option("-o", "--output-dir", type=click.Path(file_okay=False), help="Folder [default: experiments/EXP/report].")
@click.pass_obj
def report(ws: Workspace, exp: str, fmt: str, output_dir: str | None):
    """Summarise build (and genexec) results: statuses, exception classes, missing modules, pass ratios, times."""
    from r2e.report.write import write_report

    write_report(Experiment(ws, exp), fmt, output_dir)
