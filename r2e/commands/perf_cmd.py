"""`r2e perf mine | harness | quickcheck | measure | table | export`: performance tasks from real history."""

from __future__ import annotations

from contextlib import contextmanager

import click

from r2e.cli_types import FiniteFloat

from r2e.errors import R2EUsageError
from r2e.llm.options import llm_options
from r2e.workspace import Workspace


@click.group()
def perf():
    """Speed-up tasks: mine perf commits, build and quickcheck workloads, measure A^ vs B, tabulate."""


def _exp(ws: Workspace, name: str):
    from r2e.experiment import Experiment

    exp = Experiment(ws, name)
    if not exp.exists():
        raise R2EUsageError(f"experiment '{name}' does not exist (run `r2e setup -e {name}` first)")
    return exp


def _only(records, candidates):
    wanted = set(candidates)
    return [r for r in records if not wanted or getattr(r, "candidate", getattr(r, "id", None)) in wanted]


def _client(ws, model, base_url, max_tokens, llm_timeout, llm_max_failures):
    from r2e.commands.harness_cmds import llm_config, notify

    config = llm_config(ws, model, base_url, max_tokens, llm_timeout, llm_max_failures, False)
    if config is None:
        return None
    from r2e.llm.client import LLMClient

    return LLMClient(config, notify=notify)


@contextmanager
def _sessions(exp, backend: str):
    """repo id -> PerfSession, opened on first use; every worktree and container is removed at the end."""
    from harness.environments import open_harness_environment
    from harness.perf.execution import PerfSession

    repos = {r.id: r for r in exp.repos()}
    opened: dict[str, PerfSession] = {}

    def get(repo_id: str) -> PerfSession:
        if repo_id not in opened:
            env = open_harness_environment(exp, repos[repo_id], backend)
            opened[repo_id] = PerfSession(env, host_checkout=repos[repo_id].path)
        return opened[repo_id]

    try:
        yield get
    finally:
        for session in opened.values():
            try:
                session.close()
            finally:
                session.env.close()


def _merge(old: list, new: list, key: str) -> list:
    """Replace the records of the candidates just processed, keep the others."""
    done = {getattr(r, key) for r in new}
    return [r for r in old if getattr(r, key) not in done] + new


@perf.command()
@click.option("-e", "--exp", "exp_name", required=True, help="Experiment name.")
@click.option("--repo", "repos", multiple=True, help="Only this repo id (repeatable).")
@click.option("--all-commits", is_flag=True, help="Every commit that changes an extracted function, "
                                                  "not only those whose message names performance.")
@click.option("--max-commits", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Commits read per repo, newest first.")
@click.option("--patterns", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A file of message patterns (one regular expression a line) instead of the built-in list.")
@click.pass_obj
def mine(ws, exp_name, repos, all_commits, max_commits, patterns):
    """Find commits that may make code faster, and the extracted functions each one changes."""
    from pathlib import Path

    from harness.perf.mine import load_patterns, mine_repo

    exp = _exp(ws, exp_name)
    pats = load_patterns(Path(patterns).read_text(encoding="utf-8") if patterns else None)
    records = exp.functions()
    found, failed = [], []
    for repo in exp.repos(repos or None):
        try:
            found += mine_repo(repo.id, repo.path, records, patterns=pats, all_commits=all_commits,
                               max_commits=max_commits, echo=click.echo)
        except Exception as exc:  # noqa: BLE001 - one repo's failure never aborts the batch
            failed.append(repo.id)
            click.echo(f"mine {repo.id}: failed: {exc}", err=True)
    path = exp.write_perf_records("perf_candidates", found)
    click.echo(f"perf mine: {len(found)} candidate(s) -> {path}")
    if failed:
        raise click.exceptions.Exit(1)


@perf.command()
@click.option("-e", "--exp", "exp_name", required=True, help="Experiment name.")
@click.option("--candidate", "candidates", multiple=True, help="Only this candidate id (repeatable).")
@click.option("--source", "sources", multiple=True, type=click.Choice(["carve", "benchmarks", "llm"]),
              help="Where workloads come from, tried in order (default: carve, benchmarks, then llm).")
@llm_options
@click.pass_obj
def harness(ws, exp_name, candidates, sources, model, base_url, max_tokens, llm_timeout, llm_max_failures):
    """Write one workload per candidate: carved calls, the repo's benchmarks, or (with --model) the LLM."""
    from harness.perf.harnesses import generate_all

    exp = _exp(ws, exp_name)
    cands = _only(exp.perf_records("perf_candidates"), candidates)
    client = _client(ws, model, base_url, max_tokens, llm_timeout, llm_max_failures)
    made = generate_all(exp, cands, client=client, sources=tuple(sources) or ("carve", "benchmarks", "llm"),
                        echo=click.echo)
    old = exp.perf_records("perf_harnesses") if exp.perf_path("perf_harnesses").exists() else []
    exp.write_perf_records("perf_harnesses", _merge(old, made, "candidate"))
    ok = sum(1 for h in made if h.status == "generated")
    click.echo(f"perf harness: {ok}/{len(made)} candidate(s) have a workload")


@perf.command()
@click.option("-e", "--exp", "exp_name", required=True, help="Experiment name.")
@click.option("--candidate", "candidates", multiple=True, help="Only this candidate id (repeatable).")
@click.option("--backend", type=click.Choice(["docker", "local"]), default="local", show_default=True)
@click.option("--min-time", type=FiniteFloat(min=0.001), default=0.05, show_default=True,
              help="Seconds a workload must take at least (it is scaled up first).")
@click.option("--max-time", type=FiniteFloat(min=0.01), default=5.0, show_default=True)
@click.option("--max-repairs", type=click.IntRange(min=0), default=2, show_default=True,
              help="LLM repairs of a failing workload (LLM workloads only).")
@llm_options
@click.pass_obj
def quickcheck(ws, exp_name, candidates, backend, min_time, max_time, max_repairs, model, base_url, max_tokens,
               llm_timeout, llm_max_failures):
    """Run each workload once at A^ and at B: it must run, agree, and take min..max time; else repair or drop."""
    from harness.perf.quickcheck import QuickcheckOptions, quickcheck_all

    if min_time >= max_time:
        raise R2EUsageError(f"--min-time {min_time} must be below --max-time {max_time}")
    exp = _exp(ws, exp_name)
    cands = {c.id: c for c in exp.perf_records("perf_candidates")}
    allh = exp.perf_records("perf_harnesses")
    todo = _only(allh, candidates)
    client = _client(ws, model, base_url, max_tokens, llm_timeout, llm_max_failures)
    opts = QuickcheckOptions(min_time=min_time, max_time=max_time, max_repairs=max_repairs)
    with _sessions(exp, backend) as get:
        checked = quickcheck_all(exp, todo, cands, get, opts, client=client, echo=click.echo)
    exp.write_perf_records("perf_harnesses", _merge(allh, checked, "candidate"))
    click.echo(f"perf quickcheck: {sum(h.status == 'passed' for h in checked)}/{len(checked)} passed")


@perf.command()
@click.option("-e", "--exp", "exp_name", required=True, help="Experiment name.")
@click.option("--candidate", "candidates", multiple=True, help="Only this candidate id (repeatable).")
@click.option("--backend", type=click.Choice(["docker", "local"]), default="local", show_default=True)
@click.option("--repeats", type=click.IntRange(min=2), default=20, show_default=True,
              help="Interleaved A, B pairs timed (after one warm-up pair).")
@click.option("--count-repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Pairs run under the instruction counter.")
@click.option("--counter", type=click.Choice(["auto", "perf", "callgrind", "none"]), default="auto",
              show_default=True, help="Instruction counter (auto: perf where the kernel allows it, else callgrind).")
@click.option("--count-fraction", type=FiniteFloat(min=0.0, max=1.0, min_open=True), default=0.25,
              show_default=True, help="Counted runs use this fraction of the workload's SCALE (counts are "
                                      "deterministic; valgrind is ~50x slower than the timed runs).")
@click.option("--min-speedup", type=FiniteFloat(min=1.0), default=1.1, show_default=True)
@click.option("--alpha", type=FiniteFloat(min=0.0, max=1.0, min_open=True), default=0.05, show_default=True,
              help="Significance level of the Mann-Whitney U test.")
@click.option("--metric", type=click.Choice(["wall", "cpu"]), default="wall", show_default=True,
              help="Times the speed-up is computed on: wall clock, or the process's CPU time (steadier on a "
                   "loaded machine); both are recorded.")
@click.option("--no-pin", is_flag=True, help="Do not pin runs to one CPU.")
@click.pass_obj
def measure(ws, exp_name, candidates, backend, repeats, count_repeats, counter, count_fraction, min_speedup, alpha,
            metric, no_pin):
    """Time A^ and B interleaved, count instructions, and admit real, significant speed-ups."""
    from harness.perf.measure import MeasureOptions, measure_all

    exp = _exp(ws, exp_name)
    cands = {c.id: c for c in exp.perf_records("perf_candidates")}
    todo = _only(exp.perf_records("perf_harnesses"), candidates)
    opts = MeasureOptions(repeats=repeats, count_repeats=count_repeats, min_speedup=min_speedup, alpha=alpha,
                          counter=counter, pin=not no_pin, metric=metric,
                          count_fraction=count_fraction)
    old = exp.perf_records("perf_measurements") if exp.perf_path("perf_measurements").exists() else []

    def saved(done):
        exp.write_perf_records("perf_measurements", _merge(old, done, "candidate"))

    with _sessions(exp, backend) as get:
        made = measure_all(exp, todo, cands, get, opts, echo=click.echo, saved=saved)
    saved(made)
    click.echo(f"perf measure: {sum(m.admitted for m in made)}/{len(made)} admitted")


def _loaded(exp):
    measurements = exp.perf_records("perf_measurements")
    cands = {c.id: c for c in exp.perf_records("perf_candidates")}
    harnesses = {h.candidate: h for h in exp.perf_records("perf_harnesses")}
    return measurements, cands, harnesses


@perf.command()
@click.option("-e", "--exp", "exp_name", required=True, help="Experiment name.")
@click.option("--admitted-only", is_flag=True, help="Only admitted tasks.")
@click.pass_obj
def table(ws, exp_name, admitted_only):
    """Print the speed-up table; write it as markdown, HTML and JSON with a chart under perf/table/."""
    from harness.perf.table import markdown, rows, write_table

    exp = _exp(ws, exp_name)
    t = rows(*_loaded(exp), admitted_only=admitted_only)
    paths = write_table(t, exp.perf_table_dir)
    click.echo(markdown(t), nl=False)
    click.echo(f"perf table: {len(t)} row(s) -> {', '.join(str(p) for p in paths.values())}")


@perf.command(name="export")
@click.option("-e", "--exp", "exp_name", required=True, help="Experiment name.")
@click.pass_obj
def export_(ws, exp_name):
    """Write admitted tasks as GSO-style records (perf/tasks.jsonl)."""
    from harness.perf.export import tasks

    exp = _exp(ws, exp_name)
    made = tasks(exp, *_loaded(exp))
    path = exp.write_perf_records("perf_tasks", made)
    click.echo(f"perf export: {len(made)} task(s) -> {path}")
