"""`r2e perf mine`: commits that may make code faster, and the extracted functions their diffs change.

A commit is a candidate when its message matches a performance pattern (data/perf_patterns.txt)
and its diff changes the code of at least one extracted, non-test function; with `all_commits`,
every commit that changes such a function is one. Hunks are mapped to functions by path and line
span *at that commit* (and at its parent, for removed lines), parsed with `ast`, because the
extracted spans belong to the checkout's HEAD, not to the commit.
"""

from __future__ import annotations

import ast
import re
from importlib import resources
from typing import Callable

from harness.perf import gitio
from r2e.stage_records import FunctionRecord, PerfCandidate

_TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_test\.py$|(^|/)conftest\.py$")


def load_patterns(text: str | None = None) -> list[re.Pattern]:
    text = text if text is not None else (resources.files("harness.perf") / "data" / "perf_patterns.txt").read_text()
    return [re.compile(line.strip(), re.IGNORECASE) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def matched_patterns(message: str, patterns: list[re.Pattern]) -> list[str]:
    return [m.group(0) for m in (p.search(message) for p in patterns) if m]


def is_test_path(path: str) -> bool:
    return bool(_TEST_PATH.search(path))


def function_spans(source: str) -> list[tuple[str, int, int]]:
    """(qualname, first line incl. decorators, last line) of every function and method."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    spans = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([child.lineno, *[d.lineno for d in child.decorator_list]])
                spans.append((prefix + child.name, start, child.end_lineno or child.lineno))
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return spans


def touched(spans: list[tuple[str, int, int]], lines: set[int]) -> set[str]:
    return {name for name, start, end in spans if any(start <= n <= end for n in lines)}


def mine_repo(repo_id: str, checkout: str, records: list[FunctionRecord], *, patterns: list[re.Pattern],
              all_commits: bool = False, max_commits: int = 2000, rev: str = "HEAD",
              echo: Callable[[str], None] = lambda s: None) -> list[PerfCandidate]:
    by_key = {(r.path, r.qualname): r for r in records if r.repo == repo_id and not is_test_path(r.path)}
    found = []
    for commit in gitio.commits(checkout, rev, max_count=max_commits):
        matched = matched_patterns(f"{commit['subject']}\n{commit['body']}", patterns)
        if not matched and not all_commits:
            continue
        diff = gitio.changed_lines(checkout, commit["parent"], commit["sha"])
        changed = {p: lines for p, lines in diff.items() if not is_test_path(p)}
        tests = sorted(p for p in diff if is_test_path(p))
        names: set[tuple[str, str]] = set()
        for path, (old, new) in changed.items():
            for rev_, lines in ((commit["sha"], new), (commit["parent"], old)):
                source = gitio.show(checkout, rev_, path)
                if source is not None:
                    names |= {(path, q) for q in touched(function_spans(source), lines)}
        functions = sorted(by_key[k].id for k in names if k in by_key)
        if not functions:
            continue
        recs = [by_key[k] for k in sorted(names) if k in by_key]
        found.append(PerfCandidate(
            id=f"{repo_id}@{commit['sha'][:12]}", repo=repo_id, commit=commit["sha"], parent=commit["parent"],
            subject=commit["subject"], date=commit["date"], matched=tuple(matched), functions=tuple(functions),
            apis=tuple(sorted({f"{r.module}.{r.qualname}" for r in recs})), files=tuple(sorted(changed)),
            extra={"tests": tests} if tests else {}))
    echo(f"mine {repo_id}: {len(found)} candidate(s)")
    return found
