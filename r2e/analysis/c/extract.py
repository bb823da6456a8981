"""Extraction of the C part of one repository: walk -> index -> resolve -> filter -> slice -> records.

`extract_c_repo(root, repo_id, options)` returns the issue-4 records (`lang: "c"`) and a stats
dict (files, functions, per-filter drops, what was skipped and why, seconds). Filters, checked in
order, each switchable off by name through `FilterOptions.disabled`:
  main        the program entry point
  test_file   functions in test files/folders (test_*.c, *_test.c, tests/, test/)
  generated   files marked as generated in their first lines
  docstring   no leading comment
  signature   no parameters and returns void
  keywords    a filter keyword in the name or leading comment (the shared data list)
  wrapper     empty body, or a body that only delegates to one call
  size        more than `max_lines` lines (default 25)
"""

from __future__ import annotations

import posixpath
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from r2e.analysis.c.includes import IncludeResolver, include_dirs
from r2e.analysis.c.index import CFileIndex, CIndexer, CUnit
from r2e.analysis.c.masking import Masker, MacroTable
from r2e.analysis.c.repo import CRepo
from r2e.analysis.c.slicer import Slicer
from r2e.analysis.c.templates import instantiate
from r2e.analysis.filters import FilterOptions, words
from r2e.analysis.tokens import METHOD as TOKEN_METHOD
from r2e.analysis.walk import MAX_BYTES, walk

C_EXTENSIONS = {".c": "c", ".h": "c"}
C_FILTERS = ("main", "test_file", "generated", "docstring", "signature", "keywords", "wrapper", "size")
DEFAULT_MAX_LINES = 25
TEST_PATH = re.compile(r"(^|/)(tests?|testing|unittests?)/|(^|/)tests?\.c$|(^|/)test_[^/]*\.c$|_tests?\.c$|(^|/)fuzz/")


@dataclass(frozen=True)
class CExtractOptions:
    filters: FilterOptions = field(default_factory=FilterOptions)
    slice_depth: int | None = None
    max_context_tokens: int | None = 6000
    max_file_bytes: int = MAX_BYTES  # larger files (amalgamations, generated tables) are skipped, counted


def c_rejection(u: CUnit, fi: CFileIndex, opts: FilterOptions) -> str | None:
    lines = u.end_line - u.start_line + 1
    for name in C_FILTERS:
        if name in opts.disabled:
            continue
        if name == "main" and u.name == "main":
            return name
        if name == "test_file" and TEST_PATH.search(u.path):
            return name
        if name == "generated" and fi.generated:
            return name
        if name == "docstring" and not u.info.get("docstring", "").strip():
            return name
        if name == "signature" and u.info.get("n_params", 0) == 0 and u.info.get("returns_void"):
            return name
        if name == "keywords" and (words(u.name) | words(u.info.get("docstring", ""))) & opts.keywords:
            return name
        if name == "wrapper" and u.info.get("wrapper"):
            return name
        if name == "size" and lines > (opts.max_lines or DEFAULT_MAX_LINES):
            return name
    return None


def index_c_repo(root: str | Path, indexer: CIndexer | None = None, max_bytes: int = MAX_BYTES) -> tuple[CRepo, Counter, dict]:
    root = str(root)
    found = walk(root, C_EXTENSIONS, max_bytes)
    indexer = indexer or CIndexer()
    skipped = Counter(found.skipped)
    files: dict[str, CFileIndex] = {}
    blobs: dict[str, bytes] = {}
    table = MacroTable()
    for rel, _ in found.files:
        try:
            blobs[rel] = (Path(root) / rel).read_bytes()
        except OSError:
            skipped["unreadable"] += 1
            continue
        table.scan(blobs[rel])
    masker = Masker(table)
    for rel, data in blobs.items():
        fi = indexer.index(rel, data, masker)
        for k, v in fi.stats.items():
            skipped[k] += v
        files[rel] = fi
    dirs, source = include_dirs(root, sorted(files))
    skipped.update(instantiate(files, blobs, IncludeResolver(sorted(files), dirs), indexer, masker))
    repo = CRepo(files, dirs)
    skipped["unresolved_local_includes"] += repo.unresolved_includes
    info = {"include_dirs": dirs, "include_dirs_from": source, "examples": dict(found.examples)}
    return repo, +skipped, info


def extract_c_repo(root: str | Path, repo_id: str, options: CExtractOptions | None = None) -> tuple[list[dict], dict]:
    opts = options or CExtractOptions()
    t0 = time.monotonic()
    repo, skipped, info = index_c_repo(root, max_bytes=opts.max_file_bytes)
    t_index = time.monotonic() - t0
    slicer = Slicer(repo, opts.max_context_tokens, opts.slice_depth)
    records: list[dict] = []
    drops: Counter = Counter()
    total = 0
    for path in sorted(repo.files):
        fi = repo.files[path]
        for u in fi.units:
            if u.kind != "function" or u.info.get("variant"):
                continue
            total += 1
            reason = c_rejection(u, fi, opts.filters)
            if reason:
                drops[reason] += 1
                continue
            records.append(make_record(repo_id, u, repo, slicer))
    stats = {
        "repo": repo_id,
        "files": {"c": len(repo.files)},
        "functions": total,
        "extracted": len(records),
        "dropped": {name: drops.get(name, 0) for name in C_FILTERS},
        "skipped": dict(sorted(skipped.items())),
        "include_dirs": info["include_dirs"],
        "include_dirs_from": info["include_dirs_from"],
        "token_method": TOKEN_METHOD,
        "seconds": {"index": round(t_index, 3), "total": round(time.monotonic() - t0, 3)},
    }
    return records, stats


def make_record(repo_id: str, u: CUnit, repo: CRepo, slicer: Slicer) -> dict:
    sl = slicer.slice(u)
    return {
        "id": f"{repo_id}/{u.uid}",
        "repo": repo_id,
        "path": u.path,
        "lang": "c",
        "kind": "function",
        "name": u.name,
        "class_name": None,
        "start_line": u.start_line,
        "end_line": u.end_line,
        "is_static": u.static,
        "code": u.text,
        "docstring": u.info.get("docstring", ""),
        "signature": u.info.get("signature", ""),
        "callees": [f"{repo_id}/{c.uid}" for c in repo.callees(u)],
        "context": sl.text,
        "context_tokens": sl.tokens,
        "file_tokens": sl.file_tokens,
        "context_files": list(sl.files),
        "context_trimmed": sl.trimmed,
    }




