"""Is a `.h` / `.c` file really C++? Such files are kept out of the C index (and its macro table).

A C++ header next to C code (`contrib/iostream/zfstream.h`: `#include <strstream.h>`, classes
with inline methods) read as C gives the repository a `read(void*, size_t)` or an `open` that
C slices then pick up. The signs looked for, outside comments, strings and `#ifdef __cplusplus`
blocks (where C headers legitimately keep their C++ wrappers): a class definition or forward
declaration, a template, a namespace, `using namespace`, `extern "C++"`, an include of a
C++-only standard header (`<iostream>`, `<strstream.h>`, `<cstdio>` ...), or an access label.
`cplusplus_reason(data)` names the first sign found, or returns "".
"""

from __future__ import annotations

import re

_STRIP = re.compile(rb'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
# headers only C++ has: the extension-less standard library, the pre-standard `.h` iostreams,
# and the C headers' C++ spellings (`<cstdio>`)
_CXX_HEADERS = frozenset("""
algorithm any array atomic bitset chrono codecvt complex condition_variable deque exception execution
filesystem forward_list fstream functional future initializer_list iomanip ios iosfwd iostream istream
iterator limits list locale map memory memory_resource mutex new numeric optional ostream queue random
ratio regex scoped_allocator set shared_mutex span sstream stack stdexcept streambuf string string_view
strstream system_error thread tuple type_traits typeindex typeinfo unordered_map unordered_set utility
valarray variant vector
iostream.h fstream.h strstream.h iomanip.h stream.h streambuf.h ostream.h istream.h strstrea.h
""".split()) | frozenset(f"c{h}" for h in """assert ctype errno float limits locale math setjmp signal stdarg
stddef stdio stdlib string time wchar wctype stdint inttypes cstdbool""".split())
_INCLUDE = re.compile(rb"^[ \t]*#[ \t]*include[ \t]*<([^>\n]+)>", re.M)
_SIGNS = (
    ("class", re.compile(rb"(?m)^[ \t]*(?:template[ \t]*<[^>]*>[ \t]*)?class[ \t]+[A-Za-z_]\w*[ \t\r\n]*"
                         rb"(?:;|\{|:[ \t\r\n]*(?:public|private|protected|virtual)\b)")),
    ("template", re.compile(rb"\btemplate[ \t\r\n]*<[ \t\r\n]*(?:class|typename|>|[A-Za-z_]\w*[ \t]+[A-Za-z_])")),
    ("namespace", re.compile(rb"(?m)^[ \t]*(?:namespace[ \t]+[A-Za-z_][\w:]*[ \t\r\n]*\{|using[ \t]+namespace\b)")),
    ("extern_cxx", re.compile(rb'extern[ \t]*"C\+\+"')),
    ("access_label", re.compile(rb"(?m)^[ \t]*(?:public|private|protected)[ \t]*:(?!:)")),
)
_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b([^\n]*)", re.M)
_CXX_COND = re.compile(rb"\s*(?:defined\s*\(?\s*__cplusplus\s*\)?|__cplusplus(?:\s*>=?\s*\w+L?)?)\s*")


def cplusplus_reason(data: bytes) -> str:
    """The first sign that `data` is C++ ("class", "template", "namespace", "extern_cxx",
    "access_label", "header:<name>"), or "" for C."""
    if not any(k in data for k in (b"class", b"template", b"namespace", b"C++", b"public", b"private",
                                   b"protected", b"#include")):
        return ""
    text = _without_cplusplus_blocks(_strip(data))
    for m in _INCLUDE.finditer(text):
        name = m.group(1).strip().decode("utf-8", "replace")
        if name in _CXX_HEADERS:
            return f"header:{name}"
    for reason, rx in _SIGNS:
        if rx.search(text):
            return reason
    return ""


def _strip(data: bytes) -> bytes:
    """Comments and string/char literals blanked (newlines kept), so only code is searched."""
    def blank(m: re.Match) -> bytes:
        s = m.group()
        if s.startswith(b'"') and b"C++" in s:  # `extern "C++"` is a sign: keep that literal
            return s
        return re.sub(rb"[^\n]", b" ", s)
    # a `#include <...>` line has no strings to blank; literals elsewhere may hold anything
    return _STRIP.sub(blank, data)


def _without_cplusplus_blocks(text: bytes) -> bytes:
    """Drop the branches only a C++ compiler reads: the first branch of `#ifdef __cplusplus` /
    `#if defined(__cplusplus)` groups (C headers' C++ wrappers), the `#else` of `#ifndef __cplusplus`."""
    out: list[bytes] = []
    pos = 0
    # per open group: (is the group a __cplusplus test, is it negated, is the current branch C++-only)
    stack: list[list[bool]] = []
    for m in _DIRECTIVE.finditer(text):
        word, rest = m.group(1), m.group(2)
        if not any(g[2] for g in stack):
            out.append(text[pos:m.start()])
        if word in (b"if", b"ifdef", b"ifndef"):
            cond = rest.split(b"//")[0]
            negated = word == b"ifndef" or cond.lstrip().startswith(b"!")
            cxx = bool(_CXX_COND.fullmatch(cond.lstrip().lstrip(b"!") if word == b"if" else cond))
            stack.append([cxx, negated, cxx and not negated])
        elif word in (b"elif", b"else") and stack:
            g = stack[-1]
            g[2] = g[0] and g[1] and word == b"else"
        elif word == b"endif" and stack:
            stack.pop()
        pos = m.end()
    if not any(g[2] for g in stack):
        out.append(text[pos:])
    return b"".join(out)
