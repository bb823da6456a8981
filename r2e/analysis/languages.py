"""The language seam: one adapter per language, found by file extension.

An adapter turns a file's bytes into a `FileIndex` (using its tree-sitter query file shipped as
package data under `r2e/queries/`), resolves references to units across a repository, renders the
selected units of a file as valid source, and reports the facts the filters look at. The graph,
slicing, filter and driver modules only talk to this interface, so adding a language is: a query
file, an adapter module, and one line in `ADAPTERS` below.

What the generic code relies on (see `records.py`):
- units with a `uid` of the form `<path>::<qualname>` (the record id is `<repo>/<uid>`), 1-based
  inclusive lines, `defines` (names bound), `parent` (enclosing unit that must be rendered with it),
  `tokens` (estimate used when trimming), and kinds from `records` (FUNCTION/METHOD/CLASS count as
  levels for `--slice-depth`; IMPORT units are kept whenever a kept unit reads them);
- function units carry `info` keys `docstring`, `signature`, `is_async`, `decorators` (the record
  fields) and the adapter's `facts()` feeds the filters;
- `FileIndex.header`: lines that must open any slice that includes the file (Python `__future__`);
- the resolver's `deps()` drives slicing, `callees()` and `module_edges()` the graph.

Optional extensions, for a language whose analysis is not per-file (C); an adapter without them
gets the behaviour above, so Python uses none:
- `prepare(root, blobs) -> prepared`: a repository-wide pass over the bytes of every file of the
  language before any of them is indexed (C: the table of decoration macros of all files, and the
  include directories). `prepared.key` (a short string) enters every file's parse-cache key, so a
  change elsewhere that alters how a file parses re-parses it; `prepared` is then passed as the
  last argument of `index_file(path, data, prepared)` and `resolver(files, prepared)`, and must
  pickle (files are indexed in worker processes).
- `slicer(resolver, files, depth, max_tokens) -> (unit -> Slice)`: the language's own slicer
  instead of the generic per-file `build_slice` (C: a whole translation unit); `render` and
  `file_header` are then unused.
- `record_fields(unit, source) -> dict`: record fields that replace or add to the generic ones
  (C: `code` is the unit's own text, `is_static`).
- `facts()` may fill the `FunctionFacts` fields only some languages have (`entry_point`,
  `in_test_file`, `generated`, `signature_rule`), which the `main`, `test_file`, `generated` and
  `signature` filters read.
- on the resolver, `graph(repo_id) -> networkx.DiGraph`: the language's nodes and edges for
  `r2e graph`, used instead of the generic contains/imports/calls (C: macros, includes, expands);
  and `counts() -> dict[str, int]`: repository-level counters for the summary's `skipped` (C:
  unresolved local includes), reported as `<lang>_<name>` like the files' `info["counts"]`.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from importlib import resources
from typing import Iterable, Protocol

from r2e.analysis.records import FileIndex, FunctionFacts, SourceFile, Unit

# language name -> "module:class"; adapters load lazily (no tree-sitter import at r2e import time).
ADAPTERS: dict[str, str] = {
    "python": "r2e.analysis.python_lang:PythonAdapter",
    "c": "r2e.analysis.c.adapter:CAdapter",
}


class Resolver(Protocol):
    """Cross-file name resolution for one repository (built once per extraction)."""

    def deps(self, unit: Unit) -> list[str]:
        """uids of the units `unit` needs to be defined (imports, globals, callees, parents)."""

    def callees(self, unit: Unit) -> list[str]:
        """uids of the functions/methods `unit` calls (a class call resolves to its constructor)."""

    def unit(self, uid: str) -> Unit:
        """Any unit of the repository by uid (including ones the resolver synthesized)."""

    def extra_units(self, path: str) -> list[Unit]:
        """Units the resolver synthesized for `path` (e.g. one name read through a star import)."""

    def module_edges(self) -> Iterable[tuple[str, str]]:
        """(importer path, imported path) pairs between files of the repository."""


class LanguageAdapter(Protocol):
    name: str
    extensions: tuple[str, ...]
    cache_key: str  # changes whenever the grammar, query or index schema changes

    def index_file(self, path: str, data: bytes) -> tuple[FileIndex, str]:
        """Parse one file; return its index and its decoded text. Never raises on bad source."""

    def resolver(self, files: dict[str, SourceFile]) -> Resolver:
        """A resolver over the repository's files of this language (path -> file)."""

    def render(self, source: SourceFile, selected: set[str], last: str | None, resolver: Resolver,
               stubs: set[str]) -> str:
        """The selected units of one file as valid source, `last` (and its enclosing units) at the
        end; units in `stubs` (trimmed for the token budget) as a one-line stand-in defining their
        names."""

    def file_header(self, path: str) -> str:
        """The comment line that opens a file's section in a slice (Python: `# file: <path>`)."""

    def facts(self, unit: Unit, source: SourceFile) -> FunctionFacts:
        """What the filters need to know about a function or method unit."""

    def is_extractable(self, unit: Unit) -> bool:
        """Whether the unit is a function the pipeline may turn into a problem."""


@lru_cache(maxsize=None)
def get_adapter(name: str) -> LanguageAdapter:
    target = ADAPTERS.get(name)
    if target is None:
        raise KeyError(f"no analysis adapter for language '{name}'")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)()


def extension_map() -> dict[str, str]:
    """file extension (with dot) -> language name, from each adapter's class attribute."""
    out: dict[str, str] = {}
    for name, target in ADAPTERS.items():
        module, attr = target.split(":")
        cls = getattr(importlib.import_module(module), attr)
        for ext in cls.extensions:
            out[ext] = name
    return out


def language_of(path: str, extensions: dict[str, str]) -> str | None:
    dot = path.rfind(".")
    return extensions.get(path[dot:]) if dot >= 0 else None


def load_query(lang: str) -> str:
    return (resources.files("r2e") / "queries" / f"{lang}.scm").read_text(encoding="utf-8")
