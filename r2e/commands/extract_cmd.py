"""`r2e extract`, `r2e list-functions`, `r2e show`, `r2e graph`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from r2e.errors import R2EError
from r2e.experiment import Experiment, function_line
from r2e.fsio import atomic_write_text
from r2e.stage_records import FunctionRecord
from r2e.workspace import Workspace

# filters that only some languages report the facts for (see r2e/analysis/filters.py)
FILTER_SCOPE = {"main": " (C)", "test_file": " (C)", "generated": " (C)"}


def _filters_option(f):
    from r2e.analysis.filters import FILTERS

    for name in reversed(FILTERS):
        flag = name.replace("_", "-")
        f = click.option(f"--disable-{flag}", f"disable_{name}", is_flag=True, help=f"Turn off the {flag} filter{FILTER_SCOPE.get(name, '')}.")(f)
    return f


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
    from r2e.analysis.extract_stage import CACHE_NAME, run_extract
    from r2e.analysis.filters import FILTERS, FilterOptions

    experiment = Experiment(ws, exp)
    off = frozenset(FILTERS) if disable_all_filters else frozenset(
        k[len("disable_"):] for k, v in disabled.items() if v)
    opts = ExtractOptions(
        filters=FilterOptions(disabled=off, max_lines=max_lines), slice_depth=slice_depth,
        max_context_tokens=max_context_tokens, cache_dir=None if no_cache else str(ws.cache_dir(CACHE_NAME)),
    )
    if not run_extract(experiment, only, jobs, overwrite, opts):
        raise click.exceptions.Exit(1)


def load_functions(ws: Workspace, exp: str) -> list[FunctionRecord]:
    experiment = Experiment(ws, exp)
    if not experiment.has_functions() and not experiment.exists():
        raise R2EError(f"experiment '{exp}' not found: no {experiment.manifest_path} (run `r2e setup -e {exp}` first)")
    return experiment.functions()


def check_repos(ws: Workspace, exp: str, only, records: list[FunctionRecord]) -> None:
    """Every `--repo` must name a repository of the experiment (or one that has extracted functions)."""
    experiment = Experiment(ws, exp)
    known = {r.repo for r in records}
    if experiment.exists():
        known |= {r.id for r in experiment.repos()}
    missing = [r for r in only if r not in known]
    if missing:
        raise R2EError(f"repo '{one_line(missing[0])}' is not in experiment '{exp}' (see `r2e repos -e {exp}`)")


def one_line(text: str) -> str:
    """`text` on one line: backslashes and control characters escaped, so every record stays one line."""
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in "\u2028\u2029":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@click.command("list-functions")
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.option("--repo", "only", multiple=True, metavar="ID", help="Only this repo (repeatable).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Show at most N functions.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (without code and context).")
@click.pass_obj
def list_functions(ws: Workspace, exp, only, limit, as_json):
    """List the extracted functions of an experiment."""
    records = load_functions(ws, exp)
    if only:
        check_repos(ws, exp, only, records)
        records = [r for r in records if r.repo in set(only)]
        if not records:
            click.echo(f"no extracted functions for {', '.join(only)} (run `r2e extract -e {exp} --repo ID`)", err=True)
    if limit is not None:
        records = records[:limit]
    for r in records:
        if as_json:
            click.echo(json.dumps({k: v for k, v in function_line(r).items() if k not in ("code", "context")}))
        else:
            click.echo(f"{one_line(r.id)}  {r.kind}  L{r.start_line}-{r.end_line}  context {r.context_tokens} tok")


@click.command()
@click.option("-e", "--exp", "exp", required=True, help="Experiment name.")
@click.argument("function_id")
@click.option("--code", "part", flag_value="code", help="Only the function's code.")
@click.option("--context", "part", flag_value="context", help="Only the dependency slice.")
@click.option("--callees", "part", flag_value="callees", help="Only the ids of its callees.")
@click.pass_obj
def show(ws: Workspace, exp, function_id, part):
    """Show one extracted function by id."""
    records = load_functions(ws, exp)
    rec = next((r for r in records if r.id == function_id), None)
    if rec is None:  # the id as list-functions printed it, escaped
        rec = next((r for r in records if one_line(r.id) == function_id), None)
    if rec is None:
        raise R2EError(f"no extracted function '{one_line(function_id)}' in experiment '{exp}' "
                       f"(see `r2e list-functions -e {exp}`)")
    if part == "code":
        click.echo(rec.code)
    elif part == "context":
        click.echo(rec.context, nl=False)
    elif part == "callees":
        for c in rec.callees:
            click.echo(one_line(c))
    else:
        click.echo(f"{one_line(rec.id)}  ({rec.kind}, {one_line(rec.path)} lines {rec.start_line}-{rec.end_line})")
        click.echo(f"signature: {rec.signature}")
        click.echo(f"callees: {', '.join(map(one_line, rec.callees)) or '-'}")
        click.echo(f"context: {rec.context_tokens} tokens (whole files: {rec.file_tokens})")
        click.echo(rec.code)


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
    from r2e.analysis.extract_stage import CACHE_NAME
    from r2e.analysis.graph import build_graph, graph_text

    repo = Experiment(ws, exp).repos([repo_id])[0]
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


__all__ = ["extract", "list_functions", "show", "graph"]
