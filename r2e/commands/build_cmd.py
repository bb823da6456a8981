"""`r2e build` (every repo of an experiment into an environment) and `r2e images` (base images)."""

from __future__ import annotations

import click

from installers.backends import docker_client
from installers.build_stage import run_build
from installers.cli_options import build_options, common_build_options
from installers.docker_env import sweep
from installers.images import LABEL, BaseSpec, build_base, prune_dangling
from installers.options import BuildOptions
from r2e.stage_records import USABLE_STATUSES
from r2e.workspace import Workspace, check_experiment_name


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--only", "only", multiple=True, help="Build only this repo id (repeatable).")
@common_build_options
@click.pass_obj
def build(ws: Workspace, exp, only, backend, jobs, timeout_per_task, test_timeout, python, min_pass_ratio,
          no_repairs, no_llm, no_cache, max_repair_steps, rebuild, force, min_free_gb, wheelhouse, no_network,
          minimal_base, model, base_url, max_tokens, llm_timeout, llm_max_failures, allow_unisolated_local):
    """Build every repo of an experiment into an environment and check it with the oracle.

    Writes experiments/EXP/build/<repo>/{result.json,install.log,plan.json,Dockerfile} and
    experiments/EXP/build.json. Repos with a result are skipped (resumable) unless --force.
    """
    check_experiment_name(exp)
    repos = ws.repos_of(exp, only)
    opts = build_options(backend, python, timeout_per_task, test_timeout, min_pass_ratio, no_repairs, no_llm, model,
                         base_url, no_cache, max_repair_steps, rebuild, minimal_base, ws.cache_dir("llm"),
                         wheelhouse, no_network, ws.cache_dir("wheelhouse"), max_tokens, llm_timeout,
                         llm_max_failures, allow_unisolated_local)
    summary = run_build(ws, exp, repos, opts, jobs=jobs, force=force, min_free_gb=min_free_gb)
    if any(status not in USABLE_STATUSES for status in summary["counts"]):
        raise click.exceptions.Exit(1)


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
    spec = BaseSpec(python, minimal=minimal)
    _ = spec.release  # validates the version before touching Docker
    client = docker_client(BuildOptions())
    name = build_base(client, spec, rebuild=rebuild, from_registry=from_registry, log=click.echo)
    click.echo(name)


@images.command("list")
def list_images():
    """The base and repo images R2E made."""
    client = docker_client(BuildOptions())
    for img in client.images.list(filters={"label": LABEL}):
        for tag in img.tags or [img.short_id]:
            click.echo(f"{tag}\t{img.labels.get(LABEL)}\t{img.attrs.get('Size', 0) / 1e6:.0f} MB")


@images.command("sweep")
@click.option("--all", "all_containers", is_flag=True, help="Also remove running r2e containers.")
def sweep_cmd(all_containers):
    """Remove expired or stopped r2e containers, and dangling image layers."""
    client = docker_client(BuildOptions())
    n = sweep(client, all_containers=all_containers)
    freed = prune_dangling(client)
    click.echo(f"removed {n} container(s), reclaimed {freed / 1e6:.0f} MB")
