"""C analysis on small fixture trees: index, call graph with static scoping, compilable slices."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from r2e.analysis.c.ccheck import check_compiles
from r2e.analysis.c.extract import C_FILTERS, CExtractOptions, extract_c_repo, index_c_repo
from r2e.analysis.filters import FilterOptions

ALL_OFF = CExtractOptions(filters=FilterOptions(disabled=frozenset(C_FILTERS)))

FILES = {
    "include/geom.h": """
        #ifndef GEOM_H
        #define GEOM_H
        #include <stddef.h>
        #define SCALE 3
        #define SQUARE(x) ((x) * (x))
        #ifdef GEOM_WIDE
        typedef long coord_t;
        #else
        typedef int coord_t;
        #endif
        struct node;
        typedef struct point { coord_t x, y; } point_t;
        struct node { struct node *next; point_t p; };
        enum shape { CIRCLE, SQUARE_SHAPE = 4 };
        extern int counter;
        int area(point_t a, point_t b);
        coord_t norm2(point_t p);
        #endif
    """,
    "src/geom.c": """
        #include "geom.h"
        #include <string.h>

        int counter = 0;
        static const int UNUSED_TABLE[2] = {1, 2};

        /* square of the distance to the origin */
        static coord_t helper(coord_t v) { return SQUARE(v) * SCALE; }

        coord_t norm2(point_t p)
        {
            counter++;
            return helper(p.x) + helper(p.y);
        }

        /* area of the box spanned by two points */
        int area(point_t a, point_t b)
        {
            int w = a.x - b.x, h = a.y - b.y;
            return w * h + (int)norm2(a) * 0 + CIRCLE;
        }

        size_t walk(struct node *n)
        {
            size_t k = 0;
            for (; n; n = n->next) k += (size_t)n->p.x;
            return k + strlen("");
        }
    """,
    "src/other.c": """
        #include "geom.h"

        static int helper(int v) { return v + 1; }

        int twice(point_t p)
        {
            return helper((int)norm2(p)) * 2;
        }

        int old_style(a, b)
            int a;
            char *b;
        {
            return a + (b != 0);
        }

        int main(void) { return twice((point_t){1, 2}); }
    """,
    "src/broken.c": """
        #include "geom.h"
        int fine(int q) { return q * SCALE; }
        int broken(int q { return q +; }
        int after(int q) { return fine(q) + 1; }
    """,
    "tests/test_geom.c": """
        #include "geom.h"
        int test_area(void) { point_t a = {1, 1}; return area(a, a); }
    """,
}


@pytest.fixture()
def ctree(tmp_path: Path) -> Path:
    for rel, text in FILES.items():
        p = tmp_path / "proj" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return tmp_path / "proj"


def by_name(records):
    return {r.id.split("/", 1)[1]: r for r in records}


def test_index_kinds_and_records(ctree):
    repo, skipped, info = index_c_repo(ctree)
    header = {(u.kind, u.name) for u in repo.files["include/geom.h"].units}
    for item in [("macro", "SCALE"), ("macro", "SQUARE"), ("typedef", "coord_t"), ("typedef", "point_t"),
                 ("struct", "node"), ("enum", "shape"), ("global", "counter"), ("prototype", "area"),
                 ("include", "stddef.h")]:
        assert item in header, item
    # the #ifdef forest keeps both variants of coord_t, each under its condition
    conds = sorted(u.conds for u in repo.files["include/geom.h"].units if u.name == "coord_t")
    assert conds == [("!(defined(GEOM_WIDE))",), ("defined(GEOM_WIDE)",)]
    assert "include" in info["include_dirs"]

    records, stats = extract_c_repo(ctree, "acme__geom", ALL_OFF)
    recs = by_name(records)
    r = recs["src/geom.c::area"]
    assert r.id == "acme__geom/src/geom.c::area" and r.lang == "c" and r.kind == "function"
    assert r.class_name is None and r.repo == "acme__geom" and r.path == "src/geom.c"
    assert (r.start_line, r.end_line) == (17, 21)
    assert r.code.startswith("int area(point_t a, point_t b)\n{") and r.code.endswith("}")
    assert r.docstring == "/* area of the box spanned by two points */"
    assert r.signature == "int area(point_t a, point_t b)"
    assert r.context_tokens > 0 and r.file_tokens > 0
    # `static` is part of the definition; prototypes are not definitions
    assert recs["src/geom.c::helper"].code.startswith("static coord_t helper")
    assert not any(k.startswith("include/") for k in recs)
    # K&R definitions are extracted
    assert recs["src/other.c::old_style"].signature == "int old_style(a, b)"
    assert stats["skipped"]["kr_definitions"] == 1


def test_static_scoping_and_call_graph(ctree):
    records, _ = extract_c_repo(ctree, "r", ALL_OFF)
    recs = by_name(records)
    assert recs["src/geom.c::norm2"].callees == ("r/src/geom.c::helper",)
    # other.c's helper is its own static node; norm2 resolves across files through the header
    assert sorted(recs["src/other.c::twice"].callees) == ["r/src/geom.c::norm2", "r/src/other.c::helper"]
    assert recs["src/geom.c::area"].callees == ("r/src/geom.c::norm2",)
    repo, _, _ = index_c_repo(ctree)
    g = repo.graph("r")
    assert g.has_edge("r/src/geom.c::norm2", "r/src/geom.c::helper")
    assert not g.has_edge("r/src/geom.c::norm2", "r/src/other.c::helper")
    assert g.has_edge("r/src/geom.c::helper", "r/include/geom.h::macro:SQUARE:5")
    assert g.has_edge("r/src/geom.c", "r/include/geom.h")


def test_slice_contents_and_order(ctree):
    records, _ = extract_c_repo(ctree, "r", ALL_OFF)
    ctx = by_name(records)["src/geom.c::area"].context
    # what it needs, in a valid order, the target last
    need = ["#include <stddef.h>", "typedef int coord_t;", "typedef struct point", "coord_t norm2(point_t p);",
            "extern int counter;"]
    pos = [ctx.index(n) for n in need]
    assert pos[0] < pos[1] < pos[2] < pos[3]
    assert "enum shape" in ctx  # CIRCLE
    assert ctx.rstrip().endswith(by_name(records)["src/geom.c::area"].code)
    # the callee's definition (and its own needs) is in the context, unused globals are not
    assert "coord_t norm2(point_t p)\n{" in ctx and "static coord_t helper" in ctx and "#define SQUARE" in ctx
    assert "UNUSED_TABLE" not in ctx and "struct node {" not in ctx and "twice" not in ctx
    # the target's own condition variants stay conditional
    assert "#if defined(GEOM_WIDE)\ntypedef long coord_t;\n#endif" in ctx


def test_depth_one_keeps_only_prototypes(ctree):
    records, _ = extract_c_repo(ctree, "r", CExtractOptions(filters=ALL_OFF.filters, slice_depth=1))
    ctx = by_name(records)["src/geom.c::area"].context
    assert "coord_t norm2(point_t p);" in ctx and "coord_t norm2(point_t p)\n{" not in ctx
    assert check_compiles(ctx)[0]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_every_slice_compiles(ctree):
    records, _ = extract_c_repo(ctree, "r", ALL_OFF)
    assert len(records) >= 9
    bad = {r.id: check_compiles(r.context)[1] for r in records if not check_compiles(r.context)[0]}
    assert bad == {}
    # and the checker can fail: a slice without its types does not compile
    ok, err = check_compiles(by_name(records)["src/geom.c::area"].code)
    assert not ok and "point_t" in err


def test_budget_trims_callee_definitions(ctree):
    tight = CExtractOptions(filters=ALL_OFF.filters, max_context_tokens=10)
    rec = by_name(extract_c_repo(ctree, "r", tight)[0])["src/geom.c::area"]
    assert rec.context_trimmed >= 1 and "coord_t norm2(point_t p)\n{" not in rec.context
    assert rec.context.rstrip().endswith(rec.code)  # never the target


def test_parse_errors_are_counted_and_extraction_continues(ctree):
    records, stats = extract_c_repo(ctree, "r", ALL_OFF)
    names = {r.name for r in records if r.path == "src/broken.c"}
    assert "fine" in names and "broken" not in names
    assert stats["skipped"].get("parse_error_units", 0) + stats["skipped"].get("error_nodes", 0) >= 1


def test_filters(ctree):
    records, stats = extract_c_repo(ctree, "r", CExtractOptions(filters=FilterOptions(disabled=frozenset({"docstring"}))))
    names = {r.name for r in records}
    assert "main" not in names and "test_area" not in names
    assert stats["dropped"]["main"] == 1 and stats["dropped"]["test_file"] == 1
    # with the docstring filter on, only documented functions remain
    records, stats = extract_c_repo(ctree, "r")
    assert {r.name for r in records} == {"area", "helper"}


def test_compile_commands_include_dirs(ctree):
    (ctree / "compile_commands.json").write_text(
        '[{"directory": "%s", "command": "cc -Iinclude -DX -c src/geom.c", "file": "src/geom.c"}]' % ctree)
    _, _, info = index_c_repo(ctree)
    assert info["include_dirs"] == ["include"] and info["include_dirs_from"] == "compile_commands"
