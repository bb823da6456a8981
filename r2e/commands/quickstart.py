"""`r2e quickstart`: the whole pipeline on the bundled example, offline, with embedded defaults."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Callable

import click

from r2e.experiment import Experiment
from r2e.intake.setup import SetupOptions
from r2e.intake.setup_stage import run_setup
from r2e.intake.sources import parse_path
from r2e.workspace import Workspace, check_experiment_name

EXAMPLE = "minilib"


def example_path() -> Path:
    return Path(str(resources.files("r2e") / "examples" / EXAMPLE))


def stage_setup(ws: Workspace, exp: str) -> bool:
    outcomes = run_setup(ws, exp, [parse_path(str(example_path()))], [], SetupOptions(), jobs=1)
    return all(o.status != "failed" for o in outcomes)


def stage_extract(ws: Workspace, exp: str) -> bool:
    from r2e.analysis.extract_stage import run_extract

    return run_extract(Experiment(ws, exp), overwrite=True)


def quickstart_backend() -> tuple[str, str]:
    """Docker when an engine answers and a base image is there or can be built here; else local, said aloud."""
    import shutil

    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        return "local", f"no Docker Engine answers ({type(exc).__name__}): using a venv on this host"
    from installers.images import BaseSpec, image_exists

    if image_exists(client, BaseSpec("3.11", minimal=True).name):
        return "docker", "base image r2e-base:py3.11-min is present"
    if shutil.which("debootstrap"):
        return "docker", "building base image r2e-base:py3.11-min with debootstrap (about a minute, once)"
    return "local", ("Docker answers but no base image exists and debootstrap is missing "
                     "(`apt-get install -y debootstrap`, then `r2e images build-base`): using a venv on this host")


def stage_build(ws: Workspace, exp: str) -> bool:
    from installers.build_stage import run_build
    from installers.options import BuildOptions

    backend, why = quickstart_backend()
    click.echo(f"build backend: {backend} -- {why}")
    # The example is pure Python: the small base image (no compilers) is enough.
    opts = BuildOptions(backend=backend, base_minimal=True, timeout_per_task=900)
    repos = ws.repos_of(exp)
    summary = run_build(ws, exp, repos, opts)
    return summary["counts"].get("success", 0) == len(repos)


def stage_genexec(ws: Workspace, exp: str) -> bool:
    from harness.quickstart_stages import stage_genexec as run

    return run(ws, exp)


def stage_export(ws: Workspace, exp: str) -> bool:
    from harness.quickstart_stages import stage_export as run

    return run(ws, exp)


def stage_report(ws: Workspace, exp: str) -> bool:
    from r2e.report.write import write_report

    write_report(Experiment(ws, exp), "html")
    return True


# The pipeline in order, each stage reading what the ones before it wrote:
# (name, fn(workspace, experiment) -> succeeded).
STAGES: list[tuple[str, Callable[[Workspace, str], bool]]] = [
    ("setup", stage_setup),
    ("extract", stage_extract),
    ("build", stage_build),
    ("genexec", stage_genexec),
    ("export", stage_export),
    ("report", stage_report),
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
    click.echo(f"quickstart done: see {Experiment(ws, exp).dir}")
