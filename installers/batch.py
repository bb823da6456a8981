"""The standalone batch installer: setup + build over a segment of a URL list.

    python -m installers.batch URLS_FILE [--start 0] [--end N] [--workers 4] [--timeout-per-task 1800]

Repos are cloned into the R2E workspace (experiment `batch` unless -e), built segment by
segment (dangling image layers pruned between segments), and skipped when they already have a
result (resumable; --force rebuilds). Exit 1 if any repo failed.
"""

from __future__ import annotations

import sys

import click

from installers.build_stage import run_build
from installers.cli_options import build_options, common_build_options
from installers.images import prune_dangling
from r2e.errors import R2EUsageError
from r2e.intake.listfile import read_list_file
from r2e.intake.setup import SetupOptions, SetupOutcome
from r2e.intake.setup_stage import run_setup
from r2e.intake.sources import SourceError, parse_url
from r2e.stage_records import USABLE_STATUSES
from r2e.workspace import Workspace, check_experiment_name


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("urls_file", type=click.Path(dir_okay=False))
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True, help="First entry (0-based).")
@click.option("--end", type=click.IntRange(min=0), default=None, help="One past the last entry (default: all).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Parallel builds (alias of -j).")
@click.option("--segment-size", type=click.IntRange(min=1), default=50, show_default=True,
              help="Repos per segment; dangling layers are pruned between segments.")
@click.option("-e", "--exp", "exp", default="batch", show_default=True, help="Experiment to put the repos in.")
@click.option("--home", type=click.Path(file_okay=False), envvar="R2E_HOME", help="Workspace (default ~/.r2e).")
@common_build_options
def main(urls_file, start, end, workers, segment_size, exp, home, backend, jobs, timeout_per_task, test_timeout,
         python, min_pass_ratio, no_repairs, no_llm, no_cache, max_repair_steps, rebuild, force, min_free_gb,
         wheelhouse, no_network, minimal_base, model, base_url, max_tokens, llm_timeout, llm_max_failures, allow_unisolated_local):
    """Set up and build repositories start..end of URLS_FILE."""
    check_experiment_name(exp)
    ws = Workspace(home)
    entries = read_list_file(urls_file, urls=True)
    end = len(entries) if end is None else min(end, len(entries))
    if start >= end:
        raise R2EUsageError(f"empty segment --start {start} --end {end} of {urls_file} ({len(entries)} entries)")
    workers = workers or jobs
    opts = build_options(backend, python, timeout_per_task, test_timeout, min_pass_ratio, no_repairs, no_llm, model,
                         base_url, no_cache, max_repair_steps, rebuild, minimal_base, ws.cache_dir("llm"),
                         wheelhouse, no_network, ws.cache_dir("wheelhouse"), max_tokens, llm_timeout,
                         llm_max_failures, allow_unisolated_local)
    any_failed = False
    for seg_start in range(start, end, segment_size):
        segment = entries[seg_start:min(end, seg_start + segment_size)]
        click.echo(f"== segment {seg_start}..{seg_start + len(segment)} of {urls_file}")
        sources, bad = [], []
        for entry in segment:
            try:
                sources.append(parse_url(entry))
            except SourceError as exc:
                bad.append(SetupOutcome(entry, "failed", None, str(exc)))
        outcomes = run_setup(ws, exp, sources, bad, SetupOptions(), jobs=min(8, max(2, workers)))
        ids = [o.repo_id for o in outcomes if o.repo_id and o.status in ("ok", "skipped")]
        any_failed |= any(o.status == "failed" for o in outcomes)
        if not ids:
            continue
        summary = run_build(ws, exp, ws.repos_of(exp, ids), opts, jobs=workers, force=force, min_free_gb=min_free_gb)
        any_failed |= any(k not in USABLE_STATUSES for k in summary["counts"])
        if backend == "docker" and opts.docker_client is not None:
            freed = prune_dangling(opts.docker_client)
            if freed:
                click.echo(f"pruned dangling layers: {freed / 1e6:.0f} MB")
    sys.exit(1 if any_failed else 0)


if __name__ == "__main__":
    try:
        main(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
