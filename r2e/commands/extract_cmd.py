"""`r2e extract`, `r2e list-functions`, `r2e show`, `r2e graph`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from r2e.errors import R2EError
from r2e.fsio import atomic_write_json, atomic_write_jsonl, atomic_write_text, read_json, read_jsonl
from r2e.workspace import Workspace, check_experiment_name

CACHE_NAME = "parse"
# filters that only some languages report the facts for (see r2e/analysis/filters.py)
FILTER_SCOPE = {"main": " (C)", "test_file": " (C)", "generated": " (C)"}


def extract_dir(ws: Workspace, exp: str) -> Path:
    return ws.experiment_dir(exp) / "extract"


def extracted_path(ws: Workspace, exp: str) -> Path:
    return ws.experiment_dir(exp) / "extracted.jsonl"


def _filters_option(f):
    from r2e.analysis.filters import FILTERS

    for name in reversed(FILTERS):
        flag = name.replace("_", "-")
        f = click.option(f"--disable-{flag}", f"disable_{name}", is_flag=True, help=f"Turn off the {flag} filter{FILTER_SCOPE.get(name, '')}.")(f)
    return f


def _extract_one(job):
    """Runs in a worker process: extract one repository and save its records and summary."""
    from r2e.analysis.driver import extract_repo

    repo_id, root, opts, out_dir = job
    result = extract_repo(repo_id, root, opts)
    atomic_write_jsonl(Path(out_dir) / f"{repo_id}.jsonl", result.records)
    atomic_write_json(Path(out_dir) / f"{repo_id}.summary.json", result.summary)
    return result.summary


def run_extract(ws: Workspace, exp: str, only: tuple[str, ...] = (), jobs: int = 1, overwrite: bool = False,
                opts=None) -> bool:
    """Extract every repo of `exp`; print per-repo lines and totals; return True if none failed."""
    from r2e.analysis.driver import ExtractOptions
    from r2e.analysis.filters import FILTERS
    from r2e.pool import run_pool
    from r2e.progress import progress

    opts = opts or ExtractOptions(cache_dir=str(ws.cache_dir(CACHE_NAME)))
    repos = ws.repos_of(exp, list(only) or None)
    out_dir = extract_dir(ws, exp)
    todo, done, missing = [], [], []
    for r in repos:
        if not Path(r.path).is_dir():
            missing.append(r.id)
            click.echo(f"{'failed':<8}{r.id}  checkout missing at {r.path} (run `r2e setup -e {exp}` again)")
        elif not overwrite and (out_dir / f"{r.id}.summary.json").exists():
            done.append(r.id)
        else:
            todo.append((r.id, r.path, opts, str(out_dir)))
    for rid in done:
        click.echo(f"{'skipped':<8}{rid}  already extracted (use --overwrite to redo)")
    with progress(len(todo), "extract") as bar:
        def on_done(job, summary, error):
            if error is None:
                sk = sum(summary["skipped"].values())
                bar.advance("ok", f"{'ok':<8}{job[0]}  {summary['extracted']}/{summary['functions']} functions kept, "
                                  f"{sk} files/statements skipped, {summary['seconds']['total']:.1f}s")
            else:
                bar.advance("failed", f"{'failed':<8}{job[0]}  {type(error).__name__}: {error}")

        if len(todo) == 1 and jobs > 1:  # one repository: its files are parsed in parallel instead
            todo = [(rid, path, replace(o, index_workers=jobs), out) for rid, path, o, out in todo]
            jobs = 1
        _, failed = run_pool(_extract_one, todo, jobs, processes=jobs > 1, on_done=on_done)
    # The experiment-wide file: every repo of the experiment that has been extracted.
    records, totals, drops, skipped = [], {"functions": 0, "extracted": 0}, {n: 0 for n in FILTERS}, {}
    for r in ws.repos_of(exp):
        summary = read_json(out_dir / f"{r.id}.summary.json")
        if summary is None:
            continue
        records += read_jsonl(out_dir / f"{r.id}.jsonl")
        totals["functions"] += summary["functions"]
        totals["extracted"] += summary["extracted"]
        for k, v in summary["dropped"].items():
            drops[k] = drops.get(k, 0) + v
        for k, v in summary["skipped"].items():
            skipped[k] = skipped.get(k, 0) + v
    atomic_write_jsonl(extracted_path(ws, exp), records)
    failed_ids = missing + [f.item[0] for f in failed]
    atomic_write_json(ws.experiment_dir(exp) / "extract_summary.json",
                      {"totals": totals, "dropped": drops, "skipped": skipped, "failed": failed_ids})
    click.echo("dropped by filter: " + ", ".join(f"{k} {v}" for k, v in drops.items()))
    if skipped:
        click.echo("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    click.echo(f"extract {exp}: {totals['extracted']} of {totals['functions']} functions kept from "
               f"{len(repos) - len(failed_ids)} repos, {len(failed_ids)} failed -> {extracted_path(ws, exp)}")
    return not failed_ids


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--repo", "only", multiple=True, metavar="ID", help="Only this repo (repeatable).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes (one repo each; a single repo's files are parsed in parallel).")
@click.option("--overwrite", is_flag=True, help="Re-extract repos that already have results.")
@click.option("--max-lines", type=click.IntRange(min=1), default=None, help="Size filter limit [default: 25 for functions, 20 for methods].")
@click.option("--slice-depth", type=click.IntRange(min=1), default=None, help="Levels of definitions in a slice, the target being 1 [default: unlimited].")
@click.option("--max-context-tokens", type=click.IntRange(min=1), default=6000, show_default=True, help="Token budget of a slice (farthest dependencies trimmed first).")
@click.option("--disable-all-filters", is_flag=True, help="Keep every function.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the parse cache.")
@_filters_option
@click.pass_obj
def extract(ws: Workspace, exp, only, jobs, overwrite, max_lines, slice_depth, max_context_tokens,
            disable_all_filters, no_cache, **disabled):
    """Extract functions, call graphs and dependency slices into experiments/EXP/extracted.jsonl.

    Token counts are offline: a deterministic approximation of cl100k_base (its pre-tokenizer
    pattern, long words split every 4 letters)."""
    from r2e.analysis.driver import ExtractOptions
    from r2e.analysis.filters import FILTERS, FilterOptions

    check_experiment_name(exp)
    off = frozenset(FILTERS) if disable_all_filters else frozenset(
        k[len("disable_"):] for k, v in disabled.items() if v)
    opts = ExtractOptions(
        filters=FilterOptions(disabled=off, max_lines=max_lines), slice_depth=slice_depth,
        max_context_tokens=max_context_tokens, cache_dir=None if no_cache else str(ws.cache_dir(CACHE_NAME)),
    )
    if not run_extract(ws, exp, only, jobs, overwrite, opts):
        raise click.exceptions.Exit(1)


def load_records(ws: Workspace, exp: str) -> list[dict]:
    check_experiment_name(exp)
    path = extracted_path(ws, exp)
    if not path.exists():
        if not ws.experiment_exists(exp):
            raise R2EError(f"experiment '{exp}' not found under {ws.experiments_dir}")
        raise R2EError(f"experiment '{exp}' has no extraction yet (run `r2e extract -e {exp}`)")
    return read_jsonl(path)


@click.command("list-functions")
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--repo", "only", multiple=True, metavar="ID", help="Only this repo (repeatable).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Show at most N functions.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (without code and context).")
@click.pass_obj
def list_functions(ws: Workspace, exp, only, limit, as_json):
    """List the extracted functions of an experiment."""
    records = load_records(ws, exp)
    if only:
        records = [r for r in records if r["repo"] in set(only)]
    if limit is not None:
        records = records[:limit]
    for r in records:
        if as_json:
            click.echo(json.dumps({k: v for k, v in r.items() if k not in ("code", "context")}))
        else:
            click.echo(f"{r['id']}  {r['kind']}  L{r['start_line']}-{r['end_line']}  context {r['context_tokens']} tok")


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.argument("function_id")
@click.option("--code", "part", flag_value="code", help="Only the function's code.")
@click.option("--context", "part", flag_value="context", help="Only the dependency slice.")
@click.option("--callees", "part", flag_value="callees", help="Only the ids of its callees.")
@click.pass_obj
def show(ws: Workspace, exp, function_id, part):
    """Show one extracted function by id."""
    records = load_records(ws, exp)
    rec = next((r for r in records if r["id"] == function_id), None)
    if rec is None:
        raise R2EError(f"no extracted function '{function_id}' in experiment '{exp}' (see `r2e list-functions -e {exp}`)")
    if part == "code":
        click.echo(rec["code"])
    elif part == "context":
        click.echo(rec["context"], nl=False)
    elif part == "callees":
        for c in rec["callees"]:
            click.echo(c)
    else:
        click.echo(f"{rec['id']}  ({rec['kind']}, {rec['path']} lines {rec['start_line']}-{rec['end_line']})")
        click.echo(f"signature: {rec['signature']}")
        click.echo(f"callees: {', '.join(rec['callees']) or '-'}")
        click.echo(f"context: {rec['context_tokens']} tokens (whole files: {rec['file_tokens']})")
        click.echo(rec["code"])


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--repo", "repo_id", required=True, metavar="ID", help="The repository.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="File to write (.graphml or .json).")
@click.option("--format", "fmt", type=click.Choice(["graphml", "json"]), default=None, help="[default: from the file suffix, else graphml]")
@click.pass_obj
def graph(ws: Workspace, exp, repo_id, output, fmt):
    """Export a repository's graph: Python modules/classes/functions (contains, imports, calls
    edges) and C modules/functions/macros (contains, includes, calls, expands edges)."""
    from r2e.analysis.driver import index_repo
    from r2e.analysis.graph import build_graph, graph_text

    check_experiment_name(exp)
    repo = ws.repos_of(exp, [repo_id])[0]
    if not Path(repo.path).is_dir():
        raise R2EError(f"checkout of repo '{repo_id}' is missing at {repo.path}")
    fmt = fmt or ("json" if output.endswith(".json") else "graphml")
    g = build_graph(repo_id, index_repo(repo.path, str(ws.cache_dir(CACHE_NAME))))
    atomic_write_text(output, graph_text(g, fmt))
    kinds = {}
    for _, d in g.nodes(data=True):
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    click.echo(f"graph {repo_id}: {g.number_of_nodes()} nodes ({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}), "
               f"{g.number_of_edges()} edges -> {output}")


__all__ = ["extract", "list_functions", "show", "graph", "run_extract"]
