"""`r2e build` (every repo of an experiment into an environment) and `r2e images` (base images)."""

from __future__ import annotations

import click

from r2e.errors import R2EUsageError
from r2e.workspace import Workspace, check_experiment_name


def build_options(backend, python, timeout_per_task, test_timeout, min_pass_ratio, no_repairs, no_llm, model,
                  base_url, no_cache, max_repair_steps, rebuild, minimal_base, cache_dir,
                  wheelhouse=False, no_network=False, wheelhouse_dir=None):
    from installers.build import BuildOptions
    from installers.images import RELEASES

    if python and backend == "docker" and python not in RELEASES:
        raise R2EUsageError(f"invalid --python '{python}': base images exist for {', '.join(sorted(RELEASES))}")
    if not 0.0 <= min_pass_ratio <= 1.0:
        raise R2EUsageError(f"invalid --min-pass-ratio {min_pass_ratio}: expected a number between 0 and 1")
    llm = None
    if not no_llm:
        from r2e.llm import LLMConfig

        llm = LLMConfig.from_env_and_options(model=model, base_url=base_url, no_cache=no_cache, cache_dir=cache_dir)
    return BuildOptions(backend=backend, python=python, timeout_per_task=timeout_per_task, test_timeout=test_timeout,
                        min_pass_ratio=min_pass_ratio, rules=not no_repairs, llm=llm,
                        max_repair_steps=max_repair_steps, rebuild=rebuild, base_minimal=minimal_base,
                        wheelhouse=wheelhouse_dir if wheelhouse else None, network=not no_network)


def common_build_options(fn):
    opts = [
        click.option("--backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True,
                     help="docker: a container per repo (model commands and tests stay sandboxed); "
                          "local: a venv on this host (you accept running repo code here)."),
        click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Parallel builds."),
        click.option("--timeout-per-task", type=click.FloatRange(min=1), default=1800, show_default=True,
                     help="Seconds per repo, install + tests + repairs."),
        click.option("--test-timeout", type=click.FloatRange(min=1), default=900, show_default=True,
                     help="Seconds for one run of the repo's tests."),
        click.option("--python", "python", default=None, help="Force a Python version (X.Y)."),
        click.option("--min-pass-ratio", type=float, default=0.95, show_default=True,
                     help="Pass ratio of the repo's tests that counts as success."),
        click.option("--no-repairs", is_flag=True, help="Skip the rule-based repairs."),
        click.option("--no-llm", is_flag=True, help="Never ask a model to repair an install."),
        click.option("--model", default=None, help="LLM for the repair loop (default $R2E_MODEL; none: no loop)."),
        click.option("--base-url", default=None, help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL)."),
        click.option("--no-cache", is_flag=True, help="Do not cache LLM replies."),
        click.option("--max-repair-steps", type=click.IntRange(0, 100), default=10, show_default=True,
                     help="Bound on repair steps (rules, then the model)."),
        click.option("--rebuild", is_flag=True, help="Rebuild repo images even when the install plan is unchanged."),
        click.option("--force", is_flag=True, help="Build repos that already have a result."),
        click.option("--min-free-gb", type=float, default=5.0, show_default=True,
                     help="Start no new build below this much free disk."),
        click.option("--wheelhouse", is_flag=True,
                     help="docker: download wheels on the host and install them in the container with --no-index "
                          "(for containers that cannot reach the package index)."),
        click.option("--no-network", is_flag=True, help="docker: run build containers without any network."),
        click.option("--minimal-base", is_flag=True, hidden=True,
                     help="Use the small base image (no compilers): for tests and quick trials."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--only", "only", multiple=True, help="Build only this repo id (repeatable).")
@common_build_options
@click.pass_obj
def build(ws: Workspace, exp, only, backend, jobs, timeout_per_task, test_timeout, python, min_pass_ratio,
          no_repairs, no_llm, model, base_url, no_cache, max_repair_steps, rebuild, force, min_free_gb, wheelhouse,
          no_network, minimal_base):
    """Build every repo of an experiment into an environment and check it with the oracle.

    Writes experiments/EXP/build/<repo>/{result.json,install.log,plan.json,Dockerfile} and
    experiments/EXP/build.json. Repos with a result are skipped (resumable) unless --force.
    """
    check_experiment_name(exp)
    repos = ws.repos_of(exp, only)
    opts = build_options(backend, python, timeout_per_task, test_timeout, min_pass_ratio, no_repairs, no_llm, model,
                         base_url, no_cache, max_repair_steps, rebuild, minimal_base, ws.cache_dir("llm"),
                         wheelhouse, no_network, ws.cache_dir("wheelhouse"))
    summary = run_build(ws, exp, repos, opts, jobs=jobs, force=force, min_free_gb=min_free_gb)
    failed = sum(v for k, v in summary["counts"].items() if k not in ("success", "partial", "no_tests"))
    if failed:
        raise click.exceptions.Exit(1)


def run_build(ws: Workspace, exp: str, repos, opts, *, jobs=1, force=False, min_free_gb=5.0) -> dict:
    from installers.runner import BuildItem, build_many

    if not repos:
        raise R2EUsageError(f"experiment '{exp}' has no repos: run `r2e setup -e {exp}` first")
    exp_dir = ws.experiment_dir(exp)
    items = [BuildItem(r.id, ws.repo_path(r.id), r.commit) for r in repos]
    if opts.backend == "local":
        click.echo("backend: local (repo code and its tests run on this host, in per-repo venvs)")
    else:
        from installers.backends import docker_client

        docker_client(opts)  # no engine: one clear line now, not one failure per repo
    summary = build_many(items, exp_dir / "build", opts, workers=jobs, force=force, min_free_gb=min_free_gb,
                         summary_path=exp_dir / "build.json")
    tally = ", ".join(f"{k}={v}" for k, v in sorted(summary["counts"].items()))
    click.echo(f"build: {tally}; summary in {exp_dir / 'build.json'}")
    return summary


@click.group()
def images():
    """Docker images: base images per Python version, built locally without a registry."""


@images.command("build-base")
@click.option("--python", "python", default="3.11", show_default=True, help="3.9 (bullseye), 3.11 (bookworm), 3.13 (trixie).")
@click.option("--minimal", is_flag=True, help="Only python3 + venv (no compilers): small, for tests.")
@click.option("--rebuild", is_flag=True, help="Build even if the image exists.")
@click.option("--from-registry", is_flag=True, help="Use python:X.Y-slim from a registry instead of debootstrap.")
def build_base_cmd(python, minimal, rebuild, from_registry):
    """Build the base image r2e-base:pyX.Y (debootstrap of Debian + docker import)."""
    from installers.backends import docker_client
    from installers.build import BuildOptions
    from installers.images import BaseSpec, build_base

    spec = BaseSpec(python, minimal=minimal)
    _ = spec.release  # validates the version before touching Docker
    client = docker_client(BuildOptions())
    name = build_base(client, spec, rebuild=rebuild, from_registry=from_registry, log=click.echo)
    click.echo(name)


@images.command("list")
def list_images():
    """The base and repo images R2E made."""
    from installers.backends import docker_client
    from installers.build import BuildOptions
    from installers.images import LABEL

    client = docker_client(BuildOptions())
    for img in client.images.list(filters={"label": LABEL}):
        for tag in img.tags or [img.short_id]:
            click.echo(f"{tag}\t{img.labels.get(LABEL)}\t{img.attrs.get('Size', 0) / 1e6:.0f} MB")


@images.command("sweep")
@click.option("--all", "all_containers", is_flag=True, help="Also remove running r2e containers.")
def sweep_cmd(all_containers):
    """Remove expired or stopped r2e containers, and dangling image layers."""
    from installers.backends import docker_client
    from installers.build import BuildOptions
    from installers.docker_env import sweep
    from installers.images import prune_dangling

    client = docker_client(BuildOptions())
    n = sweep(client, all_containers=all_containers)
    freed = prune_dangling(client)
    click.echo(f"removed {n} container(s), reclaimed {freed / 1e6:.0f} MB")
