"""The build stage: every repo of an experiment into an environment, checked by the oracle.

`r2e build`, the standalone batch installer and `r2e quickstart` call `run_build`.
"""

from __future__ import annotations

import click

from installers.backends import docker_client
from installers.build_many import BuildItem, build_many
from installers.options import BuildOptions
from r2e.errors import R2EUsageError
from r2e.executor import Executor
from r2e.experiment import Experiment
from r2e.workspace import RepoRecord, Workspace


def run_build(ws: Workspace, exp: str, repos: list[RepoRecord], opts: BuildOptions, *, jobs: int = 1,
              force: bool = False, min_free_gb: float = 5.0, executor: Executor | None = None,
              registry: str | None = None) -> dict:
    """Build `repos` of experiment `exp`; print a one-line tally and return the build summary.

    `executor` (default: a local pool of `jobs`) says where the builds run; on a cluster each node
    needs its own Docker Engine, so none is required here."""
    if not repos:
        raise R2EUsageError(f"experiment '{exp}' has no repos: run `r2e setup -e {exp}` first")
    experiment = Experiment(ws, exp)
    items = [BuildItem(r.id, ws.repo_path(r.id), r.commit) for r in repos]
    if opts.backend == "local":
        click.echo("backend: local (repo code and its tests run on this host, in per-repo venvs)")
    elif executor is None or executor.name == "local":
        docker_client(opts)  # no engine: one clear line now, not one failure per repo
    summary = build_many(items, experiment, opts, workers=jobs, force=force, min_free_gb=min_free_gb,
                         executor=executor, registry=registry)
    tally = ", ".join(f"{k}={v}" for k, v in sorted(summary["counts"].items()))
    nodes = summary.get("nodes")
    where = f" over {len(nodes)} node(s): " + ", ".join(f"{k}={v}" for k, v in sorted(nodes.items())) if nodes else ""
    click.echo(f"build: {tally}{where}; summary in {experiment.build_summary_path}")
    return summary
