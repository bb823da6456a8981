"""The language seam: one adapter per language, found by file extension.

An adapter turns a file's bytes into a `FileIndex` (using its tree-sitter query file shipped as
package data under `r2e/queries/`), resolves references to units across a repository, renders the
selected units of a file as valid source, and reports the facts the filters look at. The graph,
slicing, filter and driver modules only talk to this interface, so adding a language is: a query
file, an adapter module, and one line in `ADAPTERS` below.
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
