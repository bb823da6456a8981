"""`r2e agent run / eval / summary`: editing agents over a dataset, graded in fresh containers."""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path

import click

from r2e.cli_types import FiniteFloat

from r2e.errors import R2EUsageError
from r2e.llm.options import POSITIVE_SECONDS
from r2e.workspace import Workspace, check_experiment_name


@click.group()
def agent() -> None:
    """Run editing agents on task datasets (R2E tasks.jsonl, SWE-bench, SWE-smith, R2E-Gym, SWE-Factory)."""


def _dataset_options(fn):
    fn = click.option("--split", default=None, help="Split of a saved HF DatasetDict [default: test, or the only one].")(fn)
    fn = click.option("--dataset-kind", type=click.Choice(["auto", "r2e", "swebench", "swesmith", "r2egym",
                                                           "swefactory"]), default="auto", show_default=True,
                      help="Whose field names the rows use.")(fn)
    fn = click.option("--filter", "pattern", default=None, help="Only instances whose id matches this regex.")(fn)
    fn = click.option("--start-idx", type=click.IntRange(min=0), default=0, show_default=True)(fn)
    fn = click.option("--k", type=click.IntRange(min=1), default=None, help="Number of instances [default: all].")(fn)
    return fn


def _common(fn):
    fn = click.option("--eval-timeout", type=POSITIVE_SECONDS, default=None,
                      help="Seconds for one grading run [default: the instance's, else 300].")(fn)
    fn = click.option("--backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True,
                      help="docker: a fresh container of the instance's image; local: a copy of `repo_path`.")(fn)
    fn = click.option("--max-workers", type=click.IntRange(min=1), default=1, show_default=True,
                      help="Instances in parallel, each in its own container.")(fn)
    fn = click.option("--out", type=click.Path(file_okay=False), default=None,
                      help="Output folder; results go to OUT/EXP/ [default: $R2E_HOME/agent-runs].")(fn)
    fn = click.option("--exp", "exp", required=True, help="Experiment (run) name.")(fn)
    return fn


def _load(dataset, dataset_kind, split, start_idx, k, pattern, eval_timeout=None):
    from harness.agents.dataset import load_instances, select

    instances = select(load_instances(Path(dataset), kind=dataset_kind, split=split, eval_timeout=eval_timeout),
                       start_idx=start_idx, k=k, pattern=pattern)
    if not instances:
        raise R2EUsageError(f"no instance of {dataset} left after --filter/--start-idx/--k")
    return instances


def _out(ctx, out) -> Path:
    ws: Workspace = ctx.obj if isinstance(ctx.obj, Workspace) else Workspace()
    return Path(out) if out else ws.home / "agent-runs"


@agent.command("run")
@click.argument("dataset", type=click.Path())
@_common
@_dataset_options
@click.option("--max-steps", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=0), default=65536, show_default=True,
              help="Context tokens (prompt + answer of one call) that end the run (0: no limit).")
@click.option("--max-time", type=POSITIVE_SECONDS, default=1200.0, show_default=True,
              help="Wall-clock seconds for one instance's agent.")
@click.option("--temperature", type=FiniteFloat(min=0.0, max=2.0), default=0.0, show_default=True)
@click.option("--fn-calling/--text", default=True, show_default=True,
              help="OpenAI tool calls, or <function=...> blocks in the text (r2egym scaffold).")
@click.option("--scaffold", type=click.Choice(["r2egym", "mini"]), default="r2egym", show_default=True)
@click.option("--model", default=None, help="Model name, LiteLLM style accepted (openai/NAME) [default: $R2E_MODEL].")
@click.option("--base-url", default=None, help="OpenAI-compatible endpoint [default: $OPENAI_BASE_URL].")
@click.option("--answer-tokens", type=click.IntRange(min=1), default=None,
              help="Bound on each answer's tokens [default: 1024].")
@click.option("--llm-timeout", type=POSITIVE_SECONDS, default=None, help="Seconds of model silence that count as no answer.")
@click.option("--llm-max-failures", type=click.IntRange(min=0), default=None,
              help="Failed model calls in a row after which the run makes no more (0: never stop) [default: 3].")
@click.option("--step-timeout", type=POSITIVE_SECONDS, default=90.0, show_default=True,
              help="Seconds one command of the agent may run.")
@click.option("--skip-existing", is_flag=True, help="Resume: keep the instances OUT/EXP/EXP.jsonl already holds.")
@click.option("--redo-errors", is_flag=True, help="With --skip-existing: run the ones that ended in an error again.")
@click.option("--allow-unisolated-local", is_flag=True,
              help="With --backend local and no sandbox (bubblewrap) on this host, still run the agent's commands here.")
@click.pass_context
def run(ctx, dataset, exp, out, max_workers, backend, eval_timeout, k, start_idx, pattern, dataset_kind, split,
        max_steps, max_tokens, max_time, temperature, fn_calling, scaffold, model, base_url, answer_tokens,
        llm_timeout, llm_max_failures, step_timeout, skip_existing, redo_errors, allow_unisolated_local) -> None:
    """Run an editing agent on every instance of DATASET and grade its patch in a fresh container."""
    from harness.agents.envs import EnvFactory
    from harness.agents.loop import AgentOptions
    from harness.agents.outputs import RunFiles
    from harness.agents.run import RunOptions, run_all, strip_provider
    from harness.agents.summary import markdown_table
    from r2e.llm import LLMClient
    from r2e.llm.config import MODEL_ENV, LLMConfig
    from r2e.llm.redact import scrub, secrets_of

    check_experiment_name(exp)
    instances = _load(dataset, dataset_kind, split, start_idx, k, pattern)
    model = model or os.environ.get(MODEL_ENV)
    if not model:
        raise R2EUsageError("no model: give --model (or set $R2E_MODEL)")
    config = LLMConfig.from_env_and_options(model=strip_provider(model), base_url=base_url, no_cache=True,
                                            max_tokens=answer_tokens, timeout=llm_timeout,
                                            max_failures=llm_max_failures)
    config.api_key()  # a missing key is a usage error now, not 40 steps later in every worker
    if backend == "local":
        from installers.cli_options import guard_local_llm

        guard_local_llm(config, backend, allow_unisolated_local)
    secrets = secrets_of(config)
    files = RunFiles(_out(ctx, out), exp, scrub=lambda text: scrub(text, secrets))
    agent_opts = AgentOptions(scaffold=scaffold, fn_calling=fn_calling, max_steps=max_steps, max_tokens=max_tokens,
                              max_time=max_time, step_timeout=step_timeout, temperature=temperature, exp_name=exp)
    opts = RunOptions(exp=exp, out=files.dir.parent, model_name=model, max_workers=max_workers,
                      skip_existing=skip_existing or redo_errors, redo_errors=redo_errors, eval_timeout=eval_timeout,
                      agent=agent_opts)
    envs = EnvFactory(backend, run_id=f"{exp}-{uuid.uuid4().hex[:8]}")
    if backend == "docker":
        envs.client  # Docker unreachable: one line now
    if skip_existing or redo_errors or not files.jsonl.exists():  # a refused run leaves the finished one as it was
        files.write_json(files.dir / "run_config.json", {
            "dataset": str(Path(dataset).resolve()), "instances": len(instances), "run_id": envs.run_id,
            "model": model, "base_url": config.base_url, "backend": backend, "max_workers": max_workers,
            "eval_timeout": eval_timeout, "agent": dataclasses.asdict(agent_opts)})
    summary = run_all(instances, LLMClient(config), envs, files, opts, say=lambda m: click.echo(scrub(m, secrets)))
    click.echo(markdown_table(summary), nl=False)
    click.echo(f"results: {files.dir}")


@agent.command("eval")
@click.argument("preds", type=click.Path(), required=False)
@click.option("--dataset", "dataset", required=True, type=click.Path(), help="The dataset the predictions answer.")
@_common
@_dataset_options
@click.option("--gold", is_flag=True, help="Check the dataset: its gold patch must score 1 on every instance.")
@click.option("--empty", is_flag=True, help="Check the dataset: the empty patch must score 0 on every instance.")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="With --gold/--empty: runs in a row that must all agree.")
@click.pass_context
def eval_cmd(ctx, preds, dataset, exp, out, max_workers, backend, eval_timeout, k, start_idx, pattern,
             dataset_kind, split, gold, empty, runs) -> None:
    """Grade PREDS (SWE-bench preds.jsonl), or check DATASET with --gold / --empty."""
    from harness.agents.envs import EnvFactory
    from harness.agents.evaluate import check_dataset, evaluate, read_preds
    from harness.agents.outputs import RunFiles

    check_experiment_name(exp)
    if not preds and not (gold or empty):
        raise R2EUsageError("give PREDS to grade, or --gold / --empty to check the dataset")
    if preds and (gold or empty):
        raise R2EUsageError("PREDS and --gold/--empty do not go together: one or the other")
    instances = _load(dataset, dataset_kind, split, start_idx, k, pattern)
    envs = EnvFactory(backend, run_id=f"{exp}-eval-{uuid.uuid4().hex[:8]}")
    files = RunFiles(_out(ctx, out), exp)
    if backend == "docker":
        envs.client
    if preds:
        grades = evaluate(instances, read_preds(Path(preds)), envs, files, workers=max_workers,
                          timeout=eval_timeout, say=click.echo)
        resolved = sum(g.resolved for g in grades)
        click.echo(f"resolved {resolved}/{len(grades)}; reports in {files.dir}")
        return
    checks = check_dataset(instances, envs, gold=gold, empty=empty, runs=runs, workers=max_workers,
                           timeout=eval_timeout, say=click.echo)
    bad = [c for c in checks if not c.ok]
    what = " and ".join(w for w, on in (("gold scores 1", gold), ("empty scores 0", empty)) if on)
    files.write_json(files.dir / "dataset_check.json", {
        "runs": runs, "gold": gold, "empty": empty, "total": len(checks), "ok": len(checks) - len(bad),
        "failing": {c.instance_id: list(c.reasons) for c in bad}})
    click.echo(f"{len(checks) - len(bad)}/{len(checks)} instances: {what} in {runs} run(s)")
    if bad:
        for c in bad:
            click.echo(f"  {c.instance_id}: {'; '.join(c.reasons)}")
        ctx.exit(1)


@agent.command("summary")
@click.argument("run_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="The whole summary as JSON instead of the table.")
@click.option("--charts", "charts_dir", type=click.Path(file_okay=False), default=None,
              help="Also draw PNG charts (resolve rate per repository, exit reasons) into this folder.")
def summary_cmd(run_dir, as_json, charts_dir) -> None:
    """The per-repository table of a run (total, resolved, rate, 95% CI, mean steps) as markdown."""
    import json

    from harness.agents.summary import draw_charts, load_run, markdown_table, summarize

    name, records = load_run(Path(run_dir))
    summary = summarize(records, name)
    click.echo(json.dumps(summary, indent=2) if as_json else markdown_table(summary), nl=as_json)
    if charts_dir:
        for path in draw_charts(summary, Path(charts_dir)):
            click.echo(f"wrote {path}", err=True)
