"""Which extracted functions become problems: named, switchable filters over `FunctionFacts`."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from r2e.analysis.records import METHOD, FunctionFacts

# Checked in this order; a function's drop is counted against the first filter that rejects it.
# One registry for every language: `main`, `test_file` and `generated` read facts only some adapters
# report (C today), so they never reject a function of a language that leaves them unset (Python).
FILTERS = ("dunder", "main", "test_file", "generated", "docstring", "signature", "keywords", "wrapper", "size")
DEFAULT_MAX_LINES = {"function": 25, "method": 20}
WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@lru_cache(maxsize=1)
def default_keywords() -> frozenset[str]:
    text = (resources.files("r2e") / "data" / "filter_keywords.txt").read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@dataclass(frozen=True)
class FilterOptions:
    disabled: frozenset[str] = frozenset()
    max_lines: int | None = None  # None: 25 for functions, 20 for methods
    keywords: frozenset[str] = field(default_factory=default_keywords)


def words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


def _decorator_ok(dec: str, allowed: tuple[str, ...]) -> bool:
    name = dec.split("(")[0].strip()
    return any(fnmatch.fnmatchcase(name, pat) for pat in allowed)


def rejects(name: str, f: FunctionFacts, opts: FilterOptions) -> bool:
    if name == "dunder":
        return f.name.startswith("__") and f.name.endswith("__")
    if name == "main":
        return f.entry_point
    if name == "test_file":
        return f.in_test_file
    if name == "generated":
        return f.generated
    if name == "docstring":
        return not f.docstring.strip()
    if name == "signature":
        if f.signature_rule == "lenient":
            return f.n_params == 0 and not f.returns_value
        return f.n_params == 0 or not f.returns_value or f.only_literal_returns
    if name == "keywords":
        return bool(words(f.text) & opts.keywords)
    if name == "wrapper":
        return f.delegating or any(not _decorator_ok(d, f.allowed_decorators) for d in f.decorators)
    if name == "size":
        limit = opts.max_lines or DEFAULT_MAX_LINES["method" if f.kind == METHOD else "function"]
        return f.lines > limit
    raise ValueError(f"unknown filter {name}")


def first_rejection(f: FunctionFacts, opts: FilterOptions) -> str | None:
    for name in FILTERS:
        if name not in opts.disabled and rejects(name, f, opts):
            return name
    return None
