"""C on the language seam: the adapter `r2e.analysis.languages` registers for `.c` and `.h` files.

The C analysis (index.py, masking.py, repo.py, slicer.py) works on its own records, `CUnit` and
`CFileIndex`; this module converts them to and from the seam's `Unit` and `FileIndex` (so they go
through the parse cache and the driver like Python's) and uses the seam's optional extensions (see
languages.py): a repository-wide `prepare` (decoration macros of every file, include directories),
its own `slicer` (a whole translation unit), C `record_fields`, and C filter facts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields

from r2e.analysis.c.index import CFileIndex, CUnit
from r2e.analysis.records import FUNCTION, FileIndex, FunctionFacts, SourceFile, Unit
from r2e.analysis.slicing import Slice
from r2e.analysis.tokens import METHOD as TOKEN_METHOD

ADAPTER_SCHEMA = 2  # bump when the CUnit <-> Unit conversion (or what a file indexes to here) changes
TEST_PATH = re.compile(r"(^|/)(tests?|testing|unittests?)/|(^|/)tests?\.c$|(^|/)test_[^/]*\.c$|_tests?\.c$|(^|/)fuzz/")
C_FIELDS = "c"  # key in Unit.info holding the CUnit fields the generic Unit has no place for
_UNIT_FIELDS = {f.name for f in fields(Unit)}
# CUnit fields the seam's Unit lacks (text, conds, static, and any the C index grows later)
_C_ONLY = tuple(f.name for f in fields(CUnit) if f.name not in _UNIT_FIELDS)
_SHARED = tuple(f.name for f in fields(CUnit) if f.name in _UNIT_FIELDS and f.name != "info")
# CFileIndex fields kept in FileIndex.info (`stats` as `counts`, which the summary reports)
_FILE_EXTRA = tuple(f.name for f in fields(CFileIndex) if f.name not in ("path", "units", "lines", "tokens", "stats"))


def to_unit(cu: CUnit) -> Unit:
    return Unit(
        uid=cu.uid, path=cu.path, kind=cu.kind, name=cu.name, qualname=cu.name,
        start_line=cu.start_line, end_line=cu.end_line, start_byte=0, end_byte=0,
        defines=tuple(cu.defines), refs=tuple(cu.refs), calls=tuple(cu.calls), tokens=cu.tokens,
        info={**cu.info, C_FIELDS: {k: getattr(cu, k) for k in _C_ONLY}},
    )


def to_cunit(u: Unit) -> CUnit:
    info = dict(u.info)
    extra = info.pop(C_FIELDS)
    return CUnit.from_dict({**{k: getattr(u, k) for k in _SHARED}, **extra, "info": info})


def to_file_index(fi: CFileIndex) -> FileIndex:
    return FileIndex(
        path=fi.path, lang="c", units=tuple(to_unit(u) for u in fi.units), lines=fi.lines, tokens=fi.tokens,
        syntax_error=bool(fi.stats.get("error_nodes")),
        info={"counts": dict(fi.stats), **{k: getattr(fi, k) for k in _FILE_EXTRA}},
    )


def to_cfile_index(index: FileIndex) -> CFileIndex:
    return CFileIndex(path=index.path, units=[to_cunit(u) for u in index.units], lines=index.lines,
                      tokens=index.tokens, stats=dict(index.info.get("counts", {})),
                      **{k: index.info[k] for k in _FILE_EXTRA if k in index.info})


@dataclass
class CPrepared:
    """What every C file of a repository is indexed and resolved with."""

    masker: object  # masking.Masker over the macros of all files
    key: str  # changes when the masker would hide different names
    include_dirs: list[str]
    include_dirs_from: str  # "compile_commands" | "guessed"


class CResolver:
    """The seam's resolver over a `CRepo` (symbol tables with static scoping, include graph)."""

    def __init__(self, files: dict[str, SourceFile], prepared: CPrepared, indexer):
        from r2e.analysis.c.includes import IncludeResolver, system_include_dirs
        from r2e.analysis.c.repo import CRepo
        from r2e.analysis.c.sysnames import SystemNames
        from r2e.analysis.c.templates import instantiate

        self.units = {u.uid: u for sf in files.values() for u in sf.index.units}
        cfiles = {p: to_cfile_index(sf.index) for p, sf in files.items()}
        # templates need every file at once: instantiated here, after the (cached) per-file index
        blobs = {p: sf.text.encode("utf-8") for p, sf in files.items()}
        sys_dirs = system_include_dirs(prepared.include_dirs, prepared.include_dirs_from)
        sysnames = SystemNames()
        sysnames.prefetch({cu.info["target"] for fi in cfiles.values() for cu in fi.units
                           if cu.kind == "include" and cu.info["system"]})
        self.template_counts = instantiate(cfiles, blobs, IncludeResolver(sorted(cfiles), prepared.include_dirs, sys_dirs,
                                                                          sysnames.has),
                                           indexer, prepared.masker)
        for fi in cfiles.values():
            for cu in fi.units:
                if cu.uid not in self.units:
                    self.units[cu.uid] = to_unit(cu)
        self.repo = CRepo(cfiles, prepared.include_dirs, sys_dirs, sysnames)
        self.include_dirs = prepared.include_dirs
        self.include_dirs_from = prepared.include_dirs_from

    def cunit(self, unit: Unit) -> CUnit:
        return self.repo.units[unit.uid]

    def unit(self, uid: str) -> Unit:
        return self.units[uid]

    def deps(self, unit: Unit) -> list[str]:
        cu = self.cunit(unit)
        out = {d.uid: None for name in cu.refs for d in self.repo.lookup(name, cu.path)}
        out.update((c.uid, None) for c in self.repo.callees(cu))
        out.pop(unit.uid, None)
        return list(out)

    def callees(self, unit: Unit) -> list[str]:
        return [c.uid for c in self.repo.callees(self.cunit(unit))]

    def extra_units(self, path: str) -> list[Unit]:
        return []

    def module_edges(self):
        return self.repo.module_edges()

    def graph(self, repo_id: str):
        return self.repo.graph(repo_id)

    def counts(self) -> dict[str, int]:
        n, k = self.repo.unresolved_includes, self.repo.system_resolved
        return {**({"unresolved_local_includes": n} if n else {}),
                **({"names_left_to_system_headers": k} if k else {}), **self.template_counts}


class CAdapter:
    name = "c"
    extensions = (".c", ".h")

    def __init__(self) -> None:
        from r2e.analysis.c.index import CIndexer

        self.indexer = CIndexer()
        self.cache_key = f"{self.indexer.cache_key}-a{ADAPTER_SCHEMA}-{TOKEN_METHOD}"

    def prepare(self, root: str, blobs: dict[str, bytes]) -> CPrepared:
        from r2e.analysis.c.cxx import cplusplus_reason
        from r2e.analysis.c.includes import include_dirs
        from r2e.analysis.c.masking import MacroTable, Masker

        table = MacroTable()
        for path in sorted(blobs):
            if not cplusplus_reason(blobs[path]):  # a C++ header's macros are no C file's
                table.scan(blobs[path])
        masker = Masker(table)
        # the table's key covers what is hidden; which hidden names mean `static` is also parsed in
        h = hashlib.sha256(table.key().encode())
        h.update(b"\0" + b",".join(sorted(masker.static_names)))
        dirs, source = include_dirs(root, sorted(blobs))
        return CPrepared(masker, h.hexdigest()[:12], dirs, source)

    def index_file(self, path: str, data: bytes, prepared: CPrepared) -> tuple[FileIndex, str]:
        from r2e.analysis.c.cxx import cplusplus_reason

        if cplusplus_reason(data):  # C++ in a .h/.c file: kept out of the C index, counted
            text = data.decode("utf-8", "replace")
            fi = CFileIndex(path=path, units=[], lines=text.count("\n") + (0 if text.endswith("\n") or not text else 1),
                            tokens=0, stats={"cplusplus_files": 1})
            return to_file_index(fi), text
        fi = self.indexer.index(path, data, prepared.masker)
        return to_file_index(fi), data.decode("utf-8", "replace")

    def resolver(self, files: dict[str, SourceFile], prepared: CPrepared) -> CResolver:
        return CResolver(files, prepared, self.indexer)

    def slicer(self, resolver: CResolver, files: dict[str, SourceFile], depth: int | None,
               max_tokens: int | None):
        from r2e.analysis.c.slicer import Slicer

        slicer = Slicer(resolver.repo, max_tokens, depth)

        def make(unit: Unit) -> Slice:
            s = slicer.slice(resolver.cunit(unit))
            return Slice(text=s.text, tokens=s.tokens, file_tokens=s.file_tokens, files=s.files,
                         units=s.units, trimmed=s.trimmed)

        return make

    def render(self, source, selected, last, resolver, stubs) -> str:
        raise NotImplementedError("C slices are whole translation units: see CAdapter.slicer")

    def file_header(self, path: str) -> str:
        return f"/* file: {path} */"

    def record_fields(self, unit: Unit, source: SourceFile) -> dict:
        extra = unit.info[C_FIELDS]
        return {"code": extra["text"], "is_static": extra["static"]}

    def is_extractable(self, unit: Unit) -> bool:
        return unit.kind == FUNCTION and not unit.info.get("variant")  # #if variants: the first only

    def facts(self, unit: Unit, source: SourceFile) -> FunctionFacts:
        info = unit.info
        doc = info.get("docstring", "")
        return FunctionFacts(
            name=unit.name, kind=unit.kind, lines=unit.end_line - unit.start_line + 1, docstring=doc,
            n_params=info.get("n_params", 0), returns_value=not info.get("returns_void"),
            only_literal_returns=False, decorators=(), allowed_decorators=(),
            delegating=bool(info.get("wrapper")),  # empty body, or one that only delegates to one call
            text=f"{unit.name}\n{doc}",  # the keyword filter reads the name and the leading comment
            entry_point=unit.name == "main", in_test_file=bool(TEST_PATH.search(unit.path)),
            generated=bool(source.index.info.get("generated")), signature_rule="lenient",
        )
