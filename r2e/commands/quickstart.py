"""`r2e quickstart`: the whole pipeline on the bundled example, offline, with embedded defaults."""

from __future__ import annotations

import json
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


# `r2e tasks mutate` with bounds that keep the quickstart quick: one mutation per function, a few
# candidates, the clean suite and the fixes run once (the full command runs them 3 times for flakiness).
TASK_OPTIONS = {"--per-function": "1", "--seed": "0", "--max-candidates": "3", "--runs": "1"}
AGENT_DIR = "agent"


def _in_process(command: click.Command, args: list[str], ws: Workspace) -> int:
    """Run an r2e command here, as `r2e` would (its one-line errors included); returns its exit code."""
    try:
        code = command.main(args, prog_name=f"r2e {command.name}", standalone_mode=False, obj=ws)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return code if isinstance(code, int) else 0


def stage_tasks(ws: Workspace, exp: str) -> bool:
    """Seeded bugs in the example's covered functions, kept when its tests catch them: tasks.jsonl."""
    from r2e.cli import cli

    group = cli.get_command(click.Context(cli), "tasks")
    mutate = group.get_command(click.Context(group), "mutate") if isinstance(group, click.Group) else None
    if mutate is None:
        click.echo("tasks: skipped (not available)")
        return True
    known = {opt for p in mutate.params for opt in p.opts}
    args = ["mutate", "-e", exp] + [x for k, v in TASK_OPTIONS.items() if k in known for x in (k, v)]
    return _in_process(group, args, ws) == 0


def tasks_file(ws: Workspace, exp: str) -> Path:
    e = Experiment(ws, exp)
    return Path(getattr(e, "tasks_path", e.dir / "tasks.jsonl"))


def stage_agent(ws: Workspace, exp: str) -> bool:
    """The bundled scripted model fixes every task through the agent's tools; each patch is graded."""
    from harness.agents.dataset import read_rows
    from harness.agents.summary import load_run, summarize
    from r2e.commands.agent_cmd import agent
    from r2e.llm.scripted_model import fix_script_for, serve

    path = tasks_file(ws, exp)
    rows = [row for _, row in read_rows(path)] if path.is_file() else []
    if not rows:
        click.echo("agent: skipped (no tasks)")
        return True
    e = Experiment(ws, exp)
    builds = {repo: e.build_result(repo) for repo in sorted({str(r.get("repo")) for r in rows})}
    backend = "local" if any(b is not None and b.backend == "local" for b in builds.values()) else "docker"
    out = e.dir / AGENT_DIR
    dataset = path
    if backend == "local":
        # The local backend runs each instance in a copy of the repository's checkout, with its venv.
        rows = [{**r, "repo_path": builds[str(r.get("repo"))].workdir, "venv": builds[str(r.get("repo"))].venv,
                 "docker_image": r.get("docker_image") or "local"} for r in rows]
        dataset = out / "tasks.local.jsonl"
        dataset.parent.mkdir(parents=True, exist_ok=True)
        dataset.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    # Local copies live in fresh folders: relative paths (the tools run in the workdir).
    script = [fix_script_for(r, workdir="." if backend == "local" else None) for r in rows]
    with serve(script) as url:
        click.echo(f"agent: the bundled scripted model at {url} applies each task's gold fix with file_editor")
        # --allow-unisolated-local: the scripted model's commands are the gold edits, not a model's choice.
        args = ["run", str(dataset), "--exp", exp, "--out", str(out), "--scaffold", "r2egym", "--fn-calling",
                "--model", "scripted", "--base-url", url, "--max-workers", "1", "--backend", backend,
                "--skip-existing", "--allow-unisolated-local"]
        code = _in_process(agent, args, ws)
    if code != 0:
        return False
    summary = summarize(load_run(out / exp)[1], exp)
    click.echo(f"agent: {summary['resolved']}/{summary['total']} resolved")
    if summary["resolved"] < summary["total"]:
        click.echo("agent: every task should be resolved by its own gold fix: see "
                   f"{out / exp} (test_output.log per instance)", err=True)
        return False
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
    ("tasks", stage_tasks),
    ("agent", stage_agent),
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
