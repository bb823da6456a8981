"""The build options shared by `r2e build` and `python -m installers.batch`: the click options, and
their conversion into `BuildOptions` (checked, one-line errors for bad values)."""

from __future__ import annotations

from pathlib import Path

import click

from installers.images import RELEASES
from installers.options import BuildOptions
from r2e.cli_types import FiniteFloat
from r2e.errors import R2EUsageError
from r2e.llm.options import allow_unisolated_option, config_from_options, llm_options


def build_options(backend, python, timeout_per_task, test_timeout, min_pass_ratio, no_repairs, no_llm, model,
                  base_url, no_cache, max_repair_steps, rebuild, minimal_base, cache_dir: Path,
                  wheelhouse=False, no_network=False, wheelhouse_dir: Path | None = None, max_tokens=None,
                  llm_timeout=None, llm_max_failures=None, allow_unisolated_local=False) -> BuildOptions:
    if python and backend == "docker" and python not in RELEASES:
        raise R2EUsageError(f"invalid --python '{python}': base images exist for {', '.join(sorted(RELEASES))}")
    if not 0.0 <= min_pass_ratio <= 1.0:
        raise R2EUsageError(f"invalid --min-pass-ratio {min_pass_ratio}: expected a number between 0 and 1")
    llm = None
    if not no_llm:
        llm = config_from_options(model, base_url, max_tokens, llm_timeout, llm_max_failures,
                                  no_cache=no_cache, cache_dir=cache_dir)
    if llm is not None:
        llm.api_key()  # a missing key is the user's to fix, in one line, before any build starts
        guard_local_llm(llm, backend, allow_unisolated_local)
    return BuildOptions(backend=backend, python=python, timeout_per_task=timeout_per_task, test_timeout=test_timeout,
                        min_pass_ratio=min_pass_ratio, rules=not no_repairs, llm=llm,
                        max_repair_steps=max_repair_steps, rebuild=rebuild, base_minimal=minimal_base,
                        wheelhouse=wheelhouse_dir if wheelhouse else None, network=not no_network,
                        notify=notify)


def guard_local_llm(llm, backend: str, allow_unisolated: bool) -> None:
    """Model-driven commands run on this host only inside a sandbox that hides the key (or when the user says so)."""
    from installers.isolation import require_isolation_for_llm
    from installers.local_env import hide_variable

    hide_variable(llm.api_key_env)
    require_isolation_for_llm(backend, allow_unisolated)


def notify(message: str) -> None:
    """The LLM circuit breaker's once-only notice: on stderr, between the builds' lines."""
    click.echo(message, err=True)


def common_build_options(fn):
    opts = [
        click.option("--backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True,
                     help="docker: a container per repo (model commands and tests stay sandboxed); "
                          "local: a venv on this host (you accept running repo code here)."),
        click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Parallel builds."),
        click.option("--timeout-per-task", type=FiniteFloat(min=1), default=1800, show_default=True,
                     help="Seconds per repo, install + tests + repairs."),
        click.option("--test-timeout", type=FiniteFloat(min=1), default=900, show_default=True,
                     help="Seconds for one run of the repo's tests."),
        click.option("--python", "python", default=None, help="Force a Python version (X.Y)."),
        click.option("--min-pass-ratio", type=FiniteFloat(0.0, 1.0), default=0.95, show_default=True,
                     help="Pass ratio of the repo's tests that counts as success."),
        click.option("--no-repairs", is_flag=True, help="Skip the rule-based repairs."),
        no_llm := click.option("--no-llm", is_flag=True, help="Never ask a model to repair an install."),
        click.option("--no-cache", is_flag=True, help="Do not cache LLM replies."),
        click.option("--max-repair-steps", type=click.IntRange(0, 100), default=10, show_default=True,
                     help="Bound on repair steps (rules, then the model)."),
        click.option("--rebuild", is_flag=True, help="Rebuild repo images even when the install plan is unchanged."),
        click.option("--force", is_flag=True, help="Build repos that already have a result."),
        click.option("--min-free-gb", type=FiniteFloat(min=0.0), default=5.0, show_default=True,
                     help="Start no new build below this much free disk."),
        click.option("--wheelhouse", is_flag=True,
                     help="docker: download wheels on the host and install them in the container with --no-index "
                          "(for containers that cannot reach the package index)."),
        click.option("--no-network", is_flag=True, help="docker: run build containers without any network."),
        click.option("--minimal-base", is_flag=True, hidden=True,
                     help="Use the small base image (no compilers): for tests and quick trials."),
    ]
    # --model (the repair loop's LLM; none: no loop) --base-url --max-tokens --llm-timeout --llm-max-failures,
    # shown right after --no-llm
    split = next(i for i, opt in enumerate(opts) if opt is no_llm) + 1
    for opt in reversed(opts[split:]):
        fn = opt(fn)
    fn = allow_unisolated_option(llm_options(fn))
    for opt in reversed(opts[:split]):
        fn = opt(fn)
    return fn
