"""Writing an experiment's report: load -> figures -> charts -> one file in the chosen format."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from r2e.errors import R2EError
from r2e.experiment import Experiment
from r2e.fsio import atomic_write_text
from r2e.report.aggregate import report_figures
from r2e.report.load import load_experiment
from r2e.report.render import RENDERERS, summary_lines


def write_report(exp: Experiment, fmt: str = "md", output_dir: str | Path | None = None,
                 echo: Callable[[str], None] = click.echo) -> Path:
    """Write the report of `exp` in `fmt` (md, html, json); return its path."""
    if not exp.dir.is_dir():
        raise R2EError(f"experiment '{exp.name}' not found: no {exp.dir}")
    results = load_experiment(exp)
    if not results.builds and results.genexec is None:
        if results.unreadable:  # nothing to report but files that cannot be read: name the first
            exp.build_result(results.unreadable[0], required=True)
        raise R2EError(f"experiment '{exp.name}' has no build or genexec results yet: no "
                       f"{exp.build_result_path('<repo>')}, no {exp.genexec_path} (run `r2e build -e {exp.name}`)")
    figures = report_figures(results)
    folder = Path(output_dir) if output_dir else exp.report_dir
    charts = {}
    if fmt != "json":
        from r2e.report.charts import draw_all  # matplotlib: only when charts are drawn

        charts = draw_all(figures, folder / "charts")
    name, render = RENDERERS[fmt]
    atomic_write_text(folder / name, render(figures, charts, folder))
    for line in summary_lines(figures):
        echo(line)
    echo(f"wrote {folder / name}" + (f" and {len(charts)} charts" if charts else ""))
    return folder / name
