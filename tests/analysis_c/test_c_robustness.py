"""Real-world C shapes: decoration macros, K&R, extern "C" headers, X-macros, huge files."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from r2e.analysis.c.ccheck import check_compiles
from r2e.analysis.c.extract import C_FILTERS, CExtractOptions, extract_c_repo
from r2e.analysis.filters import FilterOptions

ALL_OFF = CExtractOptions(filters=FilterOptions(disabled=frozenset(C_FILTERS)))

FILES = {
    "zconf.h": """
        #ifndef ZCONF_H
        #define ZCONF_H
        #define ZEXPORT
        #ifdef _WIN32
        #  define ZEXTERN extern __declspec(dllexport)
        #else
        #  define ZEXTERN extern
        #endif
        #define OF(args) args
        #ifndef FAR
        #  define FAR
        #endif
        typedef unsigned char FAR Byte;
        #endif
    """,
    "zlib.h": """
        #ifndef ZLIB_H
        #define ZLIB_H
        #include "zconf.h"
        #ifdef __cplusplus
        extern "C" {
        #endif
        #define COLORS(X, SEP) X(RED, 1) SEP X(GREEN, 2)
        #define ENUM_ITEM(name, v) COLOR_##name = v
        #define COMMA ,
        typedef enum {
          COLORS(ENUM_ITEM, COMMA)
        } color_t;
        ZEXTERN int ZEXPORT zadd OF((int a, int b));
        ZEXTERN color_t ZEXPORT pick OF((int v));
        #ifdef __cplusplus
        }
        #endif
        #endif
    """,
    "zadd.c": """
        #include "zlib.h"
        #define local static
        #define KB *(1 << 10)

        local int twice OF((int v));

        /* adds, K&R style */
        int ZEXPORT zadd(a, b)
            int a;
            int b;
        {
            return a + twice(b) + 64 KB;
        }

        local int twice(v)
            int v;
        {
            return 2 * v;
        }

        color_t ZEXPORT pick(int v)
        {
            return v ? COLOR_RED : COLOR_GREEN;
        }
    """,
}


@pytest.fixture()
def ztree(tmp_path: Path) -> Path:
    root = tmp_path / "z"
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def test_decoration_macros_kr_and_static_through_macro(ztree):
    records, stats = extract_c_repo(ztree, "z", ALL_OFF)
    recs = {r.name: r for r in records}
    assert set(recs) == {"zadd", "twice", "pick"}
    assert recs["zadd"].code.startswith("int ZEXPORT zadd(a, b)")
    assert recs["zadd"].callees == ("z/zadd.c::twice",)
    assert recs["twice"].extra["is_static"] is True  # `local` is `#define local static`
    assert recs["zadd"].extra["is_static"] is False
    assert stats["skipped"]["kr_definitions"] == 2


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_real_world_shapes_compile(ztree):
    records, _ = extract_c_repo(ztree, "z", ALL_OFF)
    for r in records:
        ok, err = check_compiles(r.context)
        assert ok, (r.id, err, r.context)
    pick = next(r for r in records if r.name == "pick")
    assert "typedef enum" in pick.context and "#define COLORS" in pick.context  # X-macro enum recovered


def test_huge_files_are_skipped_and_counted(ztree):
    (ztree / "generated_tables.c").write_text("int t[] = {\n" + "1,\n" * 20_000 + "};\n")  # ~60 kB
    small = CExtractOptions(filters=ALL_OFF.filters, max_file_bytes=50_000)
    records, stats = extract_c_repo(ztree, "z", small)
    assert stats["skipped"]["too_large"] == 1 and len(records) == 3
    records, stats = extract_c_repo(ztree, "z", ALL_OFF)  # default limit: 1 MB
    assert "too_large" not in stats["skipped"] and len(records) == 3
