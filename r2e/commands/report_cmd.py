"""`r2e report`: the failure-mode report of an experiment's builds (and genexec), with charts."""

from __future__ import annotations

from pathlib import Path

import click

from r2e.errors import R2EError
from r2e.workspace import Workspace, check_experiment_name


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@click.option("-o", "--output-dir", type=click.Path(file_okay=False), help="Folder [default: experiments/EXP/report].")
@click.pass_obj
def report(ws: Workspace, exp: str, fmt: str, output_dir: str | None):
    """Summarise build (and genexec) results: statuses, exception classes, missing modules, pass ratios, times."""
    from r2e.fsio import atomic_write_text
    from r2e.report.aggregate import report_figures
    from r2e.report.load import load_experiment
    from r2e.report.render import RENDERERS, summary_lines

    check_experiment_name(exp)
    exp_dir = ws.experiment_dir(exp)
    if not exp_dir.is_dir():
        raise R2EError(f"experiment '{exp}' not found under {ws.experiments_dir}")
    results = load_experiment(exp_dir)
    if not results.builds and results.genexec is None:
        raise R2EError(f"experiment '{exp}' has no build or genexec results yet (run `r2e build -e {exp}`)")
    figures = report_figures(results)
    folder = Path(output_dir) if output_dir else exp_dir / "report"
    charts = {}
    if fmt != "json":
        from r2e.report.charts import draw_all

        charts = draw_all(figures, folder / "charts")
    name, render = RENDERERS[fmt]
    atomic_write_text(folder / name, render(figures, charts, folder))
    for line in summary_lines(figures):
        click.echo(line)
    click.echo(f"wrote {folder / name}" + (f" and {len(charts)} charts" if charts else ""))
