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

    base = BaseSpec("3.11", minimal=True).name
    if image_exists(client, base):
        return "docker", f"base image {base} is present"
    if shutil.which("debootstrap"):
        return "docker", f"building base image {base} with debootstrap (about a minute, once)"
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


def _image_has_git(image: str) -> bool:
    """The agent harness checks out, patches and diffs with git inside the instance's environment."""
    from installers.docker_env import DockerEnvironment

    try:
        env = DockerEnvironment(image, workdir="/testbed", network=False, name_hint="quickstart-git-probe")
    except Exception:
        return False
    try:
        return env.execute("command -v git", cwd="/", timeout=60).ok
    finally:
        env.close()


def _host_venv(folder: Path) -> str | None:
    """A venv of this Python (its packages visible) for grading on this host, if this Python has pytest."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("pytest") is None:
        return None
    if not (folder / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)],
                       check=True, capture_output=True, timeout=120)
    return str(folder)


def agent_dataset(ws: Workspace, exp: str, rows: list[dict], out: Path) -> tuple[str, Path | None, str]:
    """(backend, dataset file or None when the agent cannot run here, why) for the agent stage.

    Docker when the repository was built in an image that has git (the harness needs it there); else
    the local backend: each instance in a copy of the repository's checkout. Either way the rows go
    without their eval script: it calls R2E's pytest report plugin, which only `install_eval_script`
    puts into an environment, so the grader runs `pytest -rA` on the tests the ids name instead."""
    e = Experiment(ws, exp)
    builds = {repo: e.build_result(repo) for repo in sorted({str(r.get("repo")) for r in rows})}
    images = {b.image for b in builds.values() if b is not None and b.backend == "docker" and b.image}
    docker_built = all(b is not None and b.backend == "docker" for b in builds.values())
    if docker_built and images and all(_image_has_git(i) for i in images):
        return "docker", _write_rows(out / "tasks.docker.jsonl", [_without_eval(r) for r in rows]), \
            "the images of record have git"
    why = ("built on this host" if not docker_built
           else "the image of record has no git (the minimal base leaves it out)")
    venvs: dict[str, str | None] = {}
    for repo, b in builds.items():
        venvs[repo] = b.venv if b is not None and b.backend == "local" and b.venv else _host_venv(out / "venv")
    if any(v is None for v in venvs.values()):
        return "local", None, f"{why}, and this Python has no pytest to grade with (pip install pytest)"
    local = []
    for r in rows:
        b = builds[str(r.get("repo"))]
        local_build = b is not None and b.backend == "local" and b.workdir
        checkout = b.workdir if local_build else str(ws.repo_path(str(r["repo"])))
        local.append({**_without_eval(r), "repo_path": checkout, "venv": venvs[str(r.get("repo"))],
                      "docker_image": r.get("docker_image") or "local"})
    return "local", _write_rows(out / "tasks.local.jsonl", local), why


def _without_eval(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "eval_script"}


def _write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


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
    out = Experiment(ws, exp).dir / AGENT_DIR
    backend, dataset, why = agent_dataset(ws, exp, rows, out)
    if dataset is None:
        click.echo(f"agent: skipped ({why})")
        return True
    click.echo(f"agent backend: {backend} -- {why}")
    # Local copies live in fresh folders: paths relative to the workdir, where the tools run.
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
