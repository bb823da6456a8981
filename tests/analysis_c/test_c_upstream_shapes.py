"""Shapes of current upstream C trees: a C++ header next to C code, macros in specifier position
with a vendored header's `#if` plumbing, and a callee two headers declare differently."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from r2e.analysis.c.ccheck import check_compiles
from r2e.analysis.c.cxx import cplusplus_reason
from r2e.analysis.c.extract import C_FILTERS, CExtractOptions, extract_c_repo, index_c_repo
from r2e.analysis.filters import FilterOptions

ALL_OFF = CExtractOptions(filters=FilterOptions(disabled=frozenset(C_FILTERS)))
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def slices(root: Path) -> tuple[dict, dict]:
    records, stats = extract_c_repo(root, "r", ALL_OFF)
    return {r.id.split("/", 1)[1]: r for r in records}, stats


def assert_compiles(rec) -> None:
    ok, err = check_compiles(rec.context)
    assert ok, f"{rec.id}: {err}\n{rec.context}"


# ------------------------------------------------------------------ C++ headers
CXX_TREE = {
    # zlib's contrib/iostream: a C++ header with a `.h` name, whose `read`/`open` methods must not
    # become the C repository's `read` and `open`
    "contrib/iostream/zstream.h": """
        #include <strstream.h>
        #include "../../zlib.h"
        class zstream {
          public:
            int read(void* buf, size_t len) { return 0; }
            void open(const char* name) { }
        };
        inline int zs_helper(zstream& z) { return z.read(0, 0); }
    """,
    "zlib.h": """
        #ifndef ZLIB_H
        #define ZLIB_H
        #include <stddef.h>
        #ifdef __cplusplus
        extern "C" {
        #endif
        typedef struct gz_state { int fd; unsigned char buf[64]; } gz_state;
        int gz_open(gz_state *s, const char *path);
        int gz_fill(gz_state *s);
        #ifdef __cplusplus
        }
        class NotC;  /* a C header's C++ wrapper: it stays a C header */
        #endif
        #endif
    """,
    "gzlib.c": """
        #include <fcntl.h>
        #include <unistd.h>
        #include "zlib.h"

        int gz_open(gz_state *s, const char *path) {
            s->fd = open(path, O_RDONLY);
            return s->fd < 0 ? -1 : 0;
        }

        int gz_fill(gz_state *s) {
            return (int)read(s->fd, s->buf, sizeof s->buf);
        }
    """,
}


def test_cplusplus_signs_are_found_outside_comments_strings_and_cplusplus_blocks():
    assert cplusplus_reason(b"#include <strstream.h>\nint x;\n") == "header:strstream.h"
    assert cplusplus_reason(b"#include <cstdio>\n") == "header:cstdio"
    assert cplusplus_reason(b"class gzfilebuf : public streambuf {\n};\n") == "class"
    assert cplusplus_reason(b"template <typename T> T id(T x) { return x; }\n") == "template"
    assert cplusplus_reason(b"namespace z {\nint f();\n}\n") == "namespace"
    assert cplusplus_reason(b'extern "C++" {\nint f();\n}\n') == "extern_cxx"
    # C: the words in comments and strings, the C++ wrapper of a C header, `class` as a C name
    assert cplusplus_reason(b'/* class A { */ const char *s = "template <class T>"; int class_id;\n') == ""
    assert cplusplus_reason(b'#ifdef __cplusplus\nextern "C" {\nclass A;\n#endif\nint f(void);\n'
                            b'#ifdef __cplusplus\n}\n#endif\n') == ""
    assert cplusplus_reason(b"#ifndef __cplusplus\nint f(void);\n#else\nnamespace a { }\n#endif\n") == ""
    assert cplusplus_reason(b"#if defined(__cplusplus)\ntemplate <class T> struct X;\n#endif\n") == ""


@needs_cc
def test_cplusplus_header_is_kept_out_of_the_c_index_and_counted(tmp_path):
    root = write_tree(tmp_path / "zlib", CXX_TREE)
    repo, skipped, _ = index_c_repo(root)
    assert repo.files["contrib/iostream/zstream.h"].units == []
    assert skipped["cplusplus_files"] == 1
    assert not any(u.path.startswith("contrib/") for u in repo.units.values())
    recs, stats = slices(root)
    assert stats["skipped"]["cplusplus_files"] == 1
    assert set(recs) == {"gzlib.c::gz_open", "gzlib.c::gz_fill"}  # no zs_helper
    for rec in recs.values():
        assert "strstream" not in rec.context and "class" not in rec.context
        assert_compiles(rec)


# ------------------------------------------------------------------ macros in specifier position
MACRO_TREE = {
    # the shape of a newly vendored single-header library (hiredis' ffc.h): the implementation
    # under `#ifdef FFC_IMPL`, `__has_include(<..>)` and null directives tree-sitter trips on,
    # `ffc_internal` / `ffc_inline` as storage class and qualifier, a comment in the signature
    "ffc.h": """
        #ifndef FFC_H
        #define FFC_H
        #include <stddef.h>
        #define FFC_API(ret) extern ret
        FFC_API(double) ffc_parse(const char *s, size_t n);
        #ifdef FFC_IMPL
        #include <stdint.h>
        #include <stdbool.h>
        #ifndef ffc_internal
        #define ffc_internal static
        #endif
        #if defined(_MSC_VER)
          #define ffc_inline __forceinline
        #elif defined(__GNUC__) || defined(__clang__)
          #define ffc_inline __attribute__((always_inline)) inline
        #else
          #define ffc_inline inline
        #endif
        #if defined __BYTE_ORDER__
        #define FFC_BIG (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
        #else
        #ifdef __has_include
        #if __has_include(<endian.h>)
        #include <endian.h>
        #endif
        #endif
        #define FFC_BIG 0
        #endif
        #
        #define ffc_const(kind, name) (kind ? FFC_DOUBLE_##name : FFC_FLOAT_##name)
        #define FFC_DOUBLE_BITS 52
        #define FFC_FLOAT_BITS 23

        ffc_internal ffc_inline // packs the digits
        uint64_t ffc_digits(const char *s, size_t n, bool *ok) {
          uint64_t v = 0;
          size_t i;
          for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) v = v * 10 + (uint64_t)(s[i] - '0');
          *ok = i == n;
          return FFC_BIG ? v : v + 0 * ffc_const(1, BITS);
        }

        FFC_API(double) ffc_parse(const char *s, size_t n) {
          bool ok;
          uint64_t v = ffc_digits(s, n, &ok);
          return ok ? (double)v : -1.0;
        }
        #endif
        #endif
    """,
    "read.c": """
        #define FFC_IMPL
        #include "ffc.h"

        double read_number(const char *s, size_t n) {
            return ffc_parse(s, n);
        }
    """,
    # a private header relying on its includer for <stddef.h>, <stdbool.h> and <stdint.h>
    "private.h": """
        static inline bool fits(size_t n, uint8_t limit) { return n <= limit; }
    """,
    "user.c": """
        #include <stddef.h>
        #include <stdbool.h>
        #include <stdint.h>
        #include "private.h"
        int small(size_t n) { return fits(n, 16) ? 1 : 0; }
    """,
}


@needs_cc
def test_macros_in_specifier_position_and_standard_types_reach_the_slice(tmp_path):
    root = write_tree(tmp_path / "ffc", MACRO_TREE)
    repo, _, _ = index_c_repo(root)
    assert repo.units["ffc.h::ffc_digits"].conds == ("defined(FFC_IMPL)",)  # the #if nesting survived
    proto = repo.units["ffc.h::ffc_digits#proto"]
    assert "//" not in proto.text and proto.text.endswith("bool *ok);")
    recs, _ = slices(root)
    for uid in ("ffc.h::ffc_digits", "ffc.h::ffc_parse", "read.c::read_number", "private.h::fits", "user.c::small"):
        assert_compiles(recs[uid])
    digits = recs["ffc.h::ffc_digits"].context
    assert "#define ffc_internal static" in digits and "#define FFC_DOUBLE_BITS" in digits
    assert "#define FFC_FLOAT_BITS" in digits  # both names the pasting macro may build
    fits = recs["private.h::fits"].context
    for header in ("stdbool.h", "stddef.h", "stdint.h"):
        assert f"#include <{header}>" in fits


# ------------------------------------------------------------------ two headers, one name
RESOLVE_TREE = {
    "src/io.h": """
        #ifndef IO_H
        #define IO_H
        #include <stddef.h>
        struct buf { int fd; const char *data; size_t len; };
        int flush_buf(struct buf *b);
        int helper(int x);
        #endif
    """,
    "src/io.c": """
        #include <unistd.h>
        #include "io.h"
        int flush_buf(struct buf *b) {
            return (int)write(b->fd, b->data, b->len) + helper(1);
        }
        int helper(int x) { return x + 1; }
    """,
    # an unrelated header (never included by io.c) declaring `write` and `helper` differently,
    # and a file defining them
    "contrib/stream/stream.h": """
        #ifndef STREAM_H
        #define STREAM_H
        int write(const char *s);
        int helper(const char *s);
        #endif
    """,
    "contrib/stream/stream.c": """
        #include "stream.h"
        int write(const char *s) { return s != 0; }
        int helper(const char *s) { return s == 0; }
    """,
}


@needs_cc
def test_callee_resolves_through_what_the_translation_unit_sees(tmp_path):
    root = write_tree(tmp_path / "io", RESOLVE_TREE)
    repo, _, _ = index_c_repo(root)
    assert repo.system_declares("write", "src/io.c")  # from <unistd.h>, as the compiler sees it
    assert repo.lookup("write", "src/io.c") == []
    assert repo.function_of("write", "src/io.c") is None
    assert [u.path for u in repo.lookup("helper", "src/io.c")] == ["src/io.h"]
    recs, stats = slices(root)
    flush = recs["src/io.c::flush_buf"]
    assert "const char *s" not in flush.context  # neither stream.h's write nor its helper
    assert "contrib/stream" not in "".join(flush.context_files)
    assert_compiles(flush)
    assert stats["skipped"].get("names_left_to_system_headers", 0) >= 1


# ------------------------------------------------------------------ include conditions, tags, cycles
SHAPES_TREE = {
    # minizip: a Windows-only header included under `#ifdef _WIN32` includes <windows.h> itself
    "iowin.h": """
        #include <windows.h>
        void fill_win32_api(void *p);
    """,
    # lz4: `#ifndef LZ4_SRC_INCLUDED` + `#include "core.c"`, which defines that guard itself
    "core.c": """
        #ifndef CORE_SRC_INCLUDED
        #define CORE_SRC_INCLUDED 1
        #include <string.h>
        static void core_clear(void *p, size_t n) { memset(p, 0, n); }
        #endif
    """,
    "util.h": """
        #include <sys/stat.h>
        #define UTIL_TYPE_stat stat
        typedef struct node node;
        struct node { node *next; struct UTIL_TYPE_stat st; };
    """,
    # lz4hc: `#define ip (*_ip)` in one body, `#undef ip` after it; `ip` is a parameter elsewhere
    "seq.c": """
        static int encode(const char **_ip) {
        #define ip (*_ip)
            return *ip++ == 'a';
        }
        #undef ip
        static int find(const char *ip, int n);
        int scan(const char *s) { return find(s, 1) + encode(&s); }
        static int find(const char *ip, int n) { return ip[n] == 'b'; }
    """,
    "app.c": """
        #include <stdio.h>
        #ifdef _WIN32
        #include "iowin.h"
        #endif
        #ifndef CORE_SRC_INCLUDED
        #include "core.c"
        #endif
        #include "util.h"

        long file_size(const char *name) {
            struct UTIL_TYPE_stat st;
            node n;
            if (stat(name, &st) != 0) return -1;
            n.next = 0;
            core_clear(&n, sizeof n);
            return (long)st.st_size;
        }
    """,
}


@needs_cc
def test_includes_keep_their_conditions_tags_through_macros_and_typedef_cycles(tmp_path):
    root = write_tree(tmp_path / "shapes", SHAPES_TREE)
    recs, _ = slices(root)
    rec = recs["app.c::file_size"]
    assert_compiles(rec)
    text = rec.context
    # <windows.h> comes only under the condition its header was included under
    assert "#if defined(_WIN32)\n#include <windows.h>" in text
    assert "#define UTIL_TYPE_stat stat" in text
    assert text.index("typedef struct node node;") < text.index("struct node {")
    scan = recs["seq.c::scan"]
    assert_compiles(scan)
    assert scan.context.count("#define ip") == 1  # only inside encode's body, where the source has it
