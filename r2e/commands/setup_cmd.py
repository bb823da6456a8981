"""`r2e setup` and `r2e repos`."""

from __future__ import annotations

import json

import click

from r2e.cli_types import FiniteFloat

from r2e.errors import R2EUsageError
from r2e.experiment import Experiment
from r2e.intake.git import DEFAULT_CLONE_TIMEOUT
from r2e.intake.listfile import read_list_file
from r2e.intake.setup import SetupOptions, SetupOutcome
from r2e.intake.setup_stage import run_setup
from r2e.intake.sources import RepoSource, SourceError, parse_path, parse_url
from r2e.pool import default_workers
from r2e.workspace import Workspace, check_experiment_name


def collect_sources(
    repo_urls: tuple[str, ...],
    local_paths: tuple[str, ...],
    urls_file: str | None,
    paths_file: str | None,
    commit: str | None,
) -> tuple[list[RepoSource], list[SetupOutcome]]:
    """Parse every entry; an entry that cannot be parsed becomes a failed outcome, not an abort."""
    url_entries = list(repo_urls) + (read_list_file(urls_file, urls=True) if urls_file else [])
    path_entries = list(local_paths) + (read_list_file(paths_file, urls=False) if paths_file else [])
    if commit and len(url_entries) + len(path_entries) != 1:
        raise R2EUsageError("--commit pins one repository; give exactly one -r URL (or use URL@REF per entry)")
    sources: list[RepoSource] = []
    bad: list[SetupOutcome] = []
    for entry in url_entries:
        try:
            sources.append(parse_url(entry, commit))
        except SourceError as exc:
            bad.append(SetupOutcome(entry, "failed", None, str(exc)))
    for entry in path_entries:
        try:
            sources.append(parse_path(entry))
        except SourceError as exc:
            bad.append(SetupOutcome(entry, "failed", None, str(exc)))
    return sources, bad


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("-r", "--repo-url", "repo_urls", multiple=True, metavar="URL[@REF]", help="Repository URL (https, ssh, file://); repeatable.")
@click.option("-l", "--local-path", "local_paths", multiple=True, metavar="PATH", help="Local folder to copy in; repeatable.")
@click.option("--repo-urls-file", type=click.Path(dir_okay=True), help="JSON list, one URL per line, or SEART CSV (name/url column).")
@click.option("--repo-paths-file", type=click.Path(dir_okay=True), help="JSON list or one local path per line.")
@click.option("--commit", metavar="SHA", help="Pin the (single) repository to this commit or ref.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Parallel clones [default: 2 x cores, at most 8].")
@click.option("--depth", type=click.IntRange(min=1), default=None, help="Shallow clone depth.")
@click.option("--force", is_flag=True, help="Re-clone / re-copy repositories that are already set up.")
@click.option("--clone-timeout", type=FiniteFloat(min=1), default=DEFAULT_CLONE_TIMEOUT, show_default=True, help="Seconds before a clone is abandoned.")
@click.pass_obj
def setup(ws: Workspace, exp, repo_urls, local_paths, repo_urls_file, repo_paths_file, commit, jobs, depth, force, clone_timeout):
    """Clone URLs or copy local folders into the workspace and add them to experiment EXP."""
    check_experiment_name(exp)
    if not (repo_urls or local_paths or repo_urls_file or repo_paths_file):
        raise R2EUsageError("nothing to set up: give -r URL, -l PATH, --repo-urls-file or --repo-paths-file")
    sources, bad = collect_sources(repo_urls, local_paths, repo_urls_file, repo_paths_file, commit)
    opts = SetupOptions(depth=depth, force=force, clone_timeout=clone_timeout)
    outcomes = run_setup(ws, exp, sources, bad, opts, jobs or default_workers(io_bound=True))
    if any(o.status == "failed" for o in outcomes):
        raise click.exceptions.Exit(1)


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest's repos as JSON.")
@click.pass_obj
def repos(ws: Workspace, exp, as_json):
    """List the repositories of experiment EXP."""
    manifest = Experiment(ws, exp).manifest()
    if as_json:
        click.echo(json.dumps(manifest.to_dict()["repos"], indent=2))
        return
    if not manifest.repos:
        click.echo(f"experiment {exp} has no repositories")
        return
    width = max(len(r.id) for r in manifest.repos)
    for r in manifest.repos:
        ref = f" @{r.ref}" if r.ref else ""
        click.echo(f"{r.id:<{width}}  {r.commit[:12]}  {r.source}{ref}")
