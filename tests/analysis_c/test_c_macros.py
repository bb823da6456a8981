"""Macro-generated C: definitions made by macro invocations, X-macro enums, attribute macros.

The shapes come from real libraries (brotli's BROTLI_MIN_MAX, zstd's cpuid X(name, r, bit) table,
lz4frame's error-code X-macro, zstd's BMI2_TARGET_ATTRIBUTE / ZSTD_DEPRECATED); every slice is
compiled with the machine's `cc`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from r2e.analysis.c.ccheck import check_compiles
from r2e.analysis.c.expand import Expander
from r2e.analysis.c.extract import C_FILTERS, CExtractOptions, extract_c_repo, index_c_repo
from r2e.analysis.c.masking import MacroTable, Masker
from r2e.analysis.filters import FilterOptions

ALL_OFF = CExtractOptions(filters=FilterOptions(disabled=frozenset(C_FILTERS)))

PLATFORM_H = """
    #ifndef PLATFORM_H
    #define PLATFORM_H
    #include <stddef.h>
    #include <stdint.h>
    #if defined(__GNUC__)
    #  define TARGET_ATTRIBUTE(t) __attribute__((__target__(t)))
    #else
    #  define TARGET_ATTRIBUTE(t)
    #endif
    #define BMI2_TARGET_ATTRIBUTE TARGET_ATTRIBUTE("lzcnt,bmi,bmi2")
    #define LIB_DEPRECATED(msg) __attribute__((deprecated(msg)))
    #define MIN_MAX(T)                                                  \\
      static inline T lib_min_ ## T (T a, T b) { return a < b ? a : b; } \\
      static inline T lib_max_ ## T (T a, T b) { return a > b ? a : b; }
    MIN_MAX(double) MIN_MAX(int)
    MIN_MAX(size_t)
    #undef MIN_MAX

    #define LIST_ERRORS(ITEM) \\
        ITEM(OK_NoError) ITEM(ERROR_GENERIC) ITEM(ERROR_maxCode)
    #define GENERATE_ENUM(ENUM) LIB_##ENUM,
    typedef enum { LIST_ERRORS(GENERATE_ENUM) _lib_dummy } lib_error_t;

    typedef struct { unsigned f1c; } cpuid_t;
    #define X(name, r, bit)                                   \\
      static inline int cpuid_##name(cpuid_t const cpuid) {   \\
        return ((cpuid.r) & (1U << bit)) != 0;                \\
      }
    #define C(name, bit) X(name, f1c, bit)
      C(sse3, 0)
      C(ssse3, 9)
    #undef C
    #undef X
    #endif
"""

CODE_C = """
    #include "platform.h"

    /* clamp n to the buffer */
    size_t clamp(size_t n, size_t cap) { return lib_min_size_t(n, cap); }

    int has_sse(cpuid_t c) { return cpuid_sse3(c) && cpuid_ssse3(c); }

    int is_error(unsigned code) { return code > (unsigned)LIB_ERROR_maxCode; }

    BMI2_TARGET_ATTRIBUTE static int fast_path(int x) { return x * 2; }

    int use_fast(int x) { return fast_path(x) + lib_max_int(x, 0); }

    LIB_DEPRECATED("use clamp")
    size_t old_clamp(size_t n);

    size_t old_clamp(size_t n) { return clamp(n, 16); }

    #ifdef LIB_DEBUG
    struct trace { int depth; };
    int trace_depth(struct trace *t) { return t->depth; }
    #endif
"""


@pytest.fixture()
def macro_tree(tmp_path: Path) -> Path:
    root = tmp_path / "macrolib"
    root.mkdir()
    (root / "platform.h").write_text(textwrap.dedent(PLATFORM_H).lstrip(), encoding="utf-8")
    (root / "code.c").write_text(textwrap.dedent(CODE_C).lstrip(), encoding="utf-8")
    return root


def test_expander_follows_the_standard_rules():
    e = Expander({"X": (["name", "r", "bit"], "static int f_##name(int v) { return (v.r << bit) != 0; }"),
                  "C": (["name", "bit"], "X(name, f1c, bit)"),
                  "L": (["ITEM"], "ITEM(A) ITEM(B)"), "G": (["E"], "P_##E,"),
                  "S": (["x"], "#x"), "V": (["f", "..."], "f(__VA_ARGS__)"), "R": (["x"], "R(x) + 1")},
                 {"STATIC": "static inline"})
    assert e.expand("C(sse3, 0)") == "static int f_sse3 ( int v ) { return ( v . f1c << 0 ) != 0 ; }"
    assert e.expand("enum { L(G) }") == "enum { P_A , P_B , }"
    assert e.expand('S(a "b")') == '"a \\"b\\""'
    assert e.expand("V(g, 1, 2)") == "g ( 1 , 2 )"
    assert e.expand("R(3)") == "R ( 3 ) + 1"  # a macro is not re-expanded inside itself
    assert e.expand("STATIC int x;") == "static inline int x ;" and e.used == {"STATIC"}


def test_top_level_invocations_are_found_and_blanked(macro_tree):
    table = MacroTable()
    for f in macro_tree.iterdir():
        table.scan(f.read_bytes())
    data = (macro_tree / "platform.h").read_bytes()
    masked = Masker(table).mask(data)
    parsed, calls = masked.parsed, masked.calls
    names = [name for _, _, name in calls]
    assert names == ["MIN_MAX", "MIN_MAX", "MIN_MAX", "C", "C"]
    for start, end, _ in calls:  # hidden from the parser, offsets unchanged
        assert len(parsed) == len(data) and not parsed[start:end].strip()
    assert "TARGET_ATTRIBUTE" in {n.decode() for n in table.function_decorations()}
    assert "LIB_DEPRECATED" in {n.decode() for n in table.function_decorations()}


def test_generated_definitions_are_indexed(macro_tree):
    repo, skipped, _ = index_c_repo(macro_tree)
    units = repo.files["platform.h"].units
    expansions = {u.text.strip(): u for u in units if u.kind == "expansion"}
    assert set(expansions["MIN_MAX(size_t)"].defines) == {"lib_min_size_t", "lib_max_size_t"}
    assert set(expansions["C(sse3, 0)"].defines) == {"cpuid_sse3"}
    enum = next(u for u in units if u.kind == "typedef" and u.name == "lib_error_t")
    assert {"LIB_OK_NoError", "LIB_ERROR_GENERIC", "LIB_ERROR_maxCode"} <= set(enum.defines)
    assert skipped["macro_expansions"] == 5
    # the attribute-decorated definition and the deprecated prototype are found
    code = {(u.kind, u.name) for u in repo.files["code.c"].units}
    assert ("function", "fast_path") in code and ("prototype", "old_clamp") in code


def test_slices_of_functions_using_generated_code_compile(macro_tree):
    records, stats = extract_c_repo(macro_tree, "macrolib", ALL_OFF)
    recs = {r.name: r for r in records}
    assert {"clamp", "has_sse", "is_error", "fast_path", "use_fast", "old_clamp", "trace_depth"} <= set(recs)
    for name in ("clamp", "has_sse", "is_error", "fast_path", "use_fast", "old_clamp", "trace_depth"):
        ok, err = check_compiles(recs[name].context)
        assert ok, f"{name}: {err}\n{recs[name]['context']}"
    assert "MIN_MAX(size_t)" in recs["clamp"].context
    assert "MIN_MAX(double)" not in recs["clamp"].context  # only the invocation that is needed
    assert "#define LIB_DEBUG 1" in recs["trace_depth"].context


TEMPLATE_FILES = {
    "counter_inc.h": """
        /* template parameters: NAME(), STEP */
        #define FN(X) CAT(X, NAME())
        typedef struct NAME() { int n; } NAME();
        static int FN(Next)(NAME()* c) { c->n += STEP; return c->n; }
        #undef FN
    """,
    "counters.h": """
        #ifndef COUNTERS_H
        #define COUNTERS_H
        #define CAT_(a, b) a ## b
        #define CAT(a, b) CAT_(a, b)
        #define NAME() CounterOne
        #define STEP 1
        #include "counter_inc.h"
        #undef NAME
        #undef STEP

        #define NAME() CounterTen
        #define STEP 10
        #include "counter_inc.h"
        #undef NAME
        #undef STEP
        #endif
    """,
    "use.c": """
        #include "counters.h"

        /* ten steps of one, then one of ten */
        int both(CounterOne* a, CounterTen* b) {
            int i;
            for (i = 0; i < 10; i++) NextCounterOne(a);
            return NextCounterTen(b) - a->n;
        }

        static int setup(void) {
        #define START 5
            return START;
        }

        int later(void) { return START + setup(); }
    """,
}


def test_template_headers_are_instantiated_per_inclusion(tmp_path):
    root = tmp_path / "tpl"
    root.mkdir()
    for name, text in TEMPLATE_FILES.items():
        (root / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    repo, skipped, _ = index_c_repo(root)
    assert skipped["template_instances"] == 2 and skipped["template_files"] == 1
    instances = [u for u in repo.files["counters.h"].units if u.kind == "expansion"]
    assert [set(u.defines) for u in instances] == [{"CounterOne", "struct:CounterOne", "NextCounterOne"},
                                                  {"CounterTen", "struct:CounterTen", "NextCounterTen"}]
    records, _ = extract_c_repo(root, "tpl", ALL_OFF)
    recs = {r.name: r for r in records}
    assert "FN" not in recs  # the template's body is no function until instantiated
    for name in ("both", "later"):
        ok, err = check_compiles(recs[name].context)
        assert ok, f"{name}: {err}\n{recs[name]['context']}"
    # the slice of `both` carries both instantiations, each with its own macros
    ctx = recs["both"].context
    assert "#define STEP 1" in ctx and "#define STEP 10" in ctx
    assert "#define START 5" in recs["later"].context  # a #define inside another function's body


SPLIT_SOURCE = """
    #include <stddef.h>
    #define FAST_LOOP 1
    typedef struct { int size; } table_t;

    #if !defined(EXTERNAL_TABLE)
    static const table_t kTable = {
    #else
    static table_t kTable = {
    #endif
      42
    };

    static int step(int v) { return v + 1; }
    static int slow_step(int v) { return v + 2; }

    /* a loop whose fast path ends in a label just before #endif */
    int decode(const int *src, size_t n) {
        int acc = 0;
        size_t i = 0;
    #if FAST_LOOP
        for (; i + 1 < n; i++) acc = step(acc + src[i]);
    safe_decode:
    #endif
        for (; i < n; i++) acc = slow_step(acc + src[i]);
        return acc + kTable.size;
    }
"""


def test_if_branches_that_split_statements_still_parse(tmp_path):
    root = tmp_path / "split"
    root.mkdir()
    (root / "split.c").write_text(textwrap.dedent(SPLIT_SOURCE).lstrip(), encoding="utf-8")
    records, stats = extract_c_repo(root, "split", ALL_OFF)
    recs = {r.name: r for r in records}
    assert "decode" in recs, stats
    ctx = recs["decode"].context
    ok, err = check_compiles(ctx)
    assert ok, f"{err}\n{ctx}"
    # the table split across #if branches is found and sliced; both helpers are declared
    assert "kTable" in ctx and "step(int v)" in ctx and "slow_step(int v)" in ctx
