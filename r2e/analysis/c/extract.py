"""The C part of one repository on its own: `extract_c_repo` and `index_c_repo`.

C goes through the language seam (adapter.py) like every language, so `r2e extract` handles it
through `r2e.analysis.driver.extract_repo`; these are that path restricted to C, kept for the C
tests and benchmarks/c_slices.py. `extract_c_repo(root, repo_id, options)` returns the
`FunctionRecord`s (`lang: "c"`, `is_static` in `extra`) and a stats dict (files, functions, per-filter drops, what was skipped and
why, include directories, seconds). The filters that apply to C, checked in order, each
switchable off by name through `FilterOptions.disabled` (see filters.py for the registry):
  main        the program entry point
  test_file   functions in test files/folders (test_*.c, *_test.c, tests/, test/, fuzz/)
  generated   files marked as generated in their first lines
  docstring   no leading comment
  signature   no parameters and returns void
  keywords    a filter keyword in the name or leading comment (the shared data list)
  wrapper     empty body, or a body that only delegates to one call
  size        more than `max_lines` lines (default 25)
(`dunder` applies too, but C reserves `__x__` names for the implementation.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from r2e.analysis.c.repo import CRepo
from r2e.analysis.filters import FILTERS, FilterOptions
from r2e.analysis.walk import MAX_BYTES
from r2e.stage_records import FunctionRecord

C_FILTERS = FILTERS  # one registry for every language; disabling all of them keeps every function
PREFIX = "c_"  # the driver's summary names C counters c_<name>; here they are C's alone


@dataclass(frozen=True)
class CExtractOptions:
    filters: FilterOptions = field(default_factory=FilterOptions)
    slice_depth: int | None = None
    max_context_tokens: int | None = 6000
    max_file_bytes: int = MAX_BYTES  # larger files (amalgamations, generated tables) are skipped, counted
    cache_dir: str | None = None


def _unprefixed(counts: dict) -> dict:
    return {k[len(PREFIX):] if k.startswith(PREFIX) else k: v for k, v in counts.items()}


def index_c_repo(root: str | Path, max_bytes: int = MAX_BYTES) -> tuple[CRepo, Counter, dict]:
    """(the CRepo of the C files under `root`, what was skipped and why, include directories)."""
    from r2e.analysis.driver import index_repo

    repo = index_repo(root, max_bytes=max_bytes, languages=("c",))
    if "c" not in repo.files:
        return CRepo({}, []), +Counter(repo.skipped), {"include_dirs": [], "include_dirs_from": "guessed",
                                                       "examples": dict(repo.examples)}
    resolver = repo.resolver("c")
    skipped = Counter(_unprefixed({**repo.skipped, **{PREFIX + k: v for k, v in resolver.counts().items()}}))
    info = {"include_dirs": resolver.include_dirs, "include_dirs_from": resolver.include_dirs_from,
            "examples": dict(repo.examples)}
    return resolver.repo, +skipped, info


def extract_c_repo(root: str | Path, repo_id: str, options: CExtractOptions | None = None) -> tuple[list[FunctionRecord], dict]:
    from r2e.analysis.driver import ExtractOptions, extract_repo

    opts = options or CExtractOptions()
    res = extract_repo(repo_id, root, ExtractOptions(
        filters=opts.filters, slice_depth=opts.slice_depth, max_context_tokens=opts.max_context_tokens,
        cache_dir=opts.cache_dir, max_file_bytes=opts.max_file_bytes, languages=("c",)))
    summary = res.summary
    resolver = res.index.resolver("c") if "c" in res.index.files else None
    stats = {
        "repo": repo_id,
        "files": {"c": summary["files"].get("c", 0)},
        "functions": summary["functions"],
        "extracted": summary["extracted"],
        "dropped": dict(summary["dropped"]),
        "skipped": _unprefixed(summary["skipped"]),
        "include_dirs": resolver.include_dirs if resolver else [],
        "include_dirs_from": resolver.include_dirs_from if resolver else "guessed",
        "cache_hits": summary["cache_hits"],
        "token_method": summary["token_method"],
        "seconds": summary["seconds"],
    }
    return res.records, stats
