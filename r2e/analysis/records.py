"""Plain records of the analysis: no tree-sitter node ever leaves the adapter that made it.

A file is indexed into *units*: the pieces a slice is made of (a function, a class header, a method,
an assignment, one imported name, the header of an `if`/`try` block ...). Units are language-neutral;
whatever a language needs to render or resolve them lives in `info` (JSON-friendly values only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

# Unit kinds every language shares. A language may add its own (e.g. C "macro", "typedef").
FUNCTION = "function"
METHOD = "method"
CLASS = "class"
IMPORT = "import"
ASSIGN = "assign"
BLOCK = "block"
STATEMENT = "statement"
DEFINITION_KINDS = (FUNCTION, METHOD, CLASS)  # the kinds that count as a level for --slice-depth


@dataclass(frozen=True)
class Unit:
    uid: str  # "<path>::<key>", unique within a repository
    path: str  # repo-relative POSIX path
    kind: str
    name: str  # the defined name for functions/methods/classes, "" otherwise
    qualname: str  # "Parser.parse" for methods, "" for anonymous units
    start_line: int  # 1-based, inclusive
    end_line: int
    start_byte: int
    end_byte: int
    defines: tuple[str, ...] = ()  # names the unit binds in its scope
    refs: tuple[str, ...] = ()  # free names and dotted chains it reads
    calls: tuple[str, ...] = ()  # dotted chains it calls
    parent: str | None = None  # uid of the enclosing class header / block header
    clause: int = 0  # clause index inside a parent block (if/elif/else, try/except/...)
    tokens: int = 0  # tokens of the unit's own text
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["defines"], d["refs"], d["calls"] = list(self.defines), list(self.refs), list(self.calls)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Unit":
        d = dict(d)
        for key in ("defines", "refs", "calls"):
            d[key] = tuple(d.get(key) or ())
        return cls(**d)


@dataclass(frozen=True)
class FileIndex:
    """Everything the analysis keeps about one source file."""

    path: str
    lang: str
    units: tuple[Unit, ...]
    lines: int
    tokens: int
    syntax_error: bool = False  # the parse had errors; units holding them were dropped
    skipped_units: int = 0  # statements dropped because they did not parse
    encoding: str = "utf-8"
    header: tuple[str, ...] = ()  # lines that must open any slice using this file (Python: __future__)
    # language-specific facts about the file, JSON-friendly (C: `generated`, and `counts` that the
    # summary reports under `skipped` as `<lang>_<name>`)
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        d = {
            "path": self.path, "lang": self.lang, "lines": self.lines, "tokens": self.tokens,
            "header": list(self.header),
            "syntax_error": self.syntax_error, "skipped_units": self.skipped_units,
            "encoding": self.encoding, "units": [u.to_dict() for u in self.units],
        }
        if self.info:  # absent when empty, so entries of languages without file facts stay as they were
            d["info"] = self.info
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FileIndex":
        return cls(
            path=d["path"], lang=d["lang"], lines=d["lines"], tokens=d["tokens"],
            syntax_error=d.get("syntax_error", False), skipped_units=d.get("skipped_units", 0),
            encoding=d.get("encoding", "utf-8"), header=tuple(d.get("header", ())), units=tuple(Unit.from_dict(u) for u in d["units"]),
            info=d.get("info") or {},
        )


@dataclass
class SourceFile:
    """A file read from disk: its index plus the decoded text (kept in memory while slicing)."""

    index: FileIndex
    text: str

    @property
    def path(self) -> str:
        return self.index.path

    @cached_property
    def lines(self) -> list[str]:
        """The text split into lines, once per file (records cut their code from it)."""
        return self.text.split("\n")


@dataclass(frozen=True)
class FunctionFacts:
    """What the filters look at, filled by the language adapter from a function unit's `info`."""

    name: str
    kind: str
    lines: int
    docstring: str
    n_params: int
    returns_value: bool
    only_literal_returns: bool
    decorators: tuple[str, ...]
    allowed_decorators: tuple[str, ...]
    delegating: bool
    text: str  # name + docstring + body, for the keyword filter
    # Facts only some languages report; the defaults keep their filters from rejecting anything.
    entry_point: bool = False  # the program's entry point (C `main`)
    in_test_file: bool = False  # defined in a test file or folder
    generated: bool = False  # its file says it is generated
    # "strict" (Python): rejected without parameters, or without a non-literal return value.
    # "lenient" (C): rejected only with neither, since C returns results through pointer parameters.
    signature_rule: str = "strict"
