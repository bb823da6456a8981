"""Extraction of one repository: walk -> index (cached) -> resolve -> filter -> slice -> records."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from r2e.analysis.cache import ParseCache
from r2e.analysis.filters import FILTERS, FilterOptions, first_rejection
from r2e.analysis.languages import extension_map, get_adapter
from r2e.analysis.records import CLASS, SourceFile
from r2e.analysis.slicing import build_slice
from r2e.analysis.tokens import METHOD as TOKEN_METHOD
from r2e.analysis.walk import MAX_BYTES, walk
from r2e.stage_records import FunctionRecord


PARALLEL_MIN = 50  # files per worker below which parsing stays in-process


@dataclass(frozen=True)
class ExtractOptions:
    filters: FilterOptions = field(default_factory=FilterOptions)
    slice_depth: int | None = None
    max_context_tokens: int | None = 6000
    cache_dir: str | None = None
    index_workers: int = 1  # processes parsing the files of one repository
    max_file_bytes: int = MAX_BYTES  # larger files (amalgamations, generated tables) are skipped, counted
    languages: tuple[str, ...] | None = None  # only these languages (None: every registered one)


@dataclass
class RepoIndex:
    """All indexed files of one repository, grouped by language, with one resolver per language."""

    root: str
    files: dict[str, dict[str, SourceFile]]  # lang -> path -> file
    skipped: Counter
    examples: dict[str, str]
    cache_hits: int = 0
    prepared: dict = field(default_factory=dict)  # lang -> the adapter's repository-wide preparation
    _resolvers: dict = field(default_factory=dict)

    def resolver(self, lang: str):
        if lang not in self._resolvers:
            adapter, files = get_adapter(lang), self.files[lang]
            prep = self.prepared.get(lang)
            self._resolvers[lang] = adapter.resolver(files) if prep is None else adapter.resolver(files, prep)
        return self._resolvers[lang]


_WORKER_PREPARED: dict = {}  # set once in each indexing worker process (see index_repo)


def _init_worker(prepared: dict) -> None:
    global _WORKER_PREPARED
    _WORKER_PREPARED = prepared


def _index_in_worker(job: tuple[str, str, bytes]):
    lang, rel, data = job
    return _index_one(lang, rel, data, _WORKER_PREPARED.get(lang))


def _index_one(lang: str, rel: str, data: bytes, prep):
    adapter = get_adapter(lang)
    return adapter.index_file(rel, data) if prep is None else adapter.index_file(rel, data, prep)


def index_repo(root: str | Path, cache_dir: str | None = None, workers: int = 1, max_bytes: int = MAX_BYTES,
               languages: tuple[str, ...] | None = None) -> RepoIndex:
    """Index every source file (parse cache first; misses parsed by `workers` processes)."""
    root = str(root)
    extensions = {ext: lang for ext, lang in extension_map().items() if languages is None or lang in languages}
    found = walk(root, extensions, max_bytes)
    cache = ParseCache(Path(cache_dir) if cache_dir else None)
    files: dict[str, dict[str, SourceFile]] = {}
    skipped = Counter(found.skipped)
    examples = dict(found.examples)
    blobs: dict[str, dict[str, bytes]] = {}  # lang -> path -> bytes
    for rel, lang in found.files:
        try:
            blobs.setdefault(lang, {})[rel] = (Path(root) / rel).read_bytes()
        except OSError:
            skipped["unreadable"] += 1
    # a language whose files parse in the light of the whole repository (C macros) prepares first
    prepared = {}
    for lang, by_path in sorted(blobs.items()):
        if hasattr(get_adapter(lang), "prepare"):
            prepared[lang] = get_adapter(lang).prepare(root, by_path)
    loaded: dict[str, tuple] = {}
    misses: list[tuple[str, str, bytes, str]] = []
    for rel, lang in found.files:
        data = blobs.get(lang, {}).get(rel)
        if data is None:
            continue
        prep = prepared.get(lang)
        key = cache.key(get_adapter(lang).cache_key, rel, data, prep.key if prep is not None else "")
        index = cache.get(key)
        if index is not None:
            loaded[rel] = (lang, index, data.decode(index.encoding, "replace"))
        else:
            misses.append((lang, rel, data, key))
    jobs = [(lang, rel, data) for lang, rel, data, _ in misses]
    if workers > 1 and len(jobs) >= 2 * PARALLEL_MIN:
        import concurrent.futures as cf

        with cf.ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(prepared,)) as ex:
            results = list(ex.map(_index_in_worker, jobs, chunksize=max(1, len(jobs) // (workers * 8))))
    else:
        results = [_index_one(lang, rel, data, prepared.get(lang)) for lang, rel, data in jobs]
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
        for name, n in index.info.get("counts", {}).items():
            skipped[f"{lang}_{name}"] += n
        files.setdefault(lang, {})[rel] = SourceFile(index, text)
    return RepoIndex(root, files, +skipped, examples, cache.hits, prepared)


@dataclass
class RepoExtraction:
    repo: str
    records: list[FunctionRecord]
    summary: dict
    index: RepoIndex | None = field(default=None, repr=False)  # for building the graph without re-parsing


def extract_repo(repo_id: str, root: str | Path, opts: ExtractOptions) -> RepoExtraction:
    t0 = time.monotonic()
    repo = index_repo(root, opts.cache_dir, opts.index_workers, opts.max_file_bytes, opts.languages)
    t_index = time.monotonic() - t0
    records: list[FunctionRecord] = []
    drops: Counter = Counter()
    skipped = Counter(repo.skipped)
    total = 0
    for lang, files in sorted(repo.files.items()):
        adapter = get_adapter(lang)
        resolver = repo.resolver(lang)
        make_slice = _slicer(adapter, resolver, files, opts)
        own_fields = getattr(adapter, "record_fields", None)
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
                record = make_record(repo_id, unit, sf, resolver, make_slice(unit), lang)
                if own_fields is not None:
                    record = with_fields(record, own_fields(unit, sf))
                records.append(record)
        if hasattr(resolver, "counts"):
            skipped.update({f"{lang}_{k}": v for k, v in resolver.counts().items()})
    elapsed = time.monotonic() - t0
    summary = {
        "repo": repo_id,
        "files": {lang: len(fs) for lang, fs in repo.files.items()},
        "functions": total,
        "extracted": len(records),
        "dropped": {name: drops.get(name, 0) for name in FILTERS},
        "skipped": dict(sorted(skipped.items())),
        "skipped_examples": repo.examples,
        "cache_hits": repo.cache_hits,
        "token_method": TOKEN_METHOD,
        "seconds": {"index": round(t_index, 3), "total": round(elapsed, 3)},
    }
    return RepoExtraction(repo_id, records, summary, repo)


def _slicer(adapter, resolver, files: dict[str, SourceFile], opts: ExtractOptions):
    """unit -> Slice: the adapter's own slicer if it has one, else the generic per-file one."""
    if hasattr(adapter, "slicer"):
        return adapter.slicer(resolver, files, opts.slice_depth, opts.max_context_tokens)
    return lambda unit: build_slice(unit.uid, resolver, files, adapter, opts.slice_depth, opts.max_context_tokens)


_RECORD_FIELDS = frozenset(f.name for f in fields(FunctionRecord)) - {"extra"}


def make_record(repo_id: str, unit, sf: SourceFile, resolver, sl, lang: str) -> FunctionRecord:
    lines = sf.lines
    parent = resolver.unit(unit.parent) if unit.parent else None
    info = unit.info
    return FunctionRecord(
        id=f"{repo_id}/{unit.uid}",
        repo=repo_id,
        path=unit.path,
        lang=lang,
        kind=unit.kind,
        name=unit.name,
        class_name=parent.name if parent is not None and parent.kind == CLASS else None,
        start_line=unit.start_line,
        end_line=unit.end_line,
        is_async=bool(info.get("is_async")),
        decorators=tuple(info.get("decorators", ())),
        code="\n".join(lines[unit.start_line - 1:unit.end_line]),
        docstring=info.get("docstring", ""),
        signature=info.get("signature", ""),
        callees=tuple(f"{repo_id}/{c}" for c in resolver.callees(unit)),
        context=sl.text,
        context_tokens=sl.tokens,
        file_tokens=sl.file_tokens,
        context_files=tuple(sl.files),
        context_trimmed=sl.trimmed,
    )


def with_fields(record: FunctionRecord, own: dict) -> FunctionRecord:
    """A language adapter's `record_fields`: record fields it overrides (C `code`), the rest into `extra`."""
    known = {k: v for k, v in own.items() if k in _RECORD_FIELDS}
    extra = {k: v for k, v in own.items() if k not in _RECORD_FIELDS}
    return replace(record, **known, extra={**record.extra, **extra})
