"""Extraction of one repository: walk -> index (cached) -> resolve -> filter -> slice -> records."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from r2e.analysis.cache import ParseCache
from r2e.analysis.filters import FILTERS, FilterOptions, first_rejection
from r2e.analysis.languages import extension_map, get_adapter
from r2e.analysis.records import CLASS, SourceFile
from r2e.analysis.slicing import build_slice
from r2e.analysis.tokens import METHOD as TOKEN_METHOD
from r2e.analysis.walk import walk


PARALLEL_MIN = 50  # files per worker below which parsing stays in-process


@dataclass(frozen=True)
class ExtractOptions:
    filters: FilterOptions = field(default_factory=FilterOptions)
    slice_depth: int | None = None
    max_context_tokens: int | None = 6000
    cache_dir: str | None = None
    index_workers: int = 1  # processes parsing the files of one repository


@dataclass
class RepoIndex:
    """All indexed files of one repository, grouped by language, with one resolver per language."""

    root: str
    files: dict[str, dict[str, SourceFile]]  # lang -> path -> file
    skipped: Counter
    examples: dict[str, str]
    cache_hits: int = 0
    _resolvers: dict = field(default_factory=dict)

    def resolver(self, lang: str):
        if lang not in self._resolvers:
            self._resolvers[lang] = get_adapter(lang).resolver(self.files[lang])
        return self._resolvers[lang]


def _index_one(job: tuple[str, str, bytes]):
    lang, rel, data = job
    return get_adapter(lang).index_file(rel, data)


def index_repo(root: str | Path, cache_dir: str | None = None, workers: int = 1) -> RepoIndex:
    """Index every source file (parse cache first; misses parsed by `workers` processes)."""
    root = str(root)
    found = walk(root, extension_map())
    cache = ParseCache(Path(cache_dir) if cache_dir else None)
    files: dict[str, dict[str, SourceFile]] = {}
    skipped = Counter(found.skipped)
    examples = dict(found.examples)
    loaded: dict[str, tuple] = {}
    misses: list[tuple[str, str, bytes, str]] = []
    for rel, lang in found.files:
        adapter = get_adapter(lang)
        try:
            data = (Path(root) / rel).read_bytes()
        except OSError:
            skipped["unreadable"] += 1
            continue
        key = cache.key(adapter.cache_key, rel, data)
        index = cache.get(key)
        if index is not None:
            loaded[rel] = (lang, index, data.decode(index.encoding, "replace"))
        else:
            misses.append((lang, rel, data, key))
    jobs = [(lang, rel, data) for lang, rel, data, _ in misses]
    if workers > 1 and len(jobs) >= 2 * PARALLEL_MIN:
        import concurrent.futures as cf

        with cf.ProcessPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(_index_one, jobs, chunksize=max(1, len(jobs) // (workers * 8))))
    else:
        results = [_index_one(j) for j in jobs]
    for (lang, rel, _, key), (index, text) in zip(misses, results):
        cache.put(key, index)
        loaded[rel] = (lang, index, text)
    for rel, lang in found.files:
        if rel not in loaded:
            continue
        lang, index, text = loaded[rel]
        if index.encoding != "utf-8":
            skipped["non_utf8_decoded"] += 1
            examples.setdefault("non_utf8_decoded", rel)
        if index.syntax_error:
            skipped["syntax_error_files"] += 1
            examples.setdefault("syntax_error_files", rel)
        skipped["unparsed_statements"] += index.skipped_units
        files.setdefault(lang, {})[rel] = SourceFile(index, text)
    if not skipped["unparsed_statements"]:
        del skipped["unparsed_statements"]
    return RepoIndex(root, files, skipped, examples, cache.hits)


@dataclass
class RepoExtraction:
    repo: str
    records: list[dict]
    summary: dict


def extract_repo(repo_id: str, root: str | Path, opts: ExtractOptions) -> RepoExtraction:
    t0 = time.monotonic()
    repo = index_repo(root, opts.cache_dir, opts.index_workers)
    t_index = time.monotonic() - t0
    records: list[dict] = []
    drops: Counter = Counter()
    total = 0
    for lang, files in sorted(repo.files.items()):
        adapter = get_adapter(lang)
        resolver = repo.resolver(lang)
        for path in sorted(files):
            sf = files[path]
            for unit in sf.index.units:
                if not adapter.is_extractable(unit):
                    continue
                total += 1
                reason = first_rejection(adapter.facts(unit, sf), opts.filters)
                if reason:
                    drops[reason] += 1
                    continue
                sl = build_slice(unit.uid, resolver, files, adapter, opts.slice_depth, opts.max_context_tokens)
                records.append(make_record(repo_id, unit, sf, resolver, sl, lang))
    elapsed = time.monotonic() - t0
    summary = {
        "repo": repo_id,
        "files": {lang: len(fs) for lang, fs in repo.files.items()},
        "functions": total,
        "extracted": len(records),
        "dropped": {name: drops.get(name, 0) for name in FILTERS},
        "skipped": dict(sorted(repo.skipped.items())),
        "skipped_examples": repo.examples,
        "cache_hits": repo.cache_hits,
        "token_method": TOKEN_METHOD,
        "seconds": {"index": round(t_index, 3), "total": round(elapsed, 3)},
    }
    return RepoExtraction(repo_id, records, summary)


def make_record(repo_id: str, unit, sf: SourceFile, resolver, sl, lang: str) -> dict:
    lines = sf.text.split("\n")
    parent = resolver.unit(unit.parent) if unit.parent else None
    info = unit.info
    return {
        "id": f"{repo_id}/{unit.uid}",
        "repo": repo_id,
        "path": unit.path,
        "lang": lang,
        "kind": unit.kind,
        "name": unit.name,
        "class_name": parent.name if parent is not None and parent.kind == CLASS else None,
        "start_line": unit.start_line,
        "end_line": unit.end_line,
        "is_async": bool(info.get("is_async")),
        "decorators": list(info.get("decorators", ())),
        "code": "\n".join(lines[unit.start_line - 1:unit.end_line]),
        "docstring": info.get("docstring", ""),
        "signature": info.get("signature", ""),
        "callees": [f"{repo_id}/{c}" for c in resolver.callees(unit)],
        "context": sl.text,
        "context_tokens": sl.tokens,
        "file_tokens": sl.file_tokens,
        "context_files": list(sl.files),
        "context_trimmed": sl.trimmed,
    }
