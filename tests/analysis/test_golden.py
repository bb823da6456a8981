"""Golden slices and call-graph resolution on small fixture repositories (real tree-sitter)."""

from __future__ import annotations

import ast

import pytest

from r2e.analysis.driver import ExtractOptions, extract_repo
from r2e.analysis.filters import FILTERS, FilterOptions
from r2e.experiment import function_line

from .fixtures import GOLDEN, RESOLUTION, STRUCTURED, undefined_names, write_tree

ALL_OFF = FilterOptions(disabled=frozenset(FILTERS))


def by_name(result, name):
    return next(r for r in result.records if r.id.endswith("::" + name))


@pytest.fixture
def golden(tmp_path):
    return write_tree(tmp_path / "golden", GOLDEN)


def test_golden_slice_holds_exactly_what_fut_needs(golden):
    rec = by_name(extract_repo("acme__golden", golden, ExtractOptions()), "fut")
    ctx = rec.context
    assert rec.id == "acme__golden/pkg/core.py::fut"
    # consts: SCALE only; util: the import and helper; core: the tuple assignment, fut last
    assert "SCALE = 3" in ctx and "UNUSED" not in ctx
    assert "from pkg.consts import SCALE" in ctx and "def helper(x):" in ctx and "unrelated" not in ctx
    assert "a, b = 1, 2" in ctx and "from .util import helper" in ctx
    assert "import os" not in ctx and "LIMIT" not in ctx
    files = [line[len("# file: "):] for line in ctx.splitlines() if line.startswith("# file: ")]
    assert files == ["pkg/consts.py", "pkg/util.py", "pkg/core.py"]
    assert ctx.rstrip().endswith("return helper(y) + b")
    assert rec.callees == ("acme__golden/pkg/util.py::helper",)
    assert list(rec.context_files) == files
    assert 0 < rec.context_tokens < rec.file_tokens
    assert undefined_names(ctx) == []


def test_golden_depth_one_is_only_the_core_block(golden):
    rec = by_name(extract_repo("acme__golden", golden, ExtractOptions(slice_depth=1)), "fut")
    ctx = rec.context
    assert [l for l in ctx.splitlines() if l.startswith("# file: ")] == ["# file: pkg/core.py"]
    assert "from .util import helper" in ctx and "a, b = 1, 2" in ctx and "def fut(y):" in ctx
    assert "def helper" not in ctx and "SCALE" not in ctx
    assert undefined_names(ctx) == []


def test_record_fields(golden):
    rec = by_name(extract_repo("acme__golden", golden, ExtractOptions()), "fut")
    # extracted.jsonl's keys, in the order the file has always had
    assert list(function_line(rec)) == [
        "id", "repo", "path", "lang", "kind", "name", "class_name", "start_line", "end_line", "is_async",
        "decorators", "code", "docstring", "signature", "callees", "context", "context_tokens", "file_tokens",
        "context_files", "context_trimmed"]
    assert (rec.repo, rec.path, rec.lang, rec.kind, rec.name) == ("acme__golden", "pkg/core.py", "python", "function", "fut")
    assert (rec.start_line, rec.end_line) == (8, 10)
    assert rec.code.splitlines()[0] == "def fut(y):" and rec.docstring == "Future value of y."
    assert rec.signature == "def fut(y)" and rec.class_name is None


@pytest.fixture(scope="module")
def resolution(tmp_path_factory):
    root = write_tree(tmp_path_factory.mktemp("res") / "lib", RESOLUTION)
    return extract_repo("acme__lib", root, ExtractOptions(filters=ALL_OFF))


@pytest.mark.parametrize("name, callee", [
    ("by_module", "src/lib/util.py::helper"),
    ("by_alias", "src/lib/util.py::helper"),
    ("by_from_alias", "src/lib/util.py::helper"),
    ("by_reexport", "src/lib/util.py::helper"),
    ("by_submodule", "src/lib/sub/tool.py::run"),
    ("by_package_attr", "src/lib/sub/tool.py::run"),
    ("by_class", "src/lib/util.py::Parser.__init__"),
    ("Parser.parse", "src/lib/util.py::helper"),
    ("Square.double", "src/lib/shapes.py::Base.area"),
    ("Square.make", "src/lib/shapes.py::Base.area"),
])
def test_calls_resolve(resolution, name, callee):
    assert by_name(resolution, name).callees == (f"acme__lib/{callee}",)


def test_ids_follow_the_src_layout(resolution):
    rec = by_name(resolution, "Parser.parse")
    assert rec.id == "acme__lib/src/lib/util.py::Parser.parse"
    assert (rec.kind, rec.class_name, rec.name) == ("method", "Parser", "parse")


def test_star_import_becomes_an_explicit_import(resolution):
    ctx = by_name(resolution, "by_star").context
    assert "from lib.util import PATTERN" in ctx and "import *" not in ctx
    assert "PATTERN = regex.compile('x')" in ctx and "import re as regex" in ctx
    assert "def helper" not in ctx


def test_method_slice_has_class_header_used_members_then_method(resolution):
    ctx = by_name(resolution, "Square.double").context
    assert "class Base(P):" in ctx and "UNIT = 2" in ctx and "def area(self, k):" in ctx
    assert "class Parser:" in ctx and "from lib.util import Parser as P" in ctx
    assert ctx.rstrip().endswith("return self.area(k) * 2")
    assert "def make" not in ctx  # members the method does not use stay out
    assert undefined_names(ctx) == []


def test_every_fixture_slice_is_valid_and_sufficient(resolution):
    for rec in resolution.records:
        assert undefined_names(rec.context) == [], rec.id


def test_module_level_structure_is_kept(tmp_path):
    res = extract_repo("acme__s", write_tree(tmp_path / "s", STRUCTURED), ExtractOptions())
    ctx = by_name(res, "dump").context
    ast.parse(ctx)  # valid, correctly indented
    assert "try:\n    import json\nexcept ImportError:\n    json = None" in ctx
    assert "if sys.version_info >= (3, 8):\n    def encode(v):" in ctx and "else:\n    def encode(v):" in ctx
    assert "__all__ = ['dump']" in ctx and "__all__ += ['load']" in ctx
    assert "COUNT" not in ctx
    assert undefined_names(ctx) == []


def test_token_budget_trims_far_dependencies_never_the_target(golden):
    full = by_name(extract_repo("acme__golden", golden, ExtractOptions()), "fut")
    tight = by_name(extract_repo("acme__golden", golden, ExtractOptions(max_context_tokens=30)), "fut")
    assert tight.context_tokens < full.context_tokens
    assert "def fut(y):" in tight.context and tight.context_trimmed > 0
    assert undefined_names(tight.context) == []


def test_names_bound_in_nested_scopes_stay_there(tmp_path):
    root = write_tree(tmp_path / "n", {"m.py": (
        "import attr\ni = 5\nUNUSED = 1\n\n\n"
        "def f(x):\n    \"\"\"Nested function parameter named like a global.\"\"\"\n"
        "    def validator(inst, attr, val):\n        return val\n"
        "    return attr.ib(validator=validator, default=x)\n\n\n"
        "def g(xs):\n    \"\"\"Comprehension variable shadows a global only inside.\"\"\"\n"
        "    return [i for i in xs] + [i] + [lambda UNUSED: UNUSED]\n"
    )})
    res = extract_repo("acme__n", root, ExtractOptions())
    f, g = by_name(res, "f").context, by_name(res, "g").context
    assert "import attr" in f and undefined_names(f) == []
    assert "i = 5" in g and "UNUSED = 1" not in g and undefined_names(g) == []
