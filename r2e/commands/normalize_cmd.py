"""`r2e normalize`: build instances that come with a Dockerfile and an eval script, normalise them, and write
a transferred dataset (stage 1 of a build-then-run pipeline)."""

from __future__ import annotations

from pathlib import Path

import click

from r2e.llm.options import POSITIVE_INT, POSITIVE_SECONDS, config_from_options, llm_options
from r2e.workspace import Workspace


@click.command()
@click.argument("input_path", metavar="INPUT.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for summary.json, <stem>_transferred.json, <stem>_failed.json and one folder per instance.")
@click.option("--max-iterations", type=click.IntRange(min=0), default=5, show_default=True,
              help="LLM edit-and-rebuild iterations per instance (only where a check fails).")
@click.option("--eval-timeout", type=POSITIVE_SECONDS, default=300.0, show_default=True,
              help="Seconds an eval run may take; longer instances fail with eval_timeout.")
@click.option("--max-workers", type=POSITIVE_INT, default=2, show_default=True, help="Instances in parallel.")
@click.option("--skip-existing", is_flag=True, help="Keep the result of instances that already have one.")
@click.option("--repos", "repos", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of repository copies (<name> or <owner>__<name>) used instead of cloning.")
@click.option("--no-llm", is_flag=True, help="Deterministic checks and fixes only.")
@click.option("--no-cache", is_flag=True, help="Do not reuse cached LLM answers.")
@llm_options
@click.pass_obj
def normalize(ws: Workspace, input_path, output, max_iterations, eval_timeout, max_workers, skip_existing, repos,
              no_llm, no_cache, model, base_url, max_tokens, llm_timeout, llm_max_failures):
    """Build each instance's Dockerfile locally, check and fix it, and write the transferred dataset.

    Checks (each fix recorded in `normalisations`): an unpullable FROM is built on R2E's local base; a clone of
    the repository becomes a copy from --repos or the workspace; the git toplevel is /testbed at base_commit;
    git status is empty after the build and after an eval; the eval runs within --eval-timeout; the gold patch
    passes FAIL_TO_PASS and keeps PASS_TO_PASS while the empty patch fails FAIL_TO_PASS, twice; flaky tests are
    recorded and removed. A model (--model/--base-url) proposes edits only where a check fails.
    """
    from harness.normalize.pipeline import Settings
    from harness.normalize.run import run_normalize
    from r2e.errors import R2EUsageError

    if not input_path.is_file():
        raise R2EUsageError(f"{input_path}: no such file")
    if repos is not None and not repos.is_dir():
        raise R2EUsageError(f"--repos {repos}: no such folder")
    if output.exists() and not output.is_dir():
        raise R2EUsageError(f"--output {output} is a file")
    config = None if no_llm else config_from_options(model, base_url, max_tokens, llm_timeout, llm_max_failures,
                                                     no_cache=no_cache, cache_dir=ws.cache_dir("llm"))
    client = None
    if config is not None:
        from r2e.llm import LLMClient

        config.api_key()  # a model without a key is refused before any build, in one line
        client = LLMClient(config)
    settings = Settings(output=output, eval_timeout=eval_timeout, max_iterations=max_iterations, repos=repos,
                        workspace_repos=ws.repos_dir, llm=client, llm_config=config)
    result = run_normalize(input_path, settings, workers=max_workers, skip_existing=skip_existing, log=click.echo)
    s = result.summary
    click.echo(f"{s['succeeded']}/{s['total']} transferred ({s['builds']} build(s)); "
               f"{result.transferred_path.name}, {result.failed_path.name} and summary.json in {output}")
    if s["failed"]:
        raise click.exceptions.Exit(1)
