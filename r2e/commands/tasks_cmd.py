"""`r2e tasks`: repository-level bug-fix tasks from an experiment's built repositories."""

from __future__ import annotations

import click

from r2e.llm.options import POSITIVE_SECONDS, allow_unisolated_option, llm_options
from r2e.workspace import Workspace


@click.group()
def tasks() -> None:
    """Make SWE-style bug-fix task instances (tasks.jsonl) from built repositories."""


@tasks.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--repo", "repos", multiple=True, help="Only this repo id (repeatable).")
@click.option("--per-function", type=click.IntRange(min=1), default=3, show_default=True,
              help="Mutations tried per covered function.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the mutation choice.")
@click.option("--strategies", default=None,
              help="Comma-separated strategies [default: swap_operator, off_by_one, drop_branch, "
                   "swap_arguments, change_constant, remove_statement; and llm_rewrite with --model].")
@click.option("--eval-timeout", type=POSITIVE_SECONDS, default=300.0, show_default=True,
              help="Seconds one run of the test suite may take; a candidate over it is rejected (timeout).")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Runs of the clean suite and of the F2P tests with the fix (flakiness checks).")
@click.option("--max-candidates", type=click.IntRange(min=1), default=None,
              help="Validate at most this many candidates per repository.")
@llm_options
@allow_unisolated_option
@click.pass_obj
def mutate(ws: Workspace, exp, repos, per_function, seed, strategies, eval_timeout, runs, max_candidates,
           model, base_url, max_tokens, llm_timeout, llm_max_failures, allow_unisolated_local):
    """Inject seeded bugs into covered functions; keep those the tests catch (F2P >= 1, P2P >= 1)."""
    from harness.tasks.mutate import parse_strategies
    from harness.tasks.stage import MutateOptions, mutate_experiment
    from r2e.commands.harness_cmds import _records
    from r2e.llm.options import config_from_options

    config = config_from_options(model, base_url, max_tokens, llm_timeout, llm_max_failures,
                                 no_cache=True, cache_dir=None)
    names = parse_strategies(strategies, model=config is not None)
    experiment, records = _records(ws, exp, repos, ())
    client = None
    if config is not None:
        from installers.cli_options import guard_local_llm
        from installers.local_env import hide_variable
        from r2e.llm.client import LLMClient

        hide_variable(config.api_key_env)  # the repos' tests run while the client holds the key
        if "llm_rewrite" in names:  # the model's code runs in the repos' environments
            for repo_id in sorted({r.repo for r in records}):
                build = experiment.build_result(repo_id)
                if build is not None:
                    guard_local_llm(config, build.backend, allow_unisolated_local)
        client = LLMClient(config)
    opts = MutateOptions(per_function=per_function, seed=seed, strategies=names, eval_timeout=eval_timeout,
                         runs=runs, max_candidates=max_candidates, llm=client)
    summary = mutate_experiment(experiment, records, opts, click.echo)
    rejections = ", ".join(f"{k} {v}" for k, v in sorted(summary["rejections"].items())) or "none"
    click.echo(f"tasks: {summary['valid']} valid of {summary['total']} candidates (rejected: {rejections}) "
               f"-> {experiment.tasks_path}")
    if any(r.get("status") == "error" for r in summary["repos"].values()):
        raise click.exceptions.Exit(1)


@tasks.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--repo", "repos", multiple=True, help="Only this repo id (repeatable).")
@click.option("--max-commits", type=click.IntRange(min=1), default=20, show_default=True,
              help="Most recent commits of HEAD's first-parent history looked at, per repository.")
@click.option("--since", default=None, help="Only commits after this date (anything `git log --since` takes).")
@click.option("--commit-timeout", type=POSITIVE_SECONDS, default=900.0, show_default=True,
              help="Seconds one commit's validation may take (each suite run gets a third at most).")
@click.option("--eval-timeout", type=POSITIVE_SECONDS, default=300.0, show_default=True,
              help="Seconds one run of the test suite may take; a commit over it is rejected (timeout).")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Runs of the F2P tests with the fix (flakiness check).")
@click.pass_obj
def mine(ws: Workspace, exp, repos, max_commits, since, commit_timeout, eval_timeout, runs):
    """Bug-fix tasks from git history: commits whose parent fails tests the commit passes."""
    from harness.tasks.stage import MineOptions, mine_experiment
    from r2e.experiment import Experiment

    experiment = Experiment(ws, exp)
    records = experiment.repos(list(repos) or None)  # validates the experiment and repo ids
    for record in records:  # a corrupt build result stops here, before anything runs
        experiment.build_result(record.id)
    opts = MineOptions(max_commits=max_commits, since=since, commit_timeout=commit_timeout,
                       eval_timeout=eval_timeout, runs=runs)
    summary = mine_experiment(experiment, [r.id for r in records], opts, click.echo)
    rejections = ", ".join(f"{k} {v}" for k, v in sorted(summary["rejections"].items())) or "none"
    click.echo(f"tasks: {summary['valid']} valid of {summary['total']} candidates (rejected: {rejections}) "
               f"-> {experiment.tasks_path}")
    if any(r.get("status") == "error" for r in summary["repos"].values()):
        raise click.exceptions.Exit(1)


@tasks.command("export")
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Where to write the dataset (JSON lines, loadable with HF datasets' json loader).")
@click.option("--source", type=click.Choice(["mutation", "history"]), default=None,
              help="Only tasks made this way [default: all].")
@click.pass_obj
def export_tasks(ws: Workspace, exp, output, source):
    """Write the experiment's valid tasks (SWE-bench field names) to a file."""
    from pathlib import Path

    from r2e.experiment import Experiment

    experiment = Experiment(ws, exp)
    experiment.manifest()  # an unknown experiment is a one-line error
    tasks = [t for t in experiment.tasks() if source is None or t.source == source]
    out = experiment.write_tasks(tasks, Path(output))
    click.echo(f"export: {len(tasks)} task(s) -> {out}")
