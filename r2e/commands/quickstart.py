"""`r2e quickstart`: the whole pipeline on the bundled example, offline, with embedded defaults."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Callable

import click

from r2e.commands.setup_cmd import run_setup
from r2e.intake.setup import SetupOptions
from r2e.intake.sources import parse_path
from r2e.workspace import Workspace, check_experiment_name

EXAMPLE = "minilib"


def example_path() -> Path:
    return Path(str(resources.files("r2e") / "examples" / EXAMPLE))


def stage_setup(ws: Workspace, exp: str) -> bool:
    outcomes = run_setup(ws, exp, [parse_path(str(example_path()))], [], SetupOptions(), jobs=1)
    return all(o.status != "failed" for o in outcomes)


def stage_extract(ws: Workspace, exp: str) -> bool:
    from r2e.commands.extract_cmd import run_extract

    return run_extract(ws, exp, overwrite=True)


def stage_genexec(ws: Workspace, exp: str) -> bool:
    from harness.stage import stage_genexec as run

    return run(ws, exp)


def stage_export(ws: Workspace, exp: str) -> bool:
    from harness.stage import stage_export as run

    return run(ws, exp)


# Each later stage appends itself here: (name, fn(workspace, experiment) -> succeeded).
# genexec and export must come after the extract (issue 4) and build (issue 6) stages.
STAGES: list[tuple[str, Callable[[Workspace, str], bool]]] = [
    ("setup", stage_setup),
    ("extract", stage_extract),
    ("genexec", stage_genexec),
    ("export", stage_export),
]


@click.command()
@click.option("-e", "--exp", "exp", default="quickstart", show_default=True, help="Experiment name.")
@click.pass_obj
def quickstart(ws: Workspace, exp: str):
    """Run every pipeline stage on the bundled example repository (no API key, no registry)."""
    check_experiment_name(exp)
    click.echo(f"r2e quickstart: workspace {ws.home}, experiment {exp}")
    for name, stage in STAGES:
        click.echo(f"== {name}")
        if not stage(ws, exp):
            click.echo(f"quickstart stopped: stage '{name}' failed", err=True)
            raise click.exceptions.Exit(1)
    click.echo(f"quickstart done: see {ws.experiment_dir(exp)}")
