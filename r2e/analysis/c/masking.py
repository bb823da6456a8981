"""Decoration macros: hide `ZEXPORT`, `local`, `OF((args))` ... from the parser, keep byte offsets.

Real C declares functions through macros the grammar cannot know: `int ZEXPORT deflate OF((...))`,
`local int f()` with `#define local static`, `MEM_STATIC`, `XXH_PUBLIC_API`. Before parsing, the
names of object-like macros whose every definition is empty / storage-class and qualifier keywords
/ `__attribute__((..))` / `__declspec(..)` / a bare identifier are overwritten with spaces (or with
their keyword body when it fits), and identity macros like `#define OF(args) args` lose their name
and outer parentheses. Offsets are unchanged, so unit text is cut from the original bytes; each
masked occurrence is reported so the unit using it still references (and slices) the macro.
"""

from __future__ import annotations

import re

DEFINE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\([^)\n]*\))?((?:[^\n]*\\\r?\n)*[^\n]*)", re.M)
ATTR = re.compile(rb"\[\[[^\]]*\]\]|(?:__(?:attribute|declspec)(?:__)?|_Pragma|__pragma)\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")
KEYWORDS = {b"static", b"extern", b"inline", b"__inline", b"__inline__", b"const", b"volatile",
            b"register", b"__forceinline", b"_Noreturn", b"__extension__"}
POSTFIX_OP = re.compile(rb"^\(?\s*[*/%]\s*\(?\s*[\w(]")
C_WORDS = {b"const", b"signed", b"volatile", b"void", b"char", b"short", b"int", b"long", b"float",
           b"double", b"unsigned", b"static", b"extern", b"inline", b"register", b"auto", b"restrict"}
WORD = re.compile(rb"[A-Za-z_]\w*")
DEFINE_START = re.compile(rb"[ \t]*#[ \t]*define\b")
FCALL = re.compile(rb"\b([A-Za-z_]\w*)\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")
COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)
# `extern "C" {` and its lone `}` inside `#ifdef __cplusplus` make tree-sitter nest the whole header
EXTERN_C = re.compile(rb'extern\s*"C"\s*\{')
CPLUSPLUS_CLOSE = re.compile(rb"(#[ \t]*if[^\n]*__cplusplus[^\n]*\n[ \t]*)(\}[^\n]*)")


class MacroTable:
    def __init__(self) -> None:
        self.bodies: dict[bytes, list[bytes]] = {}  # object-like macros
        self.functions: dict[bytes, list[tuple[list[bytes], bytes]]] = {}  # function-like: (params, body)
        self.identity: set[bytes] = set()

    def scan(self, data: bytes) -> None:
        for m in DEFINE.finditer(data):
            body = COMMENT.sub(b" ", re.sub(rb"\\\r?\n", b" ", m.group(3))).strip()
            name, params = m.group(1), m.group(2)
            if params is None:
                self.bodies.setdefault(name, []).append(body)
            else:
                ps = [p.strip() for p in params[1:-1].split(b",")]
                self.functions.setdefault(name, []).append((ps, body))
                if len(ps) == 1 and ps[0] and body in (ps[0], b"(" + ps[0] + b")"):
                    self.identity.add(name)

    def function_decorations(self) -> set[bytes]:
        """Function-like macros that only ever expand to attributes or nothing (`ZSTD_DEPRECATED(msg)`,
        `TARGET_ATTRIBUTE(t)`): the whole invocation is hidden from the parser."""
        out = set()
        for name, defs in self.functions.items():
            if len(name) < 3 or name in self.identity:
                continue
            if all(not [w for w in ATTR.sub(b" ", body).split() if w not in KEYWORDS] for _, body in defs):
                out.add(name)
        return out

    def decorations(self) -> dict[bytes, bytes]:
        """name -> replacement (keywords that fit in the name's width, else spaces)."""
        out: dict[bytes, bytes] = {}
        fdeco = self.function_decorations()
        changed = True
        while changed:  # a macro defined as another decoration macro is one too
            changed = False
            for name, bodies in self.bodies.items():
                if name in out:
                    continue
                rep = self._decoration(name, bodies, out, fdeco)
                if rep is not None:
                    out[name] = rep
                    changed = True
        return out

    def _decoration(self, name: bytes, bodies: list[bytes], known: dict, fdeco: set[bytes]) -> bytes | None:
        # `#define BMI2_TARGET_ATTRIBUTE TARGET_ATTRIBUTE("bmi2")`: a call of a decoration is one
        bodies = [FCALL.sub(lambda m: b" " if m.group(1) in fdeco else m.group(0), b) for b in bodies]
        if bodies and all(POSTFIX_OP.match(b) for b in bodies) and name not in C_WORDS:
            return b" " * len(name)  # `#define KB *(1 << 10)` used as `64 KB`: hide it from the parser
        if len(name) < 3 or name in self.identity or name in KEYWORDS or name in C_WORDS:
            return None
        plain = False
        for body in bodies:
            rest = ATTR.sub(b" ", body).split()
            if all(w in KEYWORDS or w in known for w in rest):
                plain = True
            elif not (len(rest) == 1 and WORD.fullmatch(rest[0])):
                return None
        if not plain:
            return None
        kw = next((b for b in bodies if b and all(w in KEYWORDS for w in b.split())), b"")
        kw = b" ".join(w for w in kw.split() if w in KEYWORDS)
        return kw.ljust(len(name)) if len(kw) <= len(name) else b" " * len(name)

    def key(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for k, v in sorted(self.decorations().items()):
            h.update(k + b"=" + v + b";")
        for k in sorted(self.identity):
            h.update(k + b"();")
        for k in sorted(self.function_decorations()):
            h.update(k + b"(...);")
        return h.hexdigest()[:12]


class Masker:
    def __init__(self, table: MacroTable):
        self.repl = table.decorations()
        self.static_names = {n for n, b in table.bodies.items() if n in self.repl and any(b"static" in x.split() for x in b)}
        names = sorted(self.repl, key=len, reverse=True)
        self.deco_re = re.compile(rb"\b(" + b"|".join(map(re.escape, names)) + rb")\b") if names else None
        ids = sorted(table.identity, key=len, reverse=True)
        self.ident_re = re.compile(rb"\b(" + b"|".join(map(re.escape, ids)) + rb")\s*\(") if ids else None
        fdeco = sorted(table.function_decorations(), key=len, reverse=True)
        self.fdeco_re = re.compile(rb"\b(" + b"|".join(map(re.escape, fdeco)) + rb")\s*\(") if fdeco else None

    def mask(self, data: bytes) -> tuple[bytes, list[tuple[int, str, int]]]:
        """(bytes the parser sees, masked occurrences as (start, macro name, end))."""
        buf = bytearray(data)
        pre = _preprocessor_spans(data)
        for a, b in pre:  # a comment inside a #define ends tree-sitter's macro body early
            if b"/*" in data[a:b] and DEFINE_START.match(data, a):
                for m in COMMENT.finditer(data, a, b):
                    if not data[m.end():b].strip():  # a trailing comment is harmless; blanks are not
                        continue
                    for j in range(m.start(), min(m.end(), b)):
                        if buf[j] not in (10, 92):
                            buf[j] = 32
        if b"__cplusplus" in data:
            for m in EXTERN_C.finditer(data):
                buf[m.start():m.end()] = b" " * (m.end() - m.start())
            for m in CPLUSPLUS_CLOSE.finditer(data):
                if not m.group(2).split(b"//")[0].split(b"/*")[0].strip(b"} \t\r"):
                    buf[m.start(2):m.start(2) + 1] = b" "
        for m in ATTR.finditer(data):  # `typedef __attribute__((aligned(1))) U16 u16;` defeats the parser
            if not _inside(pre, m.start()):
                for j in range(m.start(), m.end()):
                    if buf[j] != 10:
                        buf[j] = 32
        if self.deco_re is None and self.ident_re is None and self.fdeco_re is None:
            return bytes(buf), []
        occ: list[tuple[int, str]] = []
        if self.deco_re is not None:
            for m in self.deco_re.finditer(data):
                if _inside(pre, m.start()):
                    continue
                buf[m.start():m.end()] = self.repl[m.group(1)]
                occ.append((m.start(), m.group(1).decode(), m.end()))
        if self.fdeco_re is not None:  # `ZSTD_DEPRECATED("...")`: the whole invocation goes
            for m in self.fdeco_re.finditer(data):
                close = None if _inside(pre, m.start()) else _match_paren(data, m.end() - 1)
                if close is None:
                    continue
                for j in range(m.start(), close + 1):
                    if buf[j] != 10:
                        buf[j] = 32
                occ.append((m.start(), m.group(1).decode(), close + 1))
        if self.ident_re is not None:
            for m in self.ident_re.finditer(data):
                if _inside(pre, m.start()):
                    continue
                close = _match_paren(data, m.end() - 1)
                if close is None:
                    continue
                buf[m.start():m.end()] = b" " * (m.end() - m.start())
                buf[close] = ord(" ")
                occ.append((m.start(), m.group(1).decode(), m.end()))
        return bytes(buf), occ


def _preprocessor_spans(data: bytes) -> list[tuple[int, int]]:
    spans = []
    for m in re.finditer(rb"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", data, re.M):
        spans.append((m.start(), m.end()))
    return spans


def _inside(spans, pos: int) -> bool:
    from bisect import bisect_right

    i = bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _match_paren(data: bytes, i: int) -> int | None:
    depth = 0
    for j in range(i, min(len(data), i + 20000)):
        c = data[j]
        if c == 40:
            depth += 1
        elif c == 41:
            depth -= 1
            if depth == 0:
                return j
    return None
