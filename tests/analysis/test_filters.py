"""Each filter on real parsed functions, and its switch."""

from __future__ import annotations

import pytest

from r2e.analysis.driver import ExtractOptions, extract_repo
from r2e.analysis.filters import FILTERS, FilterOptions

from .fixtures import write_tree

DOC = '    """Documented."""\n'
CASES = {
    # name: (source of the function, the filter that must drop it or None)
    "kept": (f"def kept(x):\n{DOC}    return x + 1\n", None),
    "dunder": (f"class K:\n    def __eq__(self, o):\n    {DOC}        return o is self\n", "dunder"),
    "nodoc": ("def nodoc(x):\n    return x\n", "docstring"),
    "noparams": (f"def noparams():\n{DOC}    return compute() + 1\n", "signature"),
    "noreturn": (f"def noreturn(x):\n{DOC}    print(x)\n    return\n", "signature"),
    "nested_return": (f"def nested_return(x):\n{DOC}    if x:\n        for i in x:\n            return i * 2\n", None),
    "literal": (f"def literal(x):\n{DOC}    if x:\n        return 1\n    return 'no'\n", "signature"),
    "gen": (f"def gen(x):\n{DOC}    for i in x:\n        yield i\n", None),
    "test_thing": (f"def test_thing(x):\n{DOC}    return x * 3\n", "keywords"),
    "parse_cli": (f"def parse_cli(x):\n{DOC}    import argparse\n    return argparse.ArgumentParser(x)\n", "keywords"),
    "cached": (f"@functools.lru_cache()\ndef cached(x):\n{DOC}    return x * 3\n", "wrapper"),
    "delegate": (f"def delegate(a, *args, **kw):\n{DOC}    return other(a, *args, key=kw)\n", "wrapper"),
    "big": ("def big(x):\n" + DOC + "    y = x\n" * 30 + "    return y\n", "size"),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    src = "import functools\n\n\n" + "\n\n".join(code for code, _ in CASES.values())
    src += ("\n\nclass Box:\n    \"\"\"Box.\"\"\"\n\n    @staticmethod\n    def static(x):\n    " + DOC
            + "        return x * 2\n\n    @property\n    def prop(self, x=1):\n    " + DOC + "        return x * 2\n")
    return write_tree(tmp_path_factory.mktemp("f") / "r", {"m.py": src})


def first_rejection_of(repo, opts):
    res = extract_repo("acme__f", repo, ExtractOptions(filters=opts))
    return {r.name for r in res.records}, res.summary


def test_each_filter_drops_its_case(repo):
    kept, summary = first_rejection_of(repo, FilterOptions())
    expected_kept = {n for n, (_, f) in CASES.items() if f is None} | {"static", "prop"}
    assert kept == expected_kept
    counts = summary["dropped"]
    for name in FILTERS:
        want = sum(1 for _, f in CASES.values() if f == name)
        assert counts[name] == want, name
    assert summary["functions"] == len(CASES) + 2


@pytest.mark.parametrize("name", FILTERS)
def test_disabling_a_filter_keeps_its_cases(repo, name):
    kept, summary = first_rejection_of(repo, FilterOptions(disabled=frozenset({name})))
    dropped_by_it = {n for n, (_, f) in CASES.items() if f == name}
    dropped_by_it = {"__eq__" if n == "dunder" else n for n in dropped_by_it}
    assert dropped_by_it <= kept
    assert summary["dropped"][name] == 0


def test_max_lines_option(repo):
    kept, _ = first_rejection_of(repo, FilterOptions(max_lines=3))
    assert "kept" in kept and "nested_return" not in kept


def test_all_filters_off_keeps_everything(repo):
    kept, summary = first_rejection_of(repo, FilterOptions(disabled=frozenset(FILTERS)))
    assert len(kept) == summary["functions"] == len(CASES) + 2
