"""`r2e execute`, `r2e generate`, `r2e genexec`, `r2e export`: equivalence harnesses."""

from __future__ import annotations

from pathlib import Path

import click

from r2e.cli_types import FiniteFloat

from r2e.errors import R2EError, R2EUsageError
from r2e.experiment import Experiment
from r2e.llm.options import allow_unisolated_option, config_from_options, llm_options
from r2e.workspace import Workspace


def _common(fn):
    fn = click.option("--id", "ids", multiple=True, help="Only this function id (repeatable).")(fn)
    fn = click.option("--repo", "repos", multiple=True, help="Only functions of this repo id (repeatable).")(fn)
    fn = click.option("-e", "--exp", "exp", required=True, help="Experiment name.")(fn)
    return fn


def _exec_options(fn):
    fn = click.option("--timeout-per-test", type=FiniteFloat(min=0.1), default=30.0, show_default=True,
                      help="Seconds one test may run before it counts as timed out.")(fn)
    fn = click.option("--timeout-per-task", type=FiniteFloat(min=1.0), default=300.0, show_default=True,
                      help="Seconds for one function's whole execution (both runs).")(fn)
    fn = click.option("--backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True,
                      help="Where tests run: a container of the repo's image, or the host (local venv).")(fn)
    fn = click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
                      help="Functions executed (and requests sent) concurrently.")(fn)
    return fn


def _llm_options(fn):
    fn = click.option("--save-chat", is_flag=True, help="Keep each function's messages and replies.")(fn)
    fn = click.option("--temperature", type=FiniteFloat(min=0.0, max=2.0), default=0.0, show_default=True)(fn)
    fn = click.option("--n", "n", type=click.IntRange(min=1), default=1, show_default=True,
                      help="Samples per request; the best executed sample is kept.")(fn)
    fn = click.option("--no-cache", is_flag=True, help="Do not read or write the LLM request cache.")(fn)
    fn = llm_options(fn)
    fn = click.option("--generator", type=click.Choice(["auto", "carve", "llm", "offline"]), default="auto",
                      show_default=True,
                      help="auto: harnesses carved from the repo's own tests where calls were recorded (genexec), "
                           "the LLM for the rest when one is configured, else the deterministic offline generator.")(fn)
    return fn


def exec_options(timeout_per_task: float, timeout_per_test: float):
    from harness.execute import ExecOptions

    runs = 2
    return ExecOptions(per_test_timeout=timeout_per_test, run_timeout=max(1.0, (timeout_per_task - 10) / runs), runs=runs)


def llm_config(ws: Workspace, model, base_url, max_tokens, llm_timeout, llm_max_failures, no_cache: bool):
    """The run's LLMConfig from the shared LLM options (None when no model is named)."""
    return config_from_options(model, base_url, max_tokens, llm_timeout, llm_max_failures,
                               no_cache=no_cache, cache_dir=ws.cache_dir("llm"))


def llm_params(config) -> dict | None:
    """The model's settings as a run's record keeps them: the endpoint without its credentials."""
    from r2e.llm.redact import redact_url

    if config is None:
        return None
    return {"model": config.model, "base_url": redact_url(config.base_url),
            "max_tokens": config.max_tokens_for("generate"), "timeout": config.timeout,
            "max_failures": config.max_failures}


def notify(message: str) -> None:
    """The circuit breaker's once-only notice: on stderr, never mixed into a command's results."""
    click.echo(message, err=True)


def make_generator(kind: str, config, n: int, temperature: float, carve=None):
    """`config`: the run's LLMConfig or None. `carve`: a harness.carve.select.CarveContext (genexec)
    enables carving for kinds carve and auto."""
    from harness.generators import LLMGenerator, OfflineGenerator
    from r2e.llm import LLMClient

    # carve = carved samples only; auto = carved samples, then the LLM (or offline) for the rest
    if kind == "carve" and carve is None:
        raise R2EUsageError("--generator carve needs the repo's environment: use `r2e genexec` (or `r2e carve`)")
    if carve is not None and (kind in ("carve", "auto") or (kind == "llm" and carve.examples)):
        from harness.carve.select import carving_generator

        fallback = None if kind == "carve" else make_generator(kind, config, n, temperature)
        return carving_generator(carve, fallback, fallback_only=kind == "llm")
    if kind == "offline" or (kind == "auto" and config is None):
        return OfflineGenerator()
    if config is None:
        raise R2EUsageError("--generator llm needs a model: give --model or set $R2E_MODEL")
    config.api_key()  # fail now, in one line, when no key can be used
    return LLMGenerator(LLMClient(config, notify=notify), n=n, temperature=temperature)


def _records(ws: Workspace, exp_name: str, repos, ids):
    """The experiment and its extracted Python functions (only some repos or ids when given)."""
    exp = Experiment(ws, exp_name)
    exp.repos(list(repos) or None)  # validates the experiment and repo ids
    records = exp.functions(lang="python", repos=list(repos) or None, ids=list(ids) or None)
    if not records:
        raise R2EError(f"experiment '{exp_name}' has no extracted Python functions to work on")
    # A corrupt build result stops the stage before anything runs; a missing one is per-repo data
    # (no environment for that repo's functions, or the local fallback venv).
    for repo_id in sorted({r.repo for r in records}):
        exp.build_result(repo_id)
    return exp, records


@click.command()
@_common
@_exec_options
@click.option("--overwrite", is_flag=True, help="Re-run functions that already have a result for their test.")
@click.pass_obj
def execute(ws: Workspace, exp, repos, ids, jobs, backend, timeout_per_task, timeout_per_test, overwrite):
    """Run each function's current test (tests/<function>/test.py) and record validity and coverage."""
    from harness.execute_all import execute_experiment

    experiment, records = _records(ws, exp, repos, ids)
    opts = exec_options(timeout_per_task, timeout_per_test)

    def report(outcome):
        result = outcome.result
        cov = result.coverage.branch_coverage if result and result.coverage else None
        cov_text = f" branch coverage {cov:.0%}" if isinstance(cov, (int, float)) else ""
        reasons = result.reasons if result else ()
        click.echo(f"{outcome.status:8} {outcome.function}{cov_text}" + (f"  ({reasons[0]})" if reasons and outcome.status != "valid" else ""))

    outcomes = execute_experiment(experiment, records, backend, jobs, opts, overwrite=overwrite, report=report)
    tally: dict[str, int] = {}
    for o in outcomes:
        tally[o.status] = tally.get(o.status, 0) + 1
    click.echo("execute: " + ", ".join(f"{v} {k}" for k, v in sorted(tally.items())))
    if tally.get("crashed"):  # the environment failed them; invalid or timed-out tests are results
        raise click.exceptions.Exit(1)


@click.command()
@_common
@_llm_options
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=4, show_default=True, help="Concurrent requests.")
@click.option("--overwrite", is_flag=True, help="Regenerate functions that already have a test.")
@click.pass_obj
def generate(ws: Workspace, exp, repos, ids, generator, model, base_url, max_tokens, llm_timeout, llm_max_failures,
             no_cache, n, temperature, save_chat, jobs, overwrite):
    """Generate an equivalence test per function (tests/<function>/test.py), with token usage."""
    from r2e.fsio import atomic_write_json, atomic_write_text
    from r2e.llm import LLMAuthError
    from r2e.pool import run_pool

    experiment, records = _records(ws, exp, repos, ids)
    config = llm_config(ws, model, base_url, max_tokens, llm_timeout, llm_max_failures, no_cache)
    gen = make_generator(generator, config, n, temperature)
    todo = [r for r in records if overwrite or not experiment.harness_test_path(r.id).exists()]
    totals = {"prompt": 0, "completion": 0, "failed": 0, "written": 0}
    auth = []

    def work(record):
        return gen.generate(record, None, 1)

    def done(record, generated, error):
        folder = experiment.function_dir(record.id)
        if error is not None or not generated.tests:
            if isinstance(error, LLMAuthError):
                auth.append(error)
            totals["failed"] += 1
            click.echo(f"failed   {record.id}: {error or generated.error}")
            return
        atomic_write_text(experiment.harness_test_path(record.id), generated.tests[0])
        for i, extra in enumerate(generated.tests[1:], start=1):
            atomic_write_text(folder / f"test_sample{i}.py", extra)
        usage = {"generator": gen.name, "samples": len(generated.tests), "prompt_tokens": generated.prompt_tokens,
                 "completion_tokens": generated.completion_tokens, "cached": generated.cached}
        atomic_write_json(folder / "generation.json", usage)
        if save_chat and generated.chat:
            atomic_write_json(folder / "chat.json", generated.chat)
        totals["prompt"] += generated.prompt_tokens
        totals["completion"] += generated.completion_tokens
        totals["written"] += 1
        click.echo(f"written  {record.id} ({generated.prompt_tokens}+{generated.completion_tokens} tokens)")

    run_pool(work, todo, workers=jobs if gen.name == "llm" else 1, on_done=done)
    click.echo(f"generate: {totals['written']} written, {len(records) - len(todo)} already had a test, "
               f"{totals['failed']} failed; tokens {totals['prompt']} prompt + {totals['completion']} completion")
    if auth:
        raise R2EError(str(auth[0]))
    if totals["failed"]:
        raise click.exceptions.Exit(1)


@click.command()
@_common
@click.option("-k", "k", type=click.IntRange(min=1), default=3, show_default=True, help="Rounds at most.")
@click.option("--min-valid", type=FiniteFloat(0.0, 1.0), default=0.8, show_default=True,
              help="Stop when this fraction of ALL functions is done.")
@click.option("--min-cov", type=FiniteFloat(0.0, 1.0), default=0.8, show_default=True,
              help="Branch coverage a valid suite needs to be done.")
@click.option("--resume", is_flag=True, help="Continue from genexec.json: done functions stay done, K more rounds.")
@_llm_options
@allow_unisolated_option
@_exec_options
@click.option("--recarve", is_flag=True, help="Run the repo's test suite again to carve samples, even if carved.")
@click.option("--carved-examples", is_flag=True,
              help="Show the LLM the calls carved from the repo's tests as real example inputs.")
@click.pass_obj
def genexec(ws: Workspace, exp, repos, ids, k, min_valid, min_cov, resume, generator, model, base_url, max_tokens,
            llm_timeout, llm_max_failures, allow_unisolated_local, no_cache, n, temperature, save_chat, jobs, backend, timeout_per_task,
            timeout_per_test, recarve, carved_examples):
    """Generate, execute and feed coverage back for up to K rounds; writes experiments/EXP/genexec.json."""
    from harness.carve.carving import carve_options
    from harness.carve.select import CarveContext
    from harness.genexec import LoopOptions, check_resumable, genexec_pool, run_genexec

    experiment, records = _records(ws, exp, repos, ids)
    if resume:
        check_resumable(experiment)
    config = llm_config(ws, model, base_url, max_tokens, llm_timeout, llm_max_failures, no_cache)
    if config is not None and generator in ("llm", "auto"):
        from installers.cli_options import guard_local_llm

        guard_local_llm(config, backend, allow_unisolated_local)  # generated tests run where the key must not be
    opts = LoopOptions(k=k, min_valid=min_valid, min_cov=min_cov, jobs=jobs, backend=backend, save_chat=save_chat,
                       resume=resume, exec=exec_options(timeout_per_task, timeout_per_test),
                       llm=llm_params(config) if generator != "offline" else None)
    with genexec_pool(experiment, records, backend) as pool:  # carving and execution share the environments
        carve = CarveContext(experiment, records, pool, min_cov=min_cov, recarve=recarve, examples=carved_examples,
                             echo=click.echo, options=carve_options(timeout_per_task, timeout_per_test))
        gen = make_generator(generator, config, n, temperature, carve=carve)
        uses_llm = config is not None and "offline" not in gen.name and gen.name != "carve"
        click.echo(f"genexec: {len(records)} functions, generator {gen.name}, backend {backend}"
                   + (f", {config.where}" if uses_llm else ""))
        doc = run_genexec(experiment, records, gen, opts, echo=click.echo, pool=pool)
    s = doc.summary or {}
    click.echo(f"genexec: {s['valid']}/{s['functions']} valid, {s['done']} done (branch coverage >= {min_cov}) "
               f"after {s['rounds']} round(s) [{doc.stop_reason}]; tokens {s['prompt_tokens']}+"
               f"{s['completion_tokens']}; see {experiment.genexec_path}")
    failed = [(fid, f) for fid, f in doc.functions.items() if f.status in ("crashed", "generation-failed")]
    if failed:
        fid, f = failed[0]
        reason = next((r for h in reversed(f.history) for r in h.get("reasons") or []), f.status)
        click.echo(f"genexec: {len(failed)} function(s) without an executed test, e.g. {fid}: {reason}", err=True)
        raise click.exceptions.Exit(1)


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False), help="JSONL file to write.")
@click.option("--min-cov", type=FiniteFloat(0.0, 1.0), default=0.0, show_default=True,
              help="Only functions whose final branch coverage reaches this.")
@click.option("--tasks", "tasks", is_flag=True,
              help="Write the experiment's valid bug-fix tasks (r2e tasks; SWE-bench field names) instead.")
@click.pass_obj
def export(ws: Workspace, exp, output, min_cov, tasks):
    """Write the dataset: one problem per valid function (or, with --tasks, one task instance per line),
    JSONL loadable by HF datasets."""
    from harness.export import export_dataset

    experiment = Experiment(ws, exp)
    experiment.manifest()  # one line when the experiment does not exist
    if tasks:
        written = experiment.tasks()
        experiment.write_tasks(written, Path(output))
        click.echo(f"export: {len(written)} task(s) written to {output}")
        return
    count, _ = export_dataset(experiment, experiment.functions(lang="python"), Path(output), min_cov)
    click.echo(f"export: {count} problems written to {output}")
